"""The routes the published SDK calls beyond SPEC §5's list."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from memoryos_server.storage.models import AuditEvent, Tenant
from tests.fixtures.factories import TenantHandle


def test_feedback_is_recorded_for_the_callers_tenant_without_the_correction_text(
    client: TestClient, tenant: TenantHandle
) -> None:
    response = client.post(
        "/v1/memories/retrieval-feedback",
        json={"retrieval_id": "ret_1", "outcome": "user_corrected", "correction": "Actually prefers Hindi replies"},
        headers=tenant.key_headers(),
    )
    assert response.status_code == 200, response.text
    feedback_id = response.json()["data"]["feedback_id"]
    services = client.app.state.services  # type: ignore[attr-defined]
    with services.runtime.db.session(write=False) as session:
        events = session.execute(select(AuditEvent).where(AuditEvent.action == "retrieval.feedback")).scalars().all()
        [event] = [e for e in events if e.detail.get("feedback_id") == feedback_id]
        tenant_pk = session.execute(select(Tenant.id).where(Tenant.public_id == tenant.tenant_id)).scalar_one()
        assert event.tenant_id == tenant_pk
        assert event.detail["had_correction"] is True
        assert "Hindi" not in str(event.detail)


def test_feedback_input_is_validated(client: TestClient, tenant: TenantHandle) -> None:
    bad = client.post(
        "/v1/memories/retrieval-feedback", json={"retrieval_id": "r", "outcome": "great"}, headers=tenant.key_headers()
    )
    assert bad.status_code == 422 and bad.json()["code"] == "REQ_422"
    anonymous = client.post("/v1/memories/retrieval-feedback", json={"retrieval_id": "r", "outcome": "ignored"})
    assert anonymous.status_code == 401


def test_edtech_profile_is_null_and_source_reviews_do_not_exist(client: TestClient, tenant: TenantHandle) -> None:
    profile = client.get("/v1/memories/edtech-profile", params={"external_user_id": "u1"}, headers=tenant.key_headers())
    assert profile.status_code == 200 and profile.json()["data"] is None
    review = client.post(
        "/v1/memories/source-reviews/srv_1/answer",
        json={"external_user_id": "u1", "version": "1", "action": "dismiss"},
        headers=tenant.key_headers(),
    )
    assert review.status_code == 404 and review.json()["code"] == "CLR_404"
