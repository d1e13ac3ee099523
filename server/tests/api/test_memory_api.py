"""The tenant memory routes (SPEC §5 "Tenant memory"), over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.factories import TenantHandle

SEED = "Please remember that I prefer short, structured explanations and Python examples"
RETRIEVE_ITEM_FIELDS = {
    "id",
    "content",
    "category",
    "importance_score",
    "relevance_score",
    "context_snippet",
    "last_accessed",
    "created_at",
}
LIST_ITEM_FIELDS = {
    "id",
    "content",
    "category",
    "importance_score",
    "confidence",
    "is_archived",
    "created_at",
    "updated_at",
    "metadata",
}


def _add(client: TestClient, tenant: TenantHandle, user: str, *texts: str, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/memories/add",
        json={"messages": [{"role": "user", "content": t} for t in texts], **body},
        headers=tenant.key_headers(user),
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _retrieve(client: TestClient, tenant: TenantHandle, user: str, query: str, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/memories/retrieve", json={"query": query, **body}, headers=tenant.key_headers(user))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _total(client: TestClient, tenant: TenantHandle, user: str) -> int:
    response = client.get("/v1/memories", headers=tenant.key_headers(user))
    assert response.status_code == 200, response.text
    return int(response.json()["pagination"]["total"])


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and isinstance(body["error"], str) and body["request_id"].startswith("req_")
    return body  # type: ignore[no-any-return]


# --- add, jobs, retrieve ---------------------------------------------------------------------------


def test_add_answers_top_level_fields_and_records_a_completed_job(client: TestClient, tenant: TenantHandle) -> None:
    body = _add(client, tenant, "alice", SEED)
    assert {"request_id", "timestamp", "job_id", "status", "nothing_to_extract", "processing_status", "results"} <= set(
        body
    )
    assert "data" not in body
    assert (
        body["status"] == "completed" and body["nothing_to_extract"] is False and body["processing_status"] == "normal"
    )
    [result] = body["results"]
    assert set(result) == {"id", "event", "memory", "category"}
    assert result["event"] == "ADD" and result["category"] == "preference"
    job = client.get(f"/v1/memories/jobs/{body['job_id']}", headers=tenant.key_headers())
    assert job.status_code == 200, job.text
    data = job.json()["data"]
    assert data["status"] == "completed" and data["memories_created"] == 1
    assert data["created_memory_ids"] == [result["id"]] and data["error"] is None
    assert {"job_id", "created_at", "completed_at"} <= set(data)


def test_small_talk_is_nothing_to_extract(client: TestClient, tenant: TenantHandle) -> None:
    body = _add(client, tenant, "alice", "hi, how are you?")
    assert body["nothing_to_extract"] is True and body["results"] == [] and body["status"] == "completed"


def test_infer_false_is_verbatim_with_a_category(client: TestClient, tenant: TenantHandle) -> None:
    plain = _add(client, tenant, "alice", "Badge number 4471", infer=False)
    assert [(r["memory"], r["category"]) for r in plain["results"]] == [("Badge number 4471", "fact")]
    typed = _add(client, tenant, "alice", "Deploys on Tuesdays", infer=False, metadata={"category": "procedure"})
    assert typed["results"][0]["category"] == "procedure"
    explicit = _add(client, tenant, "alice", "Wants a promotion", infer=False, category="goal")
    assert explicit["results"][0]["category"] == "goal"


def test_retrieve_answers_the_published_shape(client: TestClient, tenant: TenantHandle) -> None:
    _add(client, tenant, "alice", SEED)
    response = client.post(
        "/v1/memories/retrieve",
        json={
            "query": "how to explain code",
            "external_user_id": "alice",
            "categories": [],
            "limit": 10,
            "agent_id": "a-1",
        },
        headers=tenant.key_headers(),
    )
    assert response.status_code == 200, response.text
    assert response.headers["X-MemoryOS-Quota-Mode"] == "FULL"
    body = response.json()
    assert body["quota_mode"] == "FULL" and body["is_degraded"] is False and body["is_passthrough"] is False
    assert body["cached"] is False and body["retrieval_id"].startswith("ret_")
    assert body["clarification"] is None and body["clarification_question"] is None
    [item] = body["data"]
    assert RETRIEVE_ITEM_FIELDS <= set(item)
    assert 0 < item["relevance_score"] <= 1 and item["context_snippet"] == item["content"]
    assert "Python examples" in body["system_prompt_addition"]
    assert body["context_token_count"] > 0


@pytest.mark.parametrize("fmt", ["bullets", "json", "xml"])
def test_formats_and_context_budget(client: TestClient, tenant: TenantHandle, fmt: str) -> None:
    facts = [f"Visited museum number {i} in the old town and wrote notes about it" for i in range(20)]
    _add(client, tenant, "alice", *facts, infer=False)
    wide = _retrieve(client, tenant, "alice", "museum notes", format=fmt, context_max_tokens=4000, limit=20)
    narrow = _retrieve(client, tenant, "alice", "museum notes", format=fmt, context_max_tokens=50, limit=20)
    assert narrow["context_token_count"] <= 50 < wide["context_token_count"]
    if fmt == "json":
        json.loads(wide["system_prompt_addition"])
    if fmt == "xml":
        assert wide["system_prompt_addition"].startswith("<user_context")


def test_filters_over_http(client: TestClient, tenant: TenantHandle) -> None:
    _add(client, tenant, "alice", SEED, "I live in Berlin", "I want to run a marathon next year")
    goals = _retrieve(client, tenant, "alice", "Python Berlin marathon", categories=["goal"])
    assert [m["category"] for m in goals["data"]] == ["goal"]
    assert len(_retrieve(client, tenant, "alice", "Python Berlin marathon", time_filter_days=7)["data"]) == 3
    past = _retrieve(client, tenant, "alice", "Python Berlin marathon", as_of="2000-01-01T00:00:00+00:00")
    assert past["data"] == [] and past["system_prompt_addition"] == ""


def test_the_end_user_comes_from_the_header_or_the_body_or_the_query(client: TestClient, tenant: TenantHandle) -> None:
    response = client.post(
        "/v1/memories/add",
        json={"external_user_id": "from-body", "messages": [{"role": "user", "content": "I live in Oslo"}]},
        headers=tenant.key_headers(),
    )
    assert response.status_code == 200, response.text
    listed = client.get("/v1/memories", params={"external_user_id": "from-body"}, headers=tenant.key_headers())
    assert listed.json()["pagination"]["total"] == 1
    # The header wins over the body.
    both = client.post(
        "/v1/memories/retrieve",
        json={"query": "Oslo", "external_user_id": "from-body"},
        headers=tenant.key_headers("someone-else"),
    )
    assert both.json()["data"] == []
    missing = client.post(
        "/v1/memories/add", json={"messages": [{"role": "user", "content": "x"}]}, headers=tenant.key_headers()
    )
    _error(missing, 400, "REQ_400")
    assert missing.json()["error"] == "end_user_required"


# --- list, get, patch, delete, history ----------------------------------------------------------------


def test_list_pages_with_a_cursor_and_filters_by_category(client: TestClient, tenant: TenantHandle) -> None:
    _add(client, tenant, "alice", *[f"Ticket {i} is open" for i in range(5)], infer=False)
    _add(client, tenant, "alice", "Likes jazz", infer=False, category="preference")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/memories", params=params, headers=tenant.key_headers("alice")).json()
        assert page["pagination"]["total"] == 6 and page["pagination"]["limit"] == 2
        for item in page["data"]:
            assert LIST_ITEM_FIELDS <= set(item)
        seen += [item["id"] for item in page["data"]]
        cursor = page["pagination"]["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 6
    prefs = client.get("/v1/memories", params={"category": "preference"}, headers=tenant.key_headers("alice")).json()
    assert [m["content"] for m in prefs["data"]] == ["Likes jazz"] and prefs["pagination"]["total"] == 1
    bad_cursor = client.get("/v1/memories", params={"cursor": "nonsense!"}, headers=tenant.key_headers("alice"))
    _error(bad_cursor, 400, "REQ_400")


def test_get_patch_history_and_both_deletes(client: TestClient, tenant: TenantHandle) -> None:
    memory_id = _add(client, tenant, "alice", "I live in Berlin")["results"][0]["id"]
    headers = tenant.key_headers("alice")
    got = client.get(f"/v1/memories/{memory_id}", headers=headers).json()["data"]
    assert got["content"] == "Lives in Berlin" and got["is_archived"] is False
    patched = client.patch(
        f"/v1/memories/{memory_id}",
        json={"content": "Lives in Berlin-Kreuzberg", "importance_score": 9, "metadata": {"source": "crm"}},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["content"] == "Lives in Berlin-Kreuzberg"
    assert patched.json()["data"]["metadata"] == {"source": "crm"}
    history = client.get(f"/v1/memories/{memory_id}/history", headers=headers).json()["data"]
    assert [(v["event"], v["content"]) for v in history] == [
        ("ADD", "Lives in Berlin"),
        ("EDIT", "Lives in Berlin-Kreuzberg"),
    ]
    soft = client.delete(f"/v1/memories/{memory_id}", params={"hard_delete": "false"}, headers=headers)
    assert soft.status_code == 200 and soft.json()["data"]["deleted"] is True
    _error(client.get(f"/v1/memories/{memory_id}", headers=headers), 404, "MEM_404")
    export = client.get("/v1/users/alice/export", headers=tenant.key_headers()).json()["data"]
    assert all(m["id"] != memory_id for m in export["memories"])  # soft-deleted: gone for the user

    other = _add(client, tenant, "alice", "I work at Acme")["results"][0]["id"]
    hard = client.delete(f"/v1/memories/{other}", params={"hard_delete": "true"}, headers=tenant.key_headers())
    assert hard.status_code == 200 and hard.json()["data"]["deleted"] is True  # by id alone, as the SDK does
    _error(client.get(f"/v1/memories/{other}/history", headers=headers), 404, "MEM_404")


def test_a_conflict_is_surfaced_answered_once_and_versioned(client: TestClient, tenant: TenantHandle) -> None:
    a = _add(client, tenant, "alice", "My exam is on March 10")["results"][0]
    b = _add(client, tenant, "alice", "My exam is on March 15")["results"][0]
    assert b["event"] == "CONFLICT"
    found = _retrieve(client, tenant, "alice", "When is the exam?")
    clarification = found["clarification"]
    assert clarification is not None and found["clarification_question"] == clarification["question"]
    assert {"id", "conflict_id", "question", "options", "expires_at"} <= set(clarification)
    assert [o["answer"] for o in clarification["options"]] == ["A", "B", "both", "neither"]
    answer = client.post(
        f"/v1/memories/clarifications/{clarification['id']}/answer",
        json={"external_user_id": "alice", "answer": "B", "free_text": None},
        headers=tenant.key_headers(),
    )
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data == {**data, "resolved": True, "clarification_id": clarification["id"], "resolution": "B"}
    assert data["conflict_id"] == clarification["conflict_id"]
    again = client.post(
        f"/v1/memories/clarifications/{clarification['id']}/answer",
        json={"answer": "A"},
        headers=tenant.key_headers("alice"),
    )
    _error(again, 409, "CLR_409")
    unknown = client.post(
        "/v1/memories/clarifications/5b0e8e0c-0000-4000-8000-000000000000/answer",
        json={"answer": "A"},
        headers=tenant.key_headers("alice"),
    )
    _error(unknown, 404, "CLR_404")
    old = client.get(f"/v1/memories/{a['id']}", headers=tenant.key_headers("alice")).json()["data"]
    assert old["is_archived"] is True
    events = [
        v["event"]
        for v in client.get(f"/v1/memories/{a['id']}/history", headers=tenant.key_headers("alice")).json()["data"]
    ]
    assert events == ["ADD", "DISPUTE", "ARCHIVE"]
    assert _retrieve(client, tenant, "alice", "When is the exam?")["clarification"] is None


# --- workspace and reviews ----------------------------------------------------------------------------


def test_workspace_memory_and_tenant_reviews(client: TestClient, tenant: TenantHandle) -> None:
    jwt = tenant.jwt_headers()
    first = client.post(
        "/v1/workspace/memories/add",
        json={"messages": [{"role": "user", "content": "Our support line opens at 8am"}]},
        headers=jwt,
    )
    assert first.status_code == 200, first.text
    second = client.post(
        "/v1/workspace/memories/add",
        json={"messages": [{"role": "user", "content": "Our support line opens at 9am"}]},
        headers=jwt,
    ).json()
    assert second["results"][0]["event"] == "CONFLICT"  # extracted: a verbatim add never opens a conflict
    reviews = client.get("/v1/tenant/reviews", headers=tenant.key_headers()).json()
    [review] = reviews["data"]
    assert review["id"].startswith("rev_") and review["status"] == "open"
    assert {review["memory_a"]["content"], review["memory_b"]["content"]} == {
        "Support line opens at 8am",
        "Support line opens at 9am",
    }
    found = client.post(
        "/v1/workspace/memories/retrieve", json={"query": "support line"}, headers=tenant.key_headers()
    ).json()
    assert len(found["data"]) == 2 and found["quota_mode"] == "FULL"
    answered = client.post(f"/v1/tenant/reviews/{review['id']}/answer", json={"answer": "both"}, headers=jwt)
    assert answered.status_code == 200 and answered.json()["data"]["resolution"] == "both"
    _error(client.post(f"/v1/tenant/reviews/{review['id']}/answer", json={"answer": "A"}, headers=jwt), 409, "CLR_409")
    assert client.get("/v1/tenant/reviews", headers=jwt).json()["data"] == []
    listed = client.get("/v1/workspace/memories", headers=jwt).json()
    assert listed["pagination"]["total"] == 2
    memory_id = listed["data"][0]["id"]
    assert client.get(f"/v1/workspace/memories/{memory_id}", headers=jwt).status_code == 200
    assert (
        client.patch(f"/v1/workspace/memories/{memory_id}", json={"importance_score": 3}, headers=jwt).status_code
        == 200
    )
    assert len(client.get(f"/v1/workspace/memories/{memory_id}/history", headers=jwt).json()["data"]) >= 2
    assert client.delete(f"/v1/workspace/memories/{memory_id}", headers=jwt).json()["data"]["deleted"] is True
    # Tenant backends read the workspace but do not write it; viewers neither.
    blocked = client.post(
        "/v1/workspace/memories/add",
        json={"messages": [{"role": "user", "content": "x"}]},
        headers=tenant.key_headers(),
    )
    _error(blocked, 403, "AUTH_003")
    # SPEC §4: member and viewer read only; a developer writes.
    for role in ("viewer", "member"):
        _error(
            client.post(
                "/v1/workspace/memories/add",
                json={"messages": [{"role": "user", "content": "x"}]},
                headers=tenant.add_member(role).headers(),
            ),
            403,
            "AUTH_003",
        )
    developer = tenant.add_member("developer")
    ok = client.post(
        "/v1/workspace/memories/add",
        json={"messages": [{"role": "user", "content": "The office has a bike room"}], "infer": False},
        headers=developer.headers(),
    )
    assert ok.status_code == 200, ok.text


# --- isolation --------------------------------------------------------------------------------------


def test_every_memory_route_hides_other_tenants_and_end_users(client: TestClient, new_tenant: Any) -> None:
    owner, stranger = new_tenant(), new_tenant()
    added = _add(client, owner, "alice", "My exam is on March 10")
    memory_id = added["results"][0]["id"]
    conflict = _add(client, owner, "alice", "My exam is on March 15")
    clarification_id = _retrieve(client, owner, "alice", "exam")["clarification"]["id"]
    routes = [
        ("get", f"/v1/memories/{memory_id}", None),
        ("patch", f"/v1/memories/{memory_id}", {"content": "hijacked"}),
        ("delete", f"/v1/memories/{memory_id}", None),
        ("get", f"/v1/memories/{memory_id}/history", None),
    ]
    for handle, user in ((stranger, "alice"), (owner, "bob"), (stranger, None)):
        for method, path, body in routes:
            if user is None and method != "delete":
                continue  # only delete works without naming an end-user (the published SDK's way)
            response = client.request(method.upper(), path, json=body, headers=handle.key_headers(user))
            _error(response, 404, "MEM_404")
        answer = client.post(
            f"/v1/memories/clarifications/{clarification_id}/answer",
            json={"answer": "A"},
            headers=handle.key_headers(user or "alice"),
        )
        _error(answer, 404, "CLR_404")
    _error(client.get(f"/v1/memories/jobs/{added['job_id']}", headers=stranger.key_headers()), 404, "JOB_404")
    assert _retrieve(client, stranger, "alice", "exam")["data"] == []
    assert _total(client, stranger, "alice") == 0 and _total(client, owner, "bob") == 0
    # Still there, unchanged, for its owner.
    assert (
        client.get(f"/v1/memories/{memory_id}", headers=owner.key_headers("alice")).json()["data"]["content"]
        == "Exam is on March 10"
    )
    assert conflict["results"][0]["event"] == "CONFLICT"

    workspace_memory = client.post(
        "/v1/workspace/memories/add",
        json={"messages": [{"role": "user", "content": "Office closes at 6pm"}], "infer": False},
        headers=owner.jwt_headers(),
    ).json()["results"][0]["id"]
    for method in ("GET", "DELETE"):
        _error(
            client.request(method, f"/v1/workspace/memories/{workspace_memory}", headers=stranger.jwt_headers()),
            404,
            "MEM_404",
        )
    _error(
        client.post(
            "/v1/tenant/reviews/rev_0123456789abcdef01234567/answer",
            json={"answer": "A"},
            headers=stranger.jwt_headers(),
        ),
        404,
        "CLR_404",
    )


# --- bad input ------------------------------------------------------------------------------------------


def test_bad_input_is_a_clear_4xx_and_changes_nothing(client: TestClient, tenant: TenantHandle) -> None:
    _add(client, tenant, "alice", "I live in Berlin")
    headers = tenant.key_headers("alice")
    before = _total(client, tenant, "alice")
    message = {"role": "user", "content": "I live in Rome"}
    cases = [
        ({"messages": []}, 422, "REQ_422"),
        ({"messages": [message] * 65}, 422, "REQ_422"),
        ({"messages": [{"role": "user", "content": "x" * 16_001}]}, 422, "REQ_422"),
        ({"messages": [{"role": "user", "content": "   "}]}, 422, "REQ_422"),
        ({"messages": "I live in Rome"}, 422, "REQ_422"),
        ({"messages": [{"role": "robot", "content": "hi"}]}, 422, "REQ_422"),
        ({"messages": [message], "infer": "sometimes"}, 422, "REQ_422"),
        ({"messages": [message], "infer": False, "category": "hobby"}, 422, "REQ_422"),
        ({"messages": [message], "infer": False, "metadata": {"category": "hobby"}}, 422, "REQ_422"),
        ({"messages": [message], "metadata": "not an object"}, 422, "REQ_422"),
    ]
    for body, status, code in cases:
        _error(client.post("/v1/memories/add", json=body, headers=headers), status, code)
    malformed = client.post(
        "/v1/memories/add", content=b'{"messages": [', headers={**headers, "Content-Type": "application/json"}
    )
    _error(malformed, 400, "REQ_400")
    huge = client.post(
        "/v1/memories/add",
        content=b'{"messages": "' + b"x" * (10 * 1024 * 1024) + b'"}',
        headers={**headers, "Content-Type": "application/json"},
    )
    _error(huge, 413, "REQ_413")
    retrieve_cases = [
        {"query": ""},
        {"query": "x", "limit": 0},
        {"query": "x", "limit": 51},
        {"query": "x", "categories": ["hobby"]},
        {"query": "x", "format": "yaml"},
        {"query": "x", "context_max_tokens": 49},
        {"query": "x", "context_max_tokens": 4001},
        {"query": "x", "as_of": "yesterday"},
        {"query": "x", "as_of": "2025-01-01T00:00:00"},  # no timezone
        {"query": 42},
    ]
    for body in retrieve_cases:
        _error(client.post("/v1/memories/retrieve", json=body, headers=headers), 422, "REQ_422")
    _error(client.get("/v1/memories", params={"category": "hobby"}, headers=headers), 422, "REQ_422")
    _error(client.get("/v1/memories", params={"limit": 0}, headers=headers), 422, "REQ_422")
    for method in ("GET", "DELETE"):
        # A memory id is a UUID: anything else in its place is no address at all.
        _error(client.request(method, "/v1/memories/not-a-uuid", headers=headers), 404, "REQ_404")
    memory_id = client.get("/v1/memories", headers=headers).json()["data"][0]["id"]
    for patch in ({}, {"category": "hobby"}, {"importance_score": 11}, {"content": ""}, {"colour": "red"}):
        _error(client.patch(f"/v1/memories/{memory_id}", json=patch, headers=headers), 422, "REQ_422")
    _error(
        client.post(f"/v1/memories/clarifications/{memory_id}/answer", json={"answer": "maybe"}, headers=headers),
        422,
        "REQ_422",
    )
    _error(
        client.post(
            "/v1/memories/add", json={"messages": [message]}, headers={**headers, "Idempotency-Key": "k" * 300}
        ),
        422,
        "REQ_422",
    )
    assert _total(client, tenant, "alice") == before
    assert client.get(f"/v1/memories/{memory_id}", headers=headers).json()["data"]["content"] == "Lives in Berlin"


# --- idempotency -------------------------------------------------------------------------------------------


def test_a_repeated_idempotency_key_replays_the_first_answer(client: TestClient, tenant: TenantHandle) -> None:
    headers = {**tenant.key_headers("alice"), "Idempotency-Key": "order-123"}
    body = {"messages": [{"role": "user", "content": "I live in Berlin"}]}
    first = client.post("/v1/memories/add", json=body, headers=headers)
    second = client.post("/v1/memories/add", json=body, headers=headers)
    assert first.status_code == second.status_code == 200
    assert first.content == second.content  # byte for byte, request id and all
    assert _total(client, tenant, "alice") == 1
    # Another end-user's key space is their own.
    other = client.post(
        "/v1/memories/add", json=body, headers={**tenant.key_headers("bob"), "Idempotency-Key": "order-123"}
    )
    assert other.content != first.content and _total(client, tenant, "bob") == 1


def test_an_idempotency_key_reused_for_another_request_is_refused(client: TestClient, tenant: TenantHandle) -> None:
    headers = {**tenant.key_headers("dora"), "Idempotency-Key": "order-9"}
    first = client.post(
        "/v1/memories/add", json={"messages": [{"role": "user", "content": "I live in Berlin"}]}, headers=headers
    )
    assert first.status_code == 200
    for changed in (
        {"messages": [{"role": "user", "content": "I live in Paris"}]},
        {"messages": [{"role": "user", "content": "I live in Berlin"}], "infer": False},
        {"messages": [{"role": "user", "content": "I live in Berlin"}, {"role": "user", "content": "I am 40"}]},
    ):
        again = client.post("/v1/memories/add", json=changed, headers=headers)
        assert again.status_code == 422, again.text
        assert again.json()["error"] == "idempotency_key_reused" and again.json()["code"] == "REQ_422"
    assert _total(client, tenant, "dora") == 1
    # Provenance may be stamped anew on a retry (an SDK's fresh event id and time): still a replay.
    retry = client.post(
        "/v1/memories/add",
        json={"messages": [{"role": "user", "content": "I live in Berlin"}], "metadata": {"sent_at": "now"}},
        headers=headers,
    )
    assert retry.status_code == 200 and retry.content == first.content


def test_an_idempotency_key_holds_across_the_tenants_api_keys(client: TestClient, tenant: TenantHandle) -> None:
    # A backend that retries after rotating its key still gets the first answer.
    second_key = client.post("/v1/tenant/api-keys", json={"name": "rotated"}, headers=tenant.jwt_headers())
    assert second_key.status_code == 201, second_key.text
    body = {"messages": [{"role": "user", "content": "I work as a nurse"}]}
    first = client.post("/v1/memories/add", json=body, headers={**tenant.key_headers("erin"), "Idempotency-Key": "r-1"})
    retry = client.post(
        "/v1/memories/add",
        json=body,
        headers={"X-API-Key": second_key.json()["data"]["raw_api_key"], "X-End-User-ID": "erin", "Idempotency-Key": "r-1"},
    )
    assert first.status_code == retry.status_code == 200
    assert retry.content == first.content and _total(client, tenant, "erin") == 1


def test_an_edit_or_a_correction_with_no_visible_text_is_refused(client: TestClient, tenant: TenantHandle) -> None:
    """Spaces, zero-width spaces and joiners alone would leave a memory that shows nothing."""
    headers = tenant.key_headers("blank")
    added = client.post("/v1/memories/add", json={"messages": [{"role": "user", "content": "My locker is 12"}], "infer": False}, headers=headers)
    memory_id = added.json()["results"][0]["id"]
    for content in ("\u200b\u200b", "\u200d \ufeff"):  # (spaces alone: the schema answers 422)
        response = client.patch(f"/v1/memories/{memory_id}", json={"content": content}, headers=headers)
        assert response.status_code == 400 and response.json()["error"] == "empty_content", (content, response.text)
    assert client.get(f"/v1/memories/{memory_id}", headers=headers).json()["data"]["content"] == "My locker is 12"
    kept = client.patch(f"/v1/memories/{memory_id}", json={"content": "My locker is 14 \u200b"}, headers=headers)
    assert kept.status_code == 200 and kept.json()["data"]["content"] == "My locker is 14 \u200b"
