"""Writes of different end-users do not wait for each other's embeddings.

On SQLite one writer holds the database at a time, so an add works out its extraction and
embeddings before its transaction (``MemoryService.prepare_add``), and an edit or a correction
its new text's embedding (``MemoryService.prepare_text``); on PostgreSQL writers of different
owners never wait for each other. Either way, one write busy embedding must not hold up another
end-user's add. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import numpy as np
from fastapi.testclient import TestClient

from memoryos_server.engine.types import ChatMessage, Embedder
from tests.fixtures.factories import TenantHandle
from tests.fixtures.memory import make_end_user, scope_of
from tests.fixtures.passport import connected, new_agent, new_passport  # noqa: F401


class _HeldEmbedder:
    """The server's embedder, except that a batch holding ``marker`` waits until released: an
    add busy embedding a long batch."""

    def __init__(self, inner: Embedder, marker: str) -> None:
        self.inner, self.marker, self.name, self.dim = inner, marker, inner.name, inner.dim
        self.entered = threading.Event()
        self.release = threading.Event()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if any(self.marker in text for text in texts):
            self.entered.set()
            self.release.wait(30)
        return self.inner.embed(texts)


def _add(client: TestClient, tenant: TenantHandle, end_user: str, text: str, **options: Any) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": text}], **options}
    return client.post("/v1/memories/add", json=body, headers=tenant.key_headers(end_user))


def _contents(client: TestClient, tenant: TenantHandle, end_user: str) -> list[str]:
    listed = client.get("/v1/memories", headers=tenant.key_headers(end_user))
    assert listed.status_code == 200, listed.text
    return [m["content"] for m in listed.json()["data"]]


def test_an_add_still_embedding_does_not_hold_up_another_end_users_add(client: TestClient, tenant: TenantHandle) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    working = runtime.embedder
    marker = f"gate-{secrets.token_hex(4)}"
    held = _HeldEmbedder(working, marker)
    slow: dict[str, httpx.Response] = {}
    runtime.use_embedder(held)
    try:
        thread = threading.Thread(
            target=lambda: slow.setdefault("answer", _add(client, tenant, "alice", f"The north {marker} code is 4471", infer=False))
        )
        thread.start()
        assert held.entered.wait(30), "the first add never reached its embeddings"
        quick = _add(client, tenant, "bob", "I prefer aisle seats on long flights")
        assert quick.status_code == 200, quick.text
        # Answered while the first add was still embedding: it did not wait for it.
        assert thread.is_alive() and "answer" not in slow
        assert [r["event"] for r in quick.json()["results"]] == ["ADD"]
    finally:
        held.release.set()
        thread.join(30)
        runtime.use_embedder(working)
    assert slow["answer"].status_code == 200, slow["answer"].text
    assert _contents(client, tenant, "alice") == [f"The north {marker} code is 4471"]
    assert len(_contents(client, tenant, "bob")) == 1


def _while_embedding(client: TestClient, marker: str, write: Callable[[], httpx.Response], meanwhile: Callable[[], None]) -> httpx.Response:
    """Runs ``write`` in a thread, held inside the embedder on the batch holding ``marker``;
    ``meanwhile`` runs while it is held. Returns the write's answer once released."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    working = runtime.embedder
    held = _HeldEmbedder(working, marker)
    answer: dict[str, httpx.Response] = {}
    runtime.use_embedder(held)
    try:
        thread = threading.Thread(target=lambda: answer.setdefault("answer", write()))
        thread.start()
        assert held.entered.wait(30), "the write never reached its embeddings"
        meanwhile()
        assert thread.is_alive() and "answer" not in answer  # still held: nothing waited for it
    finally:
        held.release.set()
        thread.join(30)
        runtime.use_embedder(working)
    return answer["answer"]


def test_an_edit_still_embedding_does_not_hold_up_another_end_users_add(client: TestClient, tenant: TenantHandle) -> None:
    [memory] = _add(client, tenant, "carol", "My gate code is 1100", infer=False).json()["results"]
    marker = f"gate-{secrets.token_hex(4)}"

    def edit() -> httpx.Response:
        return client.patch(f"/v1/memories/{memory['id']}", json={"content": f"My {marker} code is 2200"}, headers=tenant.key_headers("carol"))

    def another_add() -> None:
        quick = _add(client, tenant, "dave", "I prefer window seats on trains")
        assert quick.status_code == 200, quick.text

    edited = _while_embedding(client, marker, edit, another_add)
    assert edited.status_code == 200, edited.text
    assert _contents(client, tenant, "carol") == [f"My {marker} code is 2200"]
    assert len(_contents(client, tenant, "dave")) == 1


def test_a_correction_still_embedding_does_not_hold_up_another_end_users_add(client: TestClient, tenant: TenantHandle, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["fact"], "read_write")
    written = client.post(
        "/v1/universal/memories/add", json={"messages": [{"role": "user", "content": "I work as a nurse in Leeds."}]}, headers=agent.headers(uui)
    )
    memory_id = written.json()["results"][0]["id"]
    marker = f"ward-{secrets.token_hex(4)}"

    def correct() -> httpx.Response:
        body = {"corrected_content": f"I work as a nurse on the {marker} ward in York."}
        return client.post(f"/v1/uui/me/memories/{memory_id}/correct", json=body, headers=person.headers())

    def another_add() -> None:
        quick = _add(client, tenant, "erin", "I prefer aisle seats on long flights")
        assert quick.status_code == 200, quick.text

    corrected = _while_embedding(client, marker, correct, another_add)
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["data"]["content"] == f"I work as a nurse on the {marker} ward in York."


def test_a_prepared_add_serves_only_the_add_it_was_made_for(client: TestClient) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    owner = make_end_user(services)
    said = [ChatMessage("user", "My badge number is 5521")]
    prepared = services.memory.prepare_add(said, infer=False, category=None)
    if not services.runtime.db.is_sqlite:
        assert prepared is None  # PostgreSQL overlaps embedding with writing inside the add instead
        return
    assert prepared is not None and [m.content for m in prepared.extracted] == ["My badge number is 5521"]
    other = [ChatMessage("user", "My locker is number 12")]
    with services.runtime.db.session() as session:
        [wrong] = services.memory.add(session, scope_of(owner), messages=other, infer=False, prepared=prepared).results
        as_procedure = services.memory.add(
            session, scope_of(owner), messages=said, infer=False, category="procedure", prepared=prepared
        ).results
        [right] = services.memory.add(session, scope_of(owner), messages=said, infer=False, prepared=prepared).results
    # Made for another add (other messages, another category): worked out afresh.
    assert (wrong.memory, as_procedure[0].category) == ("My locker is number 12", "procedure")
    assert (right.event, right.memory, right.category) == ("ADD", "My badge number is 5521", "fact")
