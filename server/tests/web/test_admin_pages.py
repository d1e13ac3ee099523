"""The operator console over HTTP: who may enter, verifying and rejecting agents, organisations,
dead extraction jobs."""

from __future__ import annotations

import secrets

from fastapi import FastAPI
from fastapi.testclient import TestClient

from collections.abc import Callable

from memoryos_server.storage.models import Job
from tests.api.test_memory_jobs import BrokenEmbedder, _queued_add, _wait_for_job, isolated_app  # noqa: F401
from tests.fixtures.factories import create_tenant
from tests.fixtures.llm import MARATHON_MESSAGE, FakeLLM
from tests.fixtures.dashboard import dashboard_browser, post_form
from tests.fixtures.factories import PASSWORD, TenantHandle
from tests.fixtures.pages import csrf_of, text_of
from tests.fixtures.passport import create_agent


def operator_browser(app: FastAPI) -> TestClient:
    services = app.state.services
    email = f"operator-{secrets.token_hex(4)}@example.com"
    with services.runtime.db.session() as session:
        services.identity.create_dashboard_user(session, email=email, password=PASSWORD, tenant=None, platform_role="admin")
    return dashboard_browser(app, email)


def test_only_operators_enter(app: FastAPI, tenant: TenantHandle) -> None:
    member = dashboard_browser(app, tenant.owner_email)
    assert member.get("/admin").status_code == 403
    token = csrf_of(member.get("/dashboard").text)
    agent = create_agent(tenant)
    forged = member.post(f"/admin/agents/{agent.id}/verify", data={"csrf_token": token})
    assert forged.status_code == 403
    login = member.get("/admin/login", follow_redirects=False)
    assert login.status_code == 303  # signed in already
    operator = operator_browser(app)
    assert operator.get("/admin").status_code == 200
    assert "no organisation" in text_of(operator.get("/dashboard").text).lower()
    # An operator reads no organisation's end-users, memories or reviews.
    for path in ("/dashboard/users", "/dashboard/reviews", "/dashboard/playground", "/dashboard/passport", "/dashboard/sources"):
        assert operator.get(path).status_code == 403, path


def test_verify_and_reject_with_a_note_the_owners_see(app: FastAPI, client: TestClient, tenant: TenantHandle) -> None:
    good, bad = create_agent(tenant, name="Good Agent"), create_agent(tenant, name="Bad Agent")
    operator = operator_browser(app)
    pending = operator.get("/admin")
    assert good.id in pending.text and bad.id in pending.text and tenant.tenant_id in pending.text
    verified = post_form(operator, "/admin", f"/admin/agents/{good.id}/verify", {"note": ""})
    assert verified.status_code == 303  # type: ignore[attr-defined]
    rejected = post_form(operator, "/admin", f"/admin/agents/{bad.id}/reject", {"note": "Website does not match the name."})
    assert rejected.status_code == 303  # type: ignore[attr-defined]
    assert client.get(f"/v1/agents/global/{good.id}").json()["data"]["verification_status"] == "verified"
    owner = dashboard_browser(app, tenant.owner_email)
    page = text_of(owner.get("/dashboard/passport").text)
    assert "Verified by MemoryOS" in page and "Rejected by MemoryOS" in page
    assert "Operator's note: Website does not match the name." in page
    assert good.id not in operator.get("/admin").text  # no longer pending
    assert good.id in operator.get("/admin?status=verified").text


def test_organisations_show_counts(app: FastAPI, tenant: TenantHandle) -> None:
    create_agent(tenant)
    operator = operator_browser(app)
    page = operator.get("/admin/organisations")
    assert page.status_code == 200 and tenant.tenant_id in page.text


def test_dead_jobs_retry_and_drop(isolated_app: Callable[..., TestClient]) -> None:
    """Jobs that died on a broken embedder: the console lists them with their error (never their
    messages); retrying one once the embedder is back runs it, dropping one erases its messages."""
    with FakeLLM() as llm:
        client = isolated_app(llm_base_url=llm.url, job_max_attempts=1)
        app = client.app
        runtime = app.state.runtime  # type: ignore[attr-defined]
        working = runtime.embedder
        runtime.use_embedder(BrokenEmbedder())
        tenant = create_tenant(client)
        first = _queued_add(client, tenant, MARATHON_MESSAGE)["job_id"]
        second = _queued_add(client, tenant, MARATHON_MESSAGE)["job_id"]
        for job_id in (first, second):
            assert _wait_for_job(client, tenant, job_id)["status"] == "dead"
        operator = operator_browser(app)  # type: ignore[arg-type]
        page = operator.get("/admin/jobs")
        assert first in page.text and "service_unavailable" in page.text and "marathon" not in page.text.lower()
        runtime.use_embedder(working)
        retried = post_form(operator, "/admin/jobs", f"/admin/jobs/{first}/retry", {})
        assert retried.status_code == 303  # type: ignore[attr-defined]
        assert _wait_for_job(client, tenant, first)["status"] == "completed"
        dropped = post_form(operator, "/admin/jobs", f"/admin/jobs/{second}/drop", {})
        assert dropped.status_code == 303  # type: ignore[attr-defined]
    with runtime.db.session(write=False) as session:
        gone = session.get(Job, second)
        assert gone is not None and gone.status == "dropped" and gone.payload_ct is None
    assert f"/admin/jobs/{second}/drop" not in operator.get("/admin/jobs").text
    member = dashboard_browser(app, tenant.owner_email)  # type: ignore[arg-type]
    token = csrf_of(member.get("/dashboard").text)
    assert member.post(f"/admin/jobs/{first}/drop", data={"csrf_token": token}).status_code == 403
