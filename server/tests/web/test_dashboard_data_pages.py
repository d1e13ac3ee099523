"""The dashboard's End-users and Review queue over HTTP, each role seeing what SPEC §4 allows."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.fixtures.dashboard import dashboard_browser, post_form
from tests.fixtures.factories import TenantHandle
from tests.fixtures.pages import csrf_of, text_of


def _remember(client: TestClient, tenant: TenantHandle, end_user: str, text: str) -> None:
    added = client.post("/v1/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=tenant.key_headers(end_user))
    assert added.status_code == 200, added.text


def test_end_users_list_memories_export_and_delete(app: FastAPI, client: TestClient, tenant: TenantHandle) -> None:
    _remember(client, tenant, "alice", "I live in Lisbon and I am allergic to peanuts.")
    _remember(client, tenant, "alice", "I live in Porto now.")
    owner = dashboard_browser(app, tenant.owner_email)
    listed = owner.get("/dashboard/users")
    assert listed.status_code == 200 and "alice" in listed.text
    public_id = client.get("/v1/users/alice", headers=tenant.key_headers()).json()["data"]["public_id"]
    page = owner.get(f"/dashboard/users/{public_id}")
    assert "Lisbon" in page.text and "Export as JSON" in page.text and "Delete end-user" in page.text
    exported = owner.get(f"/dashboard/users/{public_id}/export")
    assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
    assert json.loads(exported.text)["external_user_id"] == "alice"

    viewer = dashboard_browser(app, tenant.add_member("viewer").email)
    seen = viewer.get(f"/dashboard/users/{public_id}")
    assert seen.status_code == 200 and "Lisbon" not in seen.text and "Export as JSON" not in seen.text
    assert viewer.get(f"/dashboard/users/{public_id}/export").status_code == 403
    token = csrf_of(seen.text)
    assert viewer.post(f"/dashboard/users/{public_id}/delete", data={"csrf_token": token, "confirm": "yes"}).status_code == 403

    path = f"/dashboard/users/{public_id}/delete"
    assert "Delete end-user" in owner.get(path).text
    deleted = post_form(owner, path, path, {"confirm": "yes"})
    assert deleted.status_code == 303  # type: ignore[attr-defined]
    assert client.get("/v1/users/alice", headers=tenant.key_headers()).status_code == 404
    audit = text_of(owner.get("/dashboard/audit").text)
    assert "end_user.deleted" in audit  # the erasure is on the organisation's audit trail


def test_the_review_queue_answers_a_workspace_conflict(app: FastAPI, client: TestClient, tenant: TenantHandle) -> None:
    for text in ("Our support line opens at 8am", "Our support line opens at 9am"):
        added = client.post("/v1/workspace/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=tenant.jwt_headers())
        assert added.status_code == 200
    analyst = dashboard_browser(app, tenant.add_member("analyst").email)
    page = analyst.get("/dashboard/reviews")
    assert "Support line opens at 8am" in page.text and 'value="both"' not in page.text  # analysts read reviews
    owner = dashboard_browser(app, tenant.owner_email)
    queue = owner.get("/dashboard/reviews")
    review_id = client.get("/v1/tenant/reviews", headers=tenant.jwt_headers()).json()["data"][0]["id"]
    assert f"/dashboard/reviews/{review_id}/answer" in queue.text
    refused = analyst.post(f"/dashboard/reviews/{review_id}/answer", data={"csrf_token": csrf_of(page.text), "answer": "A"})
    assert refused.status_code == 403
    answered = owner.post(f"/dashboard/reviews/{review_id}/answer", data={"csrf_token": csrf_of(queue.text), "answer": "both"}, follow_redirects=False)
    assert answered.status_code == 303
    assert client.get("/v1/tenant/reviews", headers=tenant.jwt_headers()).json()["data"] == []
    assert "Support line opens at 9am" in text_of(owner.get("/dashboard/reviews?show=answered").text)


def test_the_playground_adds_and_retrieves_for_the_member_alone(app: FastAPI, client: TestClient, tenant: TenantHandle) -> None:
    owner = dashboard_browser(app, tenant.owner_email)
    added = post_form(owner, "/dashboard/playground", "/dashboard/playground/add", {"message": "I live in Lisbon and I prefer short answers."})
    assert added.status_code == 303  # type: ignore[attr-defined]
    assert "Remembered" in text_of(owner.get("/dashboard/playground").text)
    page = text_of(owner.get("/dashboard/playground", params={"query": "where does this person live"}).text)
    assert "Lives in Lisbon" in page and "The prompt block the agent would get" in page
    # The member's own memories: no end-user of the organisation sees them.
    assert client.get("/v1/memories", headers=tenant.key_headers("alice")).json()["data"] == []
    viewer = dashboard_browser(app, tenant.add_member("viewer").email)
    seen = viewer.get("/dashboard/playground")
    assert seen.status_code == 200 and "Add message" not in seen.text
    refused = viewer.post("/dashboard/playground/add", data={"csrf_token": csrf_of(seen.text), "message": "x"})
    assert refused.status_code == 403


def test_usage_counts_adds_retrievals_and_grants_per_day(app: FastAPI, client: TestClient, tenant: TenantHandle) -> None:
    from memoryos_server.storage.types import utcnow
    from tests.fixtures.passport import create_agent, sign_in

    _remember(client, tenant, "bob", "I live in Lisbon.")
    found = client.post("/v1/memories/retrieve", json={"query": "where"}, headers=tenant.key_headers("bob"))
    assert found.status_code == 200
    agent = create_agent(tenant)
    sign_in(app, client, app.state.settings).grant(agent, ["fact"])
    app.state.services.memory.flush_access()  # what the background worker does every few seconds
    analyst = dashboard_browser(app, tenant.add_member("analyst").email)
    page = analyst.get("/dashboard/usage")
    assert page.status_code == 200 and "<svg" in page.text and "<script" not in page.text.split("</header>")[1]
    today = utcnow().date().isoformat()
    row = text_of(page.text).rsplit(today, 1)[1].split()[:4]  # the table, after the charts
    assert row == ["1", "1", "1", "1"], row  # new memories, adds, retrievals, active grants
    viewer = dashboard_browser(app, tenant.add_member("viewer").email)
    assert viewer.get("/dashboard/usage").status_code == 200  # SPEC §4: readers read usage


def test_sources_register_a_writer_and_list_its_events(app: FastAPI, client: TestClient, tenant: TenantHandle) -> None:
    owner = dashboard_browser(app, tenant.owner_email)
    made = post_form(owner, "/dashboard/sources", "/dashboard/sources", {"service_key": "billing-service", "display_name": "Billing", "default_priority": "70"})
    assert made.status_code == 303  # type: ignore[attr-defined]
    bad = post_form(owner, "/dashboard/sources", "/dashboard/sources", {"service_key": "Not A Key"})
    assert bad.status_code == 400  # type: ignore[attr-defined]
    claimed = client.post(
        "/v1/memories/add",
        json={"external_user_id": "carol", "messages": [{"role": "assistant", "content": "Carol's plan is Pro."}], "source": {"service": "billing-service", "event_id": "invoice_evt_1"}},
        headers=tenant.key_headers(),
    )
    assert claimed.status_code == 200, claimed.text
    page = text_of(owner.get("/dashboard/sources").text)
    assert "billing-service" in page and "Billing" in page and "invoice_evt_1" in page and "carol" in page
    viewer = dashboard_browser(app, tenant.add_member("viewer").email)
    assert viewer.get("/dashboard/sources").status_code == 403  # provenance is read by analysts and up
    analyst = dashboard_browser(app, tenant.add_member("analyst").email)
    seen = analyst.get("/dashboard/sources")
    assert seen.status_code == 200 and "Register service writer" not in seen.text
    assert analyst.post("/dashboard/sources", data={"csrf_token": csrf_of(seen.text), "service_key": "x"}).status_code == 403
    path = "/dashboard/sources/billing-service/delete"
    removed = post_form(owner, path, path, {"confirm": "yes"})
    assert removed.status_code == 303  # type: ignore[attr-defined]
    assert client.get("/v1/tenant/service-writers", headers=tenant.jwt_headers()).json()["data"] == []
