"""The published SDK's multi-service mode (its README, its own ``Memory.source``) against our live
server, on SQLite and PostgreSQL: two services disagree about the plan and authority decides;
equal authority opens a review; a replayed event writes nothing; a changed payload is refused;
a writer bound to a key refuses another key. The same script runs under our SDK too."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fixtures.app import LiveServer
from tests.fixtures.factories import TenantHandle

SCRIPT = Path(__file__).with_name("published_multiservice_script.py")


def register_writers(tenant: TenantHandle) -> str:
    """The writers the script names; returns the raw key ledger-service is bound to."""
    client = tenant.client
    key = client.post("/v1/tenant/api-keys", json={"name": "ledger"}, headers=tenant.jwt_headers())
    assert key.status_code == 201, key.text
    writers: list[dict[str, Any]] = [
        {"service_key": "billing-service", "display_name": "Billing", "authority_rules": {"default_priority": 50, "categories": {"fact": 80}}},
        {"service_key": "support-service", "display_name": "Support", "authority_rules": {"default_priority": 50}},
        {"service_key": "crm-service", "authority_rules": {"categories": {"fact": 60}}},
        {"service_key": "sales-service", "authority_rules": {"categories": {"fact": 60}}},
        {"service_key": "ledger-service", "api_key_id": key.json()["data"]["id"]},
    ]
    for writer in writers:
        created = client.post("/v1/tenant/service-writers", json=writer, headers=tenant.jwt_headers())
        assert created.status_code == 201, created.text
    return str(key.json()["data"]["raw_api_key"])


def test_the_published_sdks_multi_service_mode(
    live_server: LiveServer,
    tenant: TenantHandle,
    published_sdk_runner: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    ledger_key = register_writers(tenant)
    run = secrets.token_hex(4)
    completed = published_sdk_runner(SCRIPT, live_server.url, tenant.api_key, ledger_key, run, timeout=180)
    assert_multi_service_mode_holds(json.loads(completed.stdout.strip().splitlines()[-1]), tenant, run)


def test_our_sdk_runs_the_same_multi_service_script(live_server: LiveServer, tenant: TenantHandle) -> None:
    ledger_key = register_writers(tenant)
    run = secrets.token_hex(4)
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), live_server.url, tenant.api_key, ledger_key, run],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr
    assert_multi_service_mode_holds(json.loads(completed.stdout.strip().splitlines()[-1]), tenant, run)


def assert_multi_service_mode_holds(out: dict[str, Any], tenant: TenantHandle, run: str) -> None:
    readme = out["readme"]
    assert readme["first"]["status"] == "completed" and readme["first"]["nothing_to_extract"] is False
    # "Customer support previously saw …" is about the support team, not a claim about the customer.
    assert readme["second"]["status"] == "completed"

    # Billing (authority 80 for facts) said Growth; support (50) said Starter: Starter is archived.
    plan = {record["content"]: record for record in out["plan_records"]}
    assert set(plan) == {"Is on the Growth plan", "Is on the Starter plan"}
    growth, starter = plan["Is on the Growth plan"], plan["Is on the Starter plan"]
    assert growth["is_archived"] is False and starter["is_archived"] is True
    assert growth["source_event_id"].startswith("sev_") and growth["source_event_id"] != starter["source_event_id"]
    assert growth["provenance"]["service"] == "billing-service"
    assert growth["provenance"]["event_id"] == "invoice_evt_8842"
    assert growth["provenance"]["scope"] == {"workspace_id": "ws_123"}
    assert growth["provenance"]["evidence"][0]["reference"] == "invoice_evt_8842"
    assert starter["provenance"]["service"] == "support-service" and starter["provenance"]["event_id"].startswith("sdk-")
    [got] = out["plan_get"]
    assert got["id"] == growth["id"] and got["source_event_id"] == growth["source_event_id"]
    assert got["provenance"]["service"] == "billing-service"

    # The losing claim's history says who said what, and why it lost.
    history = _ok(tenant.client.get(f"/v1/memories/{starter['id']}/history", headers=tenant.key_headers(f"cust_123-{run}")))
    assert [v["event"] for v in history] == ["ADD", "ARCHIVE"]
    assert history[0]["source"]["service"] == "support-service" and history[0]["source"]["observed_at"]
    assert "billing-service (authority 80 for fact) outranks support-service (authority 50 for fact)" in history[-1]["note"]

    # Equal authority, same moment, same confidence: both stay, disputed, and the tenant reviews.
    tied = out["tie_records"]
    assert len(tied) == 2 and not any(record["is_archived"] for record in tied)
    reviews = _ok(tenant.client.get("/v1/tenant/reviews", headers=tenant.jwt_headers()))
    [review] = [r for r in reviews if r["external_user_id"] == f"cust_tie-{run}"]
    assert {review["memory_a"]["id"], review["memory_b"]["id"]} == {record["id"] for record in tied}
    assert review["memory_a"]["disputed"] and review["memory_b"]["disputed"]

    replay = out["replay"]
    assert replay["first_job"] == replay["second_job"]
    assert len(replay["records"]) == 1 and replay["records"][0]["content"] == "Renewed their annual subscription in March"
    assert out["changed_payload"] == {"status_code": 409, "code": "PROV_409", "not_found": False}
    assert out["records_after_refusal"] == 1

    assert out["unknown_service"] == {"status_code": 404, "code": "PROV_404", "not_found": True}
    assert out["bound_other_key"] == {"status_code": 403, "code": "PROV_403", "not_found": False}
    bound = out["bound_own_key"]
    assert bound["status"] == "completed" and [r["content"] for r in bound["records"]] == ["Has 7 seats"]
    assert bound["records"][0]["provenance"]["service"] == "ledger-service"

    events = _ok(tenant.client.get("/v1/tenant/source-events?source_service=billing-service", headers=tenant.jwt_headers()))
    assert sorted(e["event_id"] for e in events) == sorted(["invoice_evt_8842", f"renewal-{run}"])


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()["data"]
