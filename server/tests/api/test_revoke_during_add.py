"""Once the person has been told a grant is revoked, nothing the agent sent lands afterwards.

An agent's add may be in flight when the person revokes: its grant was read at the start, and
its extraction and embedding take a while. On PostgreSQL the add holds the grant row as read
(``FOR SHARE``) until its transaction ends, so the revocation waits for the add and the write
comes before it; on SQLite the add embeds before its transaction and then finds the grant
revoked (403). Either way the person's memories after the revocation's answer are the
memories for good. The embedder here blocks until released. SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from memoryos_server.engine.embeddings import HashingEmbedder
from tests.fixtures.counting import embedder_in_use
from tests.fixtures.passport import AgentHandle, PassportHandle, exchange, new_agent, new_passport  # noqa: F401

HELD = "I prefer aisle seats on long flights."


class _Held:
    """Embeds as the hashing embedder; a text holding ``HELD`` waits until released."""

    def __init__(self) -> None:
        self.inner = HashingEmbedder()
        self.name, self.dim = "held-hashing", self.inner.dim
        self.called = threading.Event()
        self.release = threading.Event()

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if any("aisle" in text for text in texts):
            self.called.set()
            assert self.release.wait(30), "never released"
        return self.inner.embed(texts)


@pytest.fixture
def held(client: TestClient) -> Iterator[_Held]:
    embedder = _Held()
    with embedder_in_use(client, embedder):
        try:
            yield embedder
        finally:
            embedder.release.set()


def _memories(client: TestClient, passport: PassportHandle) -> list[str]:
    listed = client.get("/v1/uui/me/memories", headers=passport.headers())
    assert listed.status_code == 200, listed.text
    return sorted(m["id"] for m in listed.json()["data"])


def test_a_revocation_answered_is_never_followed_by_the_agents_write(
    client: TestClient, new_agent: Callable[..., AgentHandle], new_passport: Callable[..., PassportHandle], held: _Held, test_database: Any
) -> None:
    agent, passport = new_agent(), new_passport()
    granted = passport.grant(agent, ["preference"], "read_write")
    uui = exchange(client, agent, granted["code"])["uui_token"]
    body = {"messages": [{"role": "user", "content": HELD}]}
    with ThreadPoolExecutor(max_workers=2) as pool:
        adding = pool.submit(client.post, "/v1/universal/memories/add", json=body, headers=agent.headers(uui))
        assert held.called.wait(30), "the add never reached the embedder"
        revoking = pool.submit(client.delete, f"/v1/uui/me/grants/{granted['id']}", headers=passport.headers())
        if test_database.backend == "postgresql":
            # The revocation waits for the add in flight, which holds the grant as it read it.
            with pytest.raises(TimeoutError):
                revoking.result(timeout=1.0)
        held.release.set()
        revoked = revoking.result(timeout=30)
        after_revocation = _memories(client, passport)
        added = adding.result(timeout=30)
    assert revoked.status_code == 200, revoked.text
    assert _memories(client, passport) == after_revocation  # nothing landed after the answer
    if added.status_code == 200:
        assert {r["id"] for r in added.json()["results"]} <= set(after_revocation)
    else:
        assert added.status_code == 403 and after_revocation == [], added.text
    again = client.post("/v1/universal/memories/add", json={"messages": [{"role": "user", "content": "I like tea."}]}, headers=agent.headers(uui))
    assert again.status_code == 403
