"""One script of every tenant memory call the published SDK makes, run against our live server
twice: under the PUBLISHED SDK (``memoryo-sdk`` 0.1.1, unchanged, in its own virtual
environment) and under OUR SDK (this project's interpreter), with the same assertions, so the
superset keeps the published behaviour end to end, not only against a mock transport."""

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

SCRIPT = Path(__file__).with_name("published_contract_script.py")
SDK_SOURCE = Path(__file__).resolve().parents[3] / "sdk" / "src" / "memoryos"


def register_billing_writer(tenant: TenantHandle) -> None:
    """The script's first add is a claim of the "billing" service (``Memory.source``): a writer
    the tenant registers first, as the published SDK's README says."""
    created = tenant.client.post("/v1/tenant/service-writers", json={"service_key": "billing"}, headers=tenant.jwt_headers())
    assert created.status_code == 201, created.text


def test_the_published_sdk_drives_the_tenant_memory_api(
    live_server: LiveServer,
    tenant: TenantHandle,
    published_sdk_runner: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    register_billing_writer(tenant)
    user = f"sdk-user-{secrets.token_hex(4)}"
    completed = published_sdk_runner(SCRIPT, live_server.url, tenant.api_key, user, timeout=180)
    assert_the_contract_holds(json.loads(completed.stdout.strip().splitlines()[-1]), tenant)


def test_our_sdk_drives_the_tenant_memory_api_the_same_way(live_server: LiveServer, tenant: TenantHandle) -> None:
    register_billing_writer(tenant)
    user = f"sdk-user-{secrets.token_hex(4)}"
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), live_server.url, tenant.api_key, user],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr
    # The script imported this project's SDK, not the published one.
    probe = subprocess.run(
        [sys.executable, "-c", "import memoryos, memoryos.universal; print(memoryos.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0 and str(SDK_SOURCE) in probe.stdout, probe.stdout + probe.stderr
    assert_the_contract_holds(json.loads(completed.stdout.strip().splitlines()[-1]), tenant)


def assert_the_contract_holds(out: dict[str, Any], tenant: TenantHandle) -> None:
    assert out["add"]["status"] == "completed" and out["add"]["job_id"].startswith("job_")
    assert out["add"]["quota_mode"] == "FULL" and out["add"]["nothing_to_extract"] is False
    assert out["add_repeat_job_id"] == out["add"]["job_id"]  # the idempotent repeat replayed
    assert out["add_reused_key"] == {"status_code": 422, "code": "REQ_422"}
    assert out["job"]["status"] == out["waited"]["status"] == "completed"
    assert out["job"]["memories_created"] == 1 and len(out["job"]["created_memory_ids"]) == 1

    got = out["get"]
    assert got["has_context"] and got["quota_mode"] == "FULL"
    assert not got["is_degraded"] and not got["is_passthrough"] and got["retrieval_id"]
    [item] = got["items"]
    assert item["category"] == "preference" and "Python examples" in item["content"]
    assert item["id"] == out["job"]["created_memory_ids"][0]

    feedback = out["feedback"]
    assert feedback["retrieval_id"] == got["retrieval_id"] and feedback["outcome"] == "used_successfully"
    assert feedback["feedback_id"].startswith("fbk_") and feedback["correction_job_id"] is None
    assert out["edtech_profile"] is None  # no domain schema is enabled
    assert out["source_review"] == {"status_code": 404, "code": "CLR_404"}  # none are ever issued

    clarification = out["clarification"]
    assert clarification and [o["answer"] for o in clarification["options"]] == ["A", "B", "both", "neither"]
    assert out["clarification_question"] == clarification["question"]
    assert out["answer"] == {
        "resolved": True,
        "clarification_id": clarification["id"],
        "conflict_id": clarification["conflict_id"],
        "resolution": "B",
    }

    listed = out["list"]
    assert listed["total"] == 3 and len(listed["ids"]) == len(set(listed["ids"])) == 3
    archived = [m for m in listed["items"] if m["is_archived"]]
    assert [m["content"] for m in archived] == ["Exam is on March 10"]
    assert {m["category"] for m in listed["items"]} == {"preference", "fact"}
    [first] = [m for m in listed["items"] if m["category"] == "preference"]
    assert first["agent_id"] == "support-bot" and first["source_conversation_id"] == "conv-1"
    assert first["metadata"] == {"channel": "chat"}
    # The claim points to its source event; its provenance keeps the SDK's own event id.
    assert first["source_event_id"].startswith("sev_")
    assert first["provenance"]["service"] == "billing" and first["provenance"]["event_id"].startswith("sdk-")
    assert first["provenance"]["scope"] == {"plan": "pro"}

    exported = out["export"]
    assert exported["tenant_id"] == tenant.tenant_id and len(exported["memories"]) == 3
    assert all(m["versions"] for m in exported["memories"])

    assert out["delete"] is True
    assert out["delete_again"] == {"status_code": 404, "code": "MEM_404"}
    assert len(out["list_after_delete"]) == 2
    assert out["async_get"]["quota_mode"] == "FULL"
    assert out["async_get"]["items"] == ["Exam is on March 15"]
