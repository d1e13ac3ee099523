"""Loose input is refused, not guessed at: JSON's types as they are, finite numbers, UTF-8.

Each refusal is a 4xx in the error envelope, and nothing is stored.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.factories import TenantHandle

ADD = "/v1/memories/add"
TEXT = "I prefer green tea in the afternoon"


def _count(client: TestClient, tenant: TenantHandle, user: str) -> int:
    return int(client.get("/v1/memories", headers=tenant.key_headers(user)).json()["pagination"]["total"])


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("number for a date", {"query": "tea", "as_of": 0}),
        ("boolean for a number", {"query": "tea", "limit": True}),
        ("text for a number", {"query": "tea", "limit": "5"}),
        ("fraction for a whole number", {"query": "tea", "limit": 5.0}),
        ("date without an offset", {"query": "tea", "as_of": "2026-01-01T00:00:00"}),
    ],
)
def test_retrieve_takes_json_types_as_they_are(client: TestClient, tenant: TenantHandle, name: str, body: dict) -> None:  # type: ignore[type-arg]
    answer = client.post("/v1/memories/retrieve", json=body, headers=tenant.key_headers("strict-reader"))
    assert answer.status_code == 422, name
    assert answer.json()["code"] == "REQ_422" and answer.json()["details"][0]["loc"][0] == "body"


@pytest.mark.parametrize(
    ("name", "extra"),
    [("text for a boolean", {"infer": "no"}), ("number for a boolean", {"infer": 0})],
)
def test_add_refuses_a_loose_infer_and_stores_nothing(client: TestClient, tenant: TenantHandle, name: str, extra: dict) -> None:  # type: ignore[type-arg]
    user = f"strict-{name.replace(' ', '-')}"
    answer = client.post(ADD, json={"messages": [{"role": "user", "content": TEXT}], **extra}, headers=tenant.key_headers(user))
    assert answer.status_code == 422 and answer.json()["code"] == "REQ_422", name
    assert _count(client, tenant, user) == 0


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused_anywhere_in_a_body(client: TestClient, tenant: TenantHandle, constant: str) -> None:
    user = f"strict-nan-{constant.strip('-')}"
    raw = '{"messages": [{"role": "user", "content": "%s"}], "infer": false, "metadata": {"score": %s}}' % (TEXT, constant)
    answer = client.post(ADD, content=raw, headers={**tenant.key_headers(user), "Content-Type": "application/json"})
    assert answer.status_code == 422 and answer.json()["code"] == "REQ_422"
    assert "not a JSON number" in answer.json()["message"]
    assert _count(client, tenant, user) == 0


def test_a_body_not_in_utf8_is_refused(client: TestClient, tenant: TenantHandle) -> None:
    raw = ('{"messages": [{"role": "user", "content": "%s"}], "infer": false}' % TEXT).encode("utf-16")
    answer = client.post(ADD, content=raw, headers={**tenant.key_headers("strict-utf16"), "Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["code"] == "REQ_400"
    assert answer.json()["error"] == "invalid_encoding"
    assert _count(client, tenant, "strict-utf16") == 0


def test_a_query_whose_escapes_are_not_utf8_is_refused(client: TestClient, tenant: TenantHandle) -> None:
    answer = client.get("/v1/memories?cursor=%FF%FE", headers=tenant.key_headers("strict-cursor"))
    assert answer.status_code == 400 and answer.json()["code"] == "REQ_400" and answer.json()["error"] == "invalid_encoding"
    # Good UTF-8 escapes are fine (an accented end-user id, say).
    assert client.get("/v1/memories?external_user_id=Ren%C3%A9e", headers=tenant.key_headers()).status_code == 200


def test_strictness_never_refuses_what_the_published_sdk_sends(client: TestClient, tenant: TenantHandle) -> None:
    body = {
        "messages": [{"role": "user", "content": TEXT, "occurred_at": "2026-05-03T19:30:00+00:00"}],
        "infer": False,
        "metadata": {"confidence": 0.9, "count": 3, "nested": {"ok": True}},
    }
    assert client.post(ADD, json=body, headers=tenant.key_headers("strict-ok")).status_code == 200
    found = client.post(
        "/v1/memories/retrieve",
        json={"query": "tea", "limit": 5, "as_of": "2030-01-01T00:00:00Z", "context_max_tokens": 500},
        headers=tenant.key_headers("strict-ok"),
    )
    assert found.status_code == 200 and found.json()["data"]


def test_each_problem_with_a_body_is_said_once(client: TestClient, tenant: TenantHandle) -> None:
    answer = client.post(ADD, json={"messages": "hi"}, headers=tenant.key_headers("strict-once"))
    assert answer.status_code == 422
    assert [d["loc"] for d in answer.json()["details"]] == [["body", "messages"]]


def test_a_cursor_that_never_came_from_this_api_is_refused_whoever_asks(client: TestClient, tenant: TenantHandle) -> None:
    # An end-user never seen has nothing to page through, but the cursor is still checked.
    unseen = client.get("/v1/memories?cursor=zzz", headers=tenant.key_headers("strict-never-seen"))
    assert unseen.status_code == 400 and unseen.json()["error"] == "invalid_cursor"


def test_a_chunked_body_over_the_limit_says_the_limit(client: TestClient, tenant: TenantHandle, settings) -> None:  # type: ignore[no-untyped-def]
    def chunks():  # type: ignore[no-untyped-def]
        piece = b'{"messages": [' + b" " * 1_000_000
        yield piece
        for _ in range(settings.max_body_bytes // 1_000_000 + 1):
            yield b" " * 1_000_000

    answer = client.post(ADD, content=chunks(), headers={**tenant.key_headers("strict-huge"), "Content-Type": "application/json"})
    assert answer.status_code == 413 and answer.json()["code"] == "REQ_413"
    assert answer.json()["details"] == {"max_bytes": settings.max_body_bytes} and answer.json()["message"]
