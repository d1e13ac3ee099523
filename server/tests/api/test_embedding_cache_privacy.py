"""No caller can learn from the embedder's speed what someone else stored.

The embedder remembers vectors for one operation only (``engine.extraction.cached_embedder``).
Shared by the whole process, a text another tenant had just stored came back from the cache a
few milliseconds sooner than one nobody had: an edit of a random memory id (answered 404, after
embedding its new text) or an add of a guess was enough to time it, across tenants and after
the end-user's deletion. Here the embedder counts what reaches the model: another tenant's
edit, add, or correction-shaped guess must reach it too, however recently the text was stored.
SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.fixtures.counting import CountingEmbedder, counting  # noqa: F401
from tests.fixtures.factories import TenantHandle

SECRET = "Patient 7 was diagnosed with asthma in March"


def _add(client: TestClient, tenant: TenantHandle, end_user: str, text: str) -> Any:
    body = {"messages": [{"role": "user", "content": text}], "infer": False}
    response = client.post("/v1/memories/add", json=body, headers=tenant.key_headers(end_user))
    assert response.status_code == 200, response.text
    return response.json()["results"][0]


def test_another_tenants_probe_reaches_the_model_after_a_secret_was_stored(
    client: TestClient, new_tenant: Callable[..., TenantHandle], counting: CountingEmbedder
) -> None:
    victim, attacker = new_tenant("Clinic"), new_tenant("Prober")
    _add(client, victim, "patient-7", SECRET)
    assert counting.seen.count(SECRET) == 1  # embedded once for its own add (prepared, then stored)

    guess = client.patch(f"/v1/memories/{uuid.uuid4()}", json={"content": SECRET}, headers=attacker.key_headers("me"))
    assert guess.status_code == 404
    [mine] = [_add(client, attacker, "me", "A harmless note")]
    edited = client.patch(f"/v1/memories/{mine['id']}", json={"content": SECRET}, headers=attacker.key_headers("me"))
    assert edited.status_code == 200
    _add(client, attacker, "me2", SECRET)
    # Each probe computed the vector afresh: none was answered from the victim's.
    assert counting.seen.count(SECRET) == 4


def test_one_add_still_embeds_each_text_once(client: TestClient, tenant: TenantHandle, counting: CountingEmbedder) -> None:
    """The cache's purpose within an add: the classifier's vectors (or those prepared before
    the transaction) serve the add's own embedding."""
    text = "I am allergic to penicillin and I work as a nurse"
    response = client.post(
        "/v1/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=tenant.key_headers("nurse")
    )
    assert response.status_code == 200, response.text
    stored = [r["memory"] for r in response.json()["results"]]
    assert stored and all(counting.seen.count(memory) == 1 for memory in stored), counting.seen
