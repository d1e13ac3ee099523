"""Provenance over HTTP (SPEC §5, §7): service writers, source events, and which service's claim
stands when two disagree. On SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from memoryos_server.errors import MemoryNotFound
from tests.fixtures.app import LiveServer
from tests.fixtures.factories import TenantHandle

OBSERVED = "2026-03-01T12:00:00+00:00"


def _writer(client: TestClient, tenant: TenantHandle, key: str, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/tenant/service-writers", json={"service_key": key, **body}, headers=tenant.jwt_headers()
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def _claim(
    client: TestClient,
    tenant: TenantHandle,
    user: str,
    text: str,
    service: str,
    *,
    event_id: str | None = None,
    headers: dict[str, str] | None = None,
    role: str = "assistant",
    **source: Any,
) -> Any:
    return client.post(
        "/v1/memories/add",
        json={
            "external_user_id": user,
            "messages": [{"role": role, "content": text}],
            "source": {"service": service, "event_id": event_id or f"evt-{secrets.token_hex(4)}", **source},
        },
        headers=headers or tenant.key_headers(),
    )


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    return body  # type: ignore[no-any-return]


def _memories(client: TestClient, tenant: TenantHandle, user: str) -> list[dict[str, Any]]:
    return _ok(client.get("/v1/memories", headers=tenant.key_headers(user)))["data"]  # type: ignore[no-any-return]


def _history(client: TestClient, tenant: TenantHandle, user: str, memory_id: str) -> list[dict[str, Any]]:
    return _ok(client.get(f"/v1/memories/{memory_id}/history", headers=tenant.key_headers(user)))["data"]  # type: ignore[no-any-return]


def _new_key(client: TestClient, tenant: TenantHandle, name: str = "svc") -> tuple[str, str]:
    created = client.post("/v1/tenant/api-keys", json={"name": name}, headers=tenant.jwt_headers())
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    return data["id"], data["raw_api_key"]


# --- service writers --------------------------------------------------------------------------------


def test_a_service_writer_is_registered_listed_changed_and_removed(client: TestClient, tenant: TenantHandle) -> None:
    key_id, _ = _new_key(client, tenant)
    created = _writer(
        client,
        tenant,
        "billing-service",
        display_name="Billing",
        authority_rules={"default_priority": 40, "categories": {"fact": 80}},
        api_key_id=key_id,
    )
    assert created["service_key"] == "billing-service" and created["display_name"] == "Billing"
    assert created["authority_rules"] == {"default_priority": 40, "categories": {"fact": 80}}
    assert created["api_key_id"] == key_id
    plain = _writer(client, tenant, "support-service")
    assert plain["display_name"] == "support-service" and plain["api_key_id"] is None
    assert plain["authority_rules"] == {"default_priority": 50, "categories": {}}

    listed = _ok(client.get("/v1/tenant/service-writers", headers=tenant.jwt_headers()))
    assert [w["service_key"] for w in listed["data"]] == ["billing-service", "support-service"]
    assert listed["pagination"]["total"] == 2
    one = _ok(client.get("/v1/tenant/service-writers/billing-service", headers=tenant.jwt_headers()))["data"]
    assert one == created

    changed = _ok(
        client.patch(
            "/v1/tenant/service-writers/billing-service",
            json={"authority_rules": {"default_priority": 10, "categories": {"goal": 90}}, "api_key_id": None},
            headers=tenant.jwt_headers(),
        )
    )["data"]
    assert changed["authority_rules"] == {"default_priority": 10, "categories": {"goal": 90}}
    assert changed["api_key_id"] is None and changed["display_name"] == "Billing"

    again = client.post(
        "/v1/tenant/service-writers", json={"service_key": "billing-service"}, headers=tenant.jwt_headers()
    )
    _error(again, 409, "REQ_409")

    removed = _ok(client.delete("/v1/tenant/service-writers/billing-service", headers=tenant.jwt_headers()))
    assert removed["data"] == {"deleted": True, "service_key": "billing-service"}
    _error(client.get("/v1/tenant/service-writers/billing-service", headers=tenant.jwt_headers()), 404, "PROV_404")
    _error(client.delete("/v1/tenant/service-writers/billing-service", headers=tenant.jwt_headers()), 404, "PROV_404")
    # Its claims are refused from now on.
    _error(_claim(client, tenant, "cust", "Customer is on the Growth plan.", "billing-service"), 404, "PROV_404")


@pytest.mark.parametrize(
    "body",
    [
        {"service_key": "Billing Service"},  # not the SDK's pattern
        {"service_key": ""},
        {"service_key": "x" * 101},
        {"service_key": "billing", "authority_rules": {"default_priority": 101}},
        {"service_key": "billing", "authority_rules": {"default_priority": -1}},
        {"service_key": "billing", "authority_rules": {"categories": {"plan": 80}}},  # unknown category
        {"service_key": "billing", "authority_rules": {"categories": {"fact": "high"}}},
        {"service_key": "billing", "authority_rules": {"default_priority": 50, "extra": 1}},
        {"service_key": "billing", "api_key_id": "key_000000000000000000000000"},  # not one of ours
        {"service_key": "billing", "owner": "someone"},  # unknown field
    ],
)
def test_an_invalid_writer_is_refused_with_prov_422(client: TestClient, tenant: TenantHandle, body: dict[str, Any]) -> None:
    response = client.post("/v1/tenant/service-writers", json=body, headers=tenant.jwt_headers())
    _error(response, 422, "PROV_422")
    listed = _ok(client.get("/v1/tenant/service-writers", headers=tenant.jwt_headers()))
    assert listed["data"] == []


def test_an_invalid_change_is_refused_and_changes_nothing(client: TestClient, tenant: TenantHandle) -> None:
    _writer(client, tenant, "crm")
    for body in ({}, {"display_name": None}, {"authority_rules": {"categories": {"mood": 5}}}, {"api_key_id": "key_nope"}):
        response = client.patch("/v1/tenant/service-writers/crm", json=body, headers=tenant.jwt_headers())
        _error(response, 422, "PROV_422")
    revoked_id, _ = _new_key(client, tenant, "old")
    assert client.delete(f"/v1/tenant/api-keys/{revoked_id}", headers=tenant.jwt_headers()).status_code == 200
    bound = client.patch("/v1/tenant/service-writers/crm", json={"api_key_id": revoked_id}, headers=tenant.jwt_headers())
    assert _error(bound, 422, "PROV_422")["error"] == "unknown_api_key"
    unchanged = _ok(client.get("/v1/tenant/service-writers/crm", headers=tenant.jwt_headers()))["data"]
    assert unchanged["api_key_id"] is None and unchanged["authority_rules"]["categories"] == {}


# --- an add with a source -------------------------------------------------------------------------


def test_a_services_assistant_message_is_a_claim_about_the_end_user(client: TestClient, tenant: TenantHandle) -> None:
    # Without a source an assistant's message is not the user's word: nothing is stored.
    plain = _ok(
        client.post(
            "/v1/memories/add",
            json={"messages": [{"role": "assistant", "content": "Customer is on the Growth plan."}]},
            headers=tenant.key_headers("cust-1"),
        )
    )
    assert plain["nothing_to_extract"] is True and plain["results"] == []

    _writer(client, tenant, "billing-service")
    added = _ok(
        _claim(
            client,
            tenant,
            "cust-1",
            "Customer is on the Growth plan. I have updated the invoice.",
            "billing-service",
            event_id="invoice_evt_8842",
            scope={"workspace_id": "ws_123"},
            evidence=[{"source_type": "billing_record", "reference": "invoice_evt_8842"}],
        )
    )
    assert added["nothing_to_extract"] is False
    # The service's own first-person sentence is not a claim about the customer.
    [result] = added["results"]
    assert result["event"] == "ADD" and result["category"] == "fact" and "Growth plan" in result["memory"]
    assert "resolution" not in result

    [memory] = _memories(client, tenant, "cust-1")
    assert memory["id"] == result["id"] and memory["source_event_id"].startswith("sev_")
    provenance = memory["provenance"]
    assert provenance["service"] == "billing-service" and provenance["event_id"] == "invoice_evt_8842"
    assert provenance["scope"] == {"workspace_id": "ws_123"}
    assert provenance["evidence"] == [{"source_type": "billing_record", "reference": "invoice_evt_8842", "content_hash": None}]
    assert datetime.fromisoformat(provenance["observed_at"]) <= datetime.fromisoformat(provenance["received_at"])

    found = _ok(client.post("/v1/memories/retrieve", json={"query": "Which plan is the customer on?"}, headers=tenant.key_headers("cust-1")))
    [item] = found["data"]
    assert item["source_event_id"] == memory["source_event_id"] and item["provenance"] == provenance

    [version] = _history(client, tenant, "cust-1", memory["id"])
    assert version["source"]["source_event_id"] == memory["source_event_id"]
    assert version["source"]["service"] == "billing-service" and version["source"]["event_id"] == "invoice_evt_8842"
    assert version["source"]["service_name"] == "billing-service"

    exported = _ok(client.get("/v1/users/cust-1/export", headers=tenant.jwt_headers()))["data"]
    [kept] = exported["memories"]
    assert kept["source_event_id"] == memory["source_event_id"] and kept["provenance"] == provenance
    assert kept["versions"][0]["source_event_id"] == memory["source_event_id"]


def test_a_replayed_event_writes_nothing_and_a_changed_payload_is_refused(client: TestClient, tenant: TenantHandle) -> None:
    _writer(client, tenant, "crm")
    first = _claim(client, tenant, "cust-2", "Customer has 40 seats.", "crm", event_id="seat-1", observed_at=OBSERVED)
    body = _ok(first)
    # The same event again, even observed "now" (the published SDK stamps a fresh time): the
    # first answer, byte for byte, and nothing written.
    again = _claim(client, tenant, "cust-2", "Customer has 40 seats.", "crm", event_id="seat-1")
    assert again.status_code == 200 and again.content == first.content
    assert len(_memories(client, tenant, "cust-2")) == 1
    assert body["results"][0]["event"] == "ADD"

    changed = _claim(client, tenant, "cust-2", "Customer has 25 seats.", "crm", event_id="seat-1")
    refused = _error(changed, 409, "PROV_409")
    events = _ok(client.get("/v1/tenant/source-events", headers=tenant.jwt_headers()))["data"]
    assert refused["details"]["source_event_id"] == events[0]["id"]
    other_scope = _claim(client, tenant, "cust-2", "Customer has 40 seats.", "crm", event_id="seat-1", scope={"ws": "2"})
    _error(other_scope, 409, "PROV_409")
    # The same event id about another end-user is another payload.
    _error(_claim(client, tenant, "cust-3", "Customer has 40 seats.", "crm", event_id="seat-1"), 409, "PROV_409")
    assert [m["content"] for m in _memories(client, tenant, "cust-2")] == [body["results"][0]["memory"]]
    assert _memories(client, tenant, "cust-3") == []
    assert len(events) == 1 and events[0]["memory_ids"] == [body["results"][0]["id"]]


def test_an_unknown_service_is_404_and_an_invalid_source_is_prov_422(client: TestClient, tenant: TenantHandle) -> None:
    _error(_claim(client, tenant, "cust", "Customer is on the Growth plan.", "nobody"), 404, "PROV_404")
    _writer(client, tenant, "billing")
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    invalid: list[dict[str, Any]] = [
        {"service": "billing"},  # no event id
        {"service": "Billing!", "event_id": "e1"},
        {"service": "billing", "event_id": "e" * 256},
        {"service": "billing", "event_id": "e1", "observed_at": "2026-03-01T12:00:00"},  # no time zone
        {"service": "billing", "event_id": "e1", "observed_at": future},
        {"service": "billing", "event_id": "e1", "evidence": [{"source_type": "x", "reference": "r"}] * 21},
        {"service": "billing", "event_id": "e1", "evidence": [{"source_type": "x", "reference": "r" * 501}]},
        {"service": "billing", "event_id": "e1", "evidence": [{"source_type": "x", "reference": "r", "content_hash": "abc"}]},
        {"service": "billing", "event_id": "e1", "scope": {"blob": "x" * 5000}},
        {"service": "billing", "event_id": "e1", "scope": ["not", "an", "object"]},
    ]
    for source in invalid:
        response = client.post(
            "/v1/memories/add",
            json={"messages": [{"role": "assistant", "content": "Customer is on the Growth plan."}], "source": source},
            headers=tenant.key_headers("cust"),
        )
        _error(response, 422, "PROV_422")
    # Workspace memories are the tenant's own: no service makes claims about them.
    workspace = client.post(
        "/v1/workspace/memories/add",
        json={"messages": [{"role": "user", "content": "Our office opens at 9am"}], "source": {"service": "billing", "event_id": "e2"}},
        headers=tenant.jwt_headers(),
    )
    _error(workspace, 422, "PROV_422")
    assert _memories(client, tenant, "cust") == []
    assert _ok(client.get("/v1/tenant/source-events", headers=tenant.jwt_headers()))["data"] == []


def test_a_writer_bound_to_a_key_refuses_every_other_credential(client: TestClient, tenant: TenantHandle) -> None:
    key_id, raw = _new_key(client, tenant, "ledger")
    _writer(client, tenant, "ledger", api_key_id=key_id)
    refused = _claim(client, tenant, "cust-4", "Customer has 12 seats.", "ledger")
    _error(refused, 403, "PROV_403")
    by_jwt = client.post(
        "/v1/memories/add",
        json={"messages": [{"role": "assistant", "content": "Customer has 12 seats."}], "source": {"service": "ledger", "event_id": "j1"}},
        headers=tenant.jwt_headers(),
    )
    _error(by_jwt, 403, "PROV_403")
    accepted = _claim(client, tenant, "cust-4", "Customer has 12 seats.", "ledger", headers={"Authorization": f"ApiKey {raw}"})
    assert _ok(accepted)["results"][0]["event"] == "ADD"
    # A replay of that event through another key is refused too, not answered.
    event_id = _ok(client.get("/v1/tenant/source-events", headers=tenant.jwt_headers()))["data"][0]["event_id"]
    _error(_claim(client, tenant, "cust-4", "Customer has 12 seats.", "ledger", event_id=event_id), 403, "PROV_403")
    [event] = _ok(client.get("/v1/tenant/source-events", headers=tenant.jwt_headers()))["data"]
    assert event["api_key_id"] == key_id


# --- two services disagree ------------------------------------------------------------------------


def test_the_writer_with_more_authority_for_the_category_wins(client: TestClient, tenant: TenantHandle) -> None:
    _writer(client, tenant, "billing-service", authority_rules={"default_priority": 30, "categories": {"fact": 80}})
    _writer(client, tenant, "support-service", authority_rules={"default_priority": 50})
    growth = _ok(_claim(client, tenant, "cust-5", "Customer is on the Growth plan.", "billing-service"))["results"][0]
    starter = _ok(_claim(client, tenant, "cust-5", "Customer is on the Starter plan.", "support-service"))["results"][0]
    assert starter["event"] == "ADD" and starter["resolution"]["outcome"] == "lost"
    assert starter["resolution"]["other_memory_id"] == growth["id"]
    assert "billing-service (authority 80 for fact) outranks support-service (authority 50 for fact)" in starter["resolution"]["reason"]

    by_id = {m["id"]: m for m in _memories(client, tenant, "cust-5")}
    assert by_id[growth["id"]]["status"] == "active" and not by_id[growth["id"]]["disputed"]
    assert by_id[starter["id"]]["status"] == "archived"  # archived, never deleted
    assert by_id[starter["id"]]["provenance"]["service"] == "support-service"
    history = _history(client, tenant, "cust-5", starter["id"])
    assert [v["event"] for v in history] == ["ADD", "ARCHIVE"]
    assert "outranks" in history[-1]["note"] and history[-1]["source"]["service"] == "support-service"
    found = _ok(client.post("/v1/memories/retrieve", json={"query": "plan"}, headers=tenant.key_headers("cust-5")))
    assert [m["id"] for m in found["data"]] == [growth["id"]] and found["clarification"] is None

    # The same claims the other way round: the stronger writer, second, archives the first.
    support = _ok(_claim(client, tenant, "cust-6", "Customer is on the Starter plan.", "support-service"))["results"][0]
    billing = _ok(_claim(client, tenant, "cust-6", "Customer is on the Growth plan.", "billing-service"))["results"][0]
    assert billing["resolution"]["outcome"] == "won" and billing["resolution"]["other_memory_id"] == support["id"]
    by_id = {m["id"]: m for m in _memories(client, tenant, "cust-6")}
    assert by_id[support["id"]]["status"] == "archived" and by_id[billing["id"]]["status"] == "active"
    assert [v["event"] for v in _history(client, tenant, "cust-6", support["id"])] == ["ADD", "ARCHIVE"]
    # Not a silent choice: no review and no clarification either way.
    assert _ok(client.get("/v1/tenant/reviews", headers=tenant.jwt_headers()))["data"] == []


def test_with_equal_authority_the_newer_observation_wins(client: TestClient, tenant: TenantHandle) -> None:
    _writer(client, tenant, "crm")
    _writer(client, tenant, "sales")
    newer = _ok(_claim(client, tenant, "cust-7", "Customer has 40 seats.", "crm", observed_at="2026-03-02T09:00:00+00:00"))
    older = _ok(_claim(client, tenant, "cust-7", "Customer has 25 seats.", "sales", observed_at="2026-03-01T09:00:00+00:00"))
    assert older["results"][0]["resolution"]["outcome"] == "lost"
    assert "crm observed it later" in older["results"][0]["resolution"]["reason"]
    active = [m["content"] for m in _memories(client, tenant, "cust-7") if m["status"] == "active"]
    assert active == [newer["results"][0]["memory"]]


def test_a_tie_opens_a_tenant_review_never_a_silent_choice(client: TestClient, tenant: TenantHandle) -> None:
    _writer(client, tenant, "crm", authority_rules={"categories": {"fact": 60}})
    _writer(client, tenant, "sales", authority_rules={"categories": {"fact": 60}})
    first = _ok(_claim(client, tenant, "cust-8", "Customer has 40 seats.", "crm", observed_at=OBSERVED))["results"][0]
    second = _ok(_claim(client, tenant, "cust-8", "Customer has 25 seats.", "sales", observed_at=OBSERVED))["results"][0]
    assert second["event"] == "CONFLICT" and second["resolution"]["outcome"] == "review"
    review_id = second["resolution"]["review_id"]
    assert review_id.startswith("rev_")

    memories = {m["id"]: m for m in _memories(client, tenant, "cust-8")}
    assert all(m["status"] == "active" and m["disputed"] for m in memories.values()) and len(memories) == 2
    # The end-user is not asked (it is the tenant's services that disagree).
    retrieved = _ok(client.post("/v1/memories/retrieve", json={"query": "seats"}, headers=tenant.key_headers("cust-8")))
    assert retrieved["clarification"] is None
    [review] = _ok(client.get("/v1/tenant/reviews", headers=tenant.jwt_headers()))["data"]
    assert review["id"] == review_id and review["external_user_id"] == "cust-8"
    assert {review["memory_a"]["id"], review["memory_b"]["id"]} == {first["id"], second["id"]}
    assert review["memory_a"]["provenance"]["service"] == "crm" and review["memory_b"]["provenance"]["service"] == "sales"
    # The end-user's clarification route does not reach the tenant's review.
    asked = client.post(
        f"/v1/memories/clarifications/{review_id}/answer", json={"answer": "A"}, headers=tenant.key_headers("cust-8")
    )
    _error(asked, 404, "CLR_404")

    answered = _ok(client.post(f"/v1/tenant/reviews/{review_id}/answer", json={"answer": "B"}, headers=tenant.jwt_headers()))
    assert answered["data"]["archived_memory_ids"] == [first["id"]]
    memories = {m["id"]: m for m in _memories(client, tenant, "cust-8")}
    assert memories[first["id"]]["status"] == "archived" and memories[second["id"]]["status"] == "active"
    assert not memories[second["id"]]["disputed"]
    assert _ok(client.get("/v1/tenant/reviews", headers=tenant.jwt_headers()))["data"] == []
    resolved = _ok(client.get("/v1/tenant/reviews?status=resolved", headers=tenant.jwt_headers()))["data"]
    assert [r["id"] for r in resolved] == [review_id]


def test_a_stronger_claim_settles_every_claim_it_contradicts(client: TestClient, tenant: TenantHandle) -> None:
    """Two tied claims await review; a third service with more authority outranks both: both are
    archived, the review closes, and nothing contradicting is left standing."""
    _writer(client, tenant, "crm", authority_rules={"categories": {"fact": 60}})
    _writer(client, tenant, "sales", authority_rules={"categories": {"fact": 60}})
    _writer(client, tenant, "billing", authority_rules={"categories": {"fact": 90}})
    forty = _ok(_claim(client, tenant, "cust-10", "Customer has 40 seats.", "crm", observed_at=OBSERVED))["results"][0]
    tied = _ok(_claim(client, tenant, "cust-10", "Customer has 25 seats.", "sales", observed_at=OBSERVED))["results"][0]
    assert tied["resolution"]["outcome"] == "review"
    thirty = _ok(_claim(client, tenant, "cust-10", "Customer has 30 seats.", "billing"))["results"][0]
    assert thirty["event"] == "ADD" and thirty["resolution"]["outcome"] == "won"
    memories = {m["id"]: m for m in _memories(client, tenant, "cust-10")}
    assert memories[thirty["id"]]["status"] == "active" and not memories[thirty["id"]]["disputed"]
    assert memories[forty["id"]]["status"] == memories[tied["id"]]["status"] == "archived"
    assert _ok(client.get("/v1/tenant/reviews", headers=tenant.jwt_headers()))["data"] == []
    for loser in (forty["id"], tied["id"]):
        assert "billing (authority 90 for fact) outranks" in _history(client, tenant, "cust-10", loser)[-1]["note"]


def test_a_claim_against_the_end_users_own_words_asks_the_end_user(client: TestClient, tenant: TenantHandle) -> None:
    _writer(client, tenant, "crm", authority_rules={"default_priority": 100})
    own = _ok(
        client.post(
            "/v1/memories/add",
            json={"messages": [{"role": "user", "content": "I have 40 seats."}]},
            headers=tenant.key_headers("cust-9"),
        )
    )["results"][0]
    claimed = _ok(_claim(client, tenant, "cust-9", "Customer has 25 seats.", "crm"))["results"][0]
    assert claimed["event"] == "CONFLICT" and "resolution" not in claimed
    retrieved = _ok(client.post("/v1/memories/retrieve", json={"query": "seats"}, headers=tenant.key_headers("cust-9")))
    assert retrieved["clarification"] is not None
    assert {o["memory_id"] for o in retrieved["clarification"]["options"][:2]} == {own["id"], claimed["id"]}


# --- source events ----------------------------------------------------------------------------------


def test_source_events_are_listed_filtered_and_paged(client: TestClient, tenant: TenantHandle) -> None:
    _writer(client, tenant, "billing")
    _writer(client, tenant, "support")
    _ok(_claim(client, tenant, "ann", "Customer is on the Growth plan.", "billing", event_id="b-1", evidence=[{"source_type": "invoice", "reference": "inv-1"}]))
    _ok(_claim(client, tenant, "ann", "Customer prefers email over phone calls.", "support", event_id="s-1", scope={"ticket": "T-9"}))
    _ok(_claim(client, tenant, "bob", "Customer has 3 seats.", "billing", event_id="b-2"))

    everything = _ok(client.get("/v1/tenant/source-events", headers=tenant.jwt_headers()))
    assert [e["event_id"] for e in everything["data"]] == ["b-2", "s-1", "b-1"]
    assert everything["pagination"]["total"] == 3
    by_event = {e["event_id"]: e for e in everything["data"]}
    assert by_event["s-1"]["scope"] == {"ticket": "T-9"} and by_event["s-1"]["external_user_id"] == "ann"
    assert by_event["b-1"]["evidence"] == [{"source_type": "invoice", "reference": "inv-1", "content_hash": None}]
    assert by_event["b-1"]["job_id"].startswith("job_") and len(by_event["b-1"]["payload_hash"]) == 64
    assert len(by_event["b-1"]["memory_ids"]) == 1

    anns = _ok(client.get("/v1/tenant/source-events?external_user_id=ann", headers=tenant.jwt_headers()))["data"]
    assert [e["event_id"] for e in anns] == ["s-1", "b-1"]
    billing = _ok(client.get("/v1/tenant/source-events?source_service=billing", headers=tenant.jwt_headers()))["data"]
    assert [e["event_id"] for e in billing] == ["b-2", "b-1"]
    both = _ok(
        client.get("/v1/tenant/source-events?source_service=billing&external_user_id=ann", headers=tenant.jwt_headers())
    )["data"]
    assert [e["event_id"] for e in both] == ["b-1"]
    assert _ok(client.get("/v1/tenant/source-events?external_user_id=nobody", headers=tenant.jwt_headers()))["data"] == []

    first = _ok(client.get("/v1/tenant/source-events?limit=2", headers=tenant.jwt_headers()))
    assert [e["event_id"] for e in first["data"]] == ["b-2", "s-1"]
    cursor = first["pagination"]["next_cursor"]
    rest = _ok(client.get(f"/v1/tenant/source-events?limit=2&cursor={cursor}", headers=tenant.jwt_headers()))
    assert [e["event_id"] for e in rest["data"]] == ["b-1"] and rest["pagination"]["next_cursor"] is None
    _error(client.get("/v1/tenant/source-events?cursor=nonsense", headers=tenant.jwt_headers()), 400, "REQ_400")
    # A tenant backend reads them too.
    assert _ok(client.get("/v1/tenant/source-events", headers=tenant.key_headers()))["pagination"]["total"] == 3


def test_erasing_an_end_user_removes_their_source_events(client: TestClient, tenant: TenantHandle) -> None:
    _writer(client, tenant, "billing")
    _ok(_claim(client, tenant, "gone", "Customer is on the Growth plan.", "billing", event_id="g-1"))
    _ok(_claim(client, tenant, "kept", "Customer is on the Growth plan.", "billing", event_id="k-1"))
    assert client.delete("/v1/users/gone", headers=tenant.jwt_headers()).status_code == 200
    events = _ok(client.get("/v1/tenant/source-events", headers=tenant.jwt_headers()))["data"]
    assert [e["event_id"] for e in events] == ["k-1"]
    # The erased end-user's event id is free again (nothing of theirs is left to replay).
    assert _ok(_claim(client, tenant, "gone", "Customer is on the Starter plan.", "billing", event_id="g-1"))["results"]


# --- another tenant ---------------------------------------------------------------------------------


def test_another_tenant_can_neither_see_nor_use_the_writers_or_events(client: TestClient, new_tenant: Any) -> None:
    a: TenantHandle = new_tenant("A")
    b: TenantHandle = new_tenant("B")
    key_id, _ = _new_key(client, a, "billing")
    _writer(client, a, "billing-service", api_key_id=key_id)
    _writer(client, a, "support-service")
    _ok(_claim(client, a, "shared-id", "Customer is on the Growth plan.", "support-service", event_id="evt-1"))

    assert _ok(client.get("/v1/tenant/service-writers", headers=b.jwt_headers()))["data"] == []
    _error(client.get("/v1/tenant/service-writers/support-service", headers=b.jwt_headers()), 404, "PROV_404")
    _error(client.patch("/v1/tenant/service-writers/support-service", json={"display_name": "x"}, headers=b.jwt_headers()), 404, "PROV_404")
    _error(client.delete("/v1/tenant/service-writers/support-service", headers=b.jwt_headers()), 404, "PROV_404")
    assert _ok(client.get("/v1/tenant/source-events", headers=b.jwt_headers()))["data"] == []
    assert _ok(client.get("/v1/tenant/source-events?external_user_id=shared-id", headers=b.jwt_headers()))["data"] == []
    # B cannot claim through A's writer, nor bind its own writer to A's key.
    _error(_claim(client, b, "shared-id", "Customer is on the Starter plan.", "support-service"), 404, "PROV_404")
    bound = client.post(
        "/v1/tenant/service-writers", json={"service_key": "billing-service", "api_key_id": key_id}, headers=b.jwt_headers()
    )
    _error(bound, 422, "PROV_422")
    # B's own writer of the same name, and the same event id, are B's alone.
    _writer(client, b, "support-service")
    mine = _ok(_claim(client, b, "shared-id", "Customer is on the Starter plan.", "support-service", event_id="evt-1"))
    assert mine["results"][0]["event"] == "ADD" and "resolution" not in mine["results"][0]
    [a_event] = _ok(client.get("/v1/tenant/source-events", headers=a.jwt_headers()))["data"]
    [b_event] = _ok(client.get("/v1/tenant/source-events", headers=b.jwt_headers()))["data"]
    assert a_event["id"] != b_event["id"]
    assert [m["status"] for m in _memories(client, a, "shared-id")] == ["active"]


def test_concurrent_deliveries_of_one_event_write_once(
    client: TestClient, live_server: LiveServer, tenant: TenantHandle
) -> None:
    _writer(client, tenant, "billing")
    body = {
        "external_user_id": "dora",
        "messages": [{"role": "assistant", "content": "Customer is on the Growth plan."}],
        "source": {"service": "billing", "event_id": "webhook-1"},
    }
    barrier = threading.Barrier(6)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def deliver() -> None:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            barrier.wait()
            response = http.post("/v1/memories/add", json=body, headers=tenant.key_headers())
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
    assert len({r.content for r in answers}) == 1
    assert len(_memories(client, tenant, "dora")) == 1
    assert _ok(client.get("/v1/tenant/source-events", headers=tenant.jwt_headers()))["pagination"]["total"] == 1


def test_a_memorys_provenance_history_for_the_dashboard(client: TestClient, new_tenant: Any) -> None:
    """The service method a dashboard page calls: a memory's versions with the claims behind them."""
    tenant: TenantHandle = new_tenant("Dash")
    other: TenantHandle = new_tenant("Other")
    _writer(client, tenant, "billing", display_name="Billing", authority_rules={"categories": {"fact": 80}})
    _writer(client, tenant, "support")
    _ok(_claim(client, tenant, "eve", "Customer is on the Growth plan.", "billing", event_id="b-9"))
    lost = _ok(_claim(client, tenant, "eve", "Customer is on the Starter plan.", "support", event_id="s-9"))["results"][0]
    services = client.app.state.services  # type: ignore[attr-defined]
    identity = services.identity

    def principal(handle: TenantHandle) -> Any:
        return identity.authenticate_request(authorization=f"Bearer {handle.jwt}", x_api_key=None)

    with services.runtime.db.session(write=False) as session:
        versions = services.provenance.memory_history(session, principal(tenant), lost["id"])
        assert [v.event for v in versions] == ["ADD", "ARCHIVE"]
        assert versions[0].source is not None and versions[0].source.service == "support"
        assert versions[0].source.event_id == "s-9" and versions[0].source.observed_at is not None
        assert versions[1].note is not None and "Billing" not in versions[1].note and "billing" in versions[1].note
        writers = services.provenance.list_writers(session, principal(tenant))
        assert [w.display_name for w in writers] == ["Billing", "support"]
        page = services.provenance.list_events(session, principal(tenant), external_user_id="eve")
        assert [e.event_id for e in page.items] == ["s-9", "b-9"]
        with pytest.raises(MemoryNotFound):
            services.provenance.memory_history(session, principal(other), lost["id"])
