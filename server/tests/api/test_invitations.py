"""Invitations (SPEC §5 members routes): adding someone reveals nothing and grants nothing until
the person at that address accepts, on both databases."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from memoryos_server.services.email import EmailDeliveryFailed, EmailService
from memoryos_server.services.members import MemberService
from memoryos_server.storage.models import Invitation
from memoryos_server.storage.types import utcnow
from tests.fixtures.app import free_port
from tests.fixtures.factories import PASSWORD, TenantHandle, create_tenant, invitation_code
from tests.fixtures.passport import outbox_messages


def _invite(client: TestClient, org: TenantHandle, email: str, role: str = "developer") -> dict[str, object]:
    response = client.post("/v1/tenant/members", json={"email": email, "role": role}, headers=org.jwt_headers())
    assert response.status_code == 201, response.text
    return dict(response.json()["data"])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _login(client: TestClient, email: str, tenant_id: str | None = None) -> int:
    body = {"email": email, "password": PASSWORD, **({"tenant_id": tenant_id} if tenant_id else {})}
    return client.post("/v1/auth/login", json=body).status_code


def _own_jwt(client: TestClient, email: str) -> dict[str, str]:
    login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200, login.text
    return _bearer(login.json()["data"]["access_token"])


def test_a_known_and_an_unknown_address_get_the_same_answer(client: TestClient) -> None:
    org, elsewhere = create_tenant(client, "Acme"), create_tenant(client, "Elsewhere")
    known = _invite(client, org, elsewhere.owner_email)
    unknown = _invite(client, org, "nobody-yet@example.com")
    assert known.keys() == unknown.keys()
    for answer in (known, unknown):
        assert answer["status"] == "invited" and answer["user_id"] is None and answer["role"] == "developer"
        assert str(answer["invitation_id"]).startswith("inv_")
    # Nothing was created or granted: no account for the unknown address, no membership for the known.
    assert _login(client, "nobody-yet@example.com") == 401
    assert _login(client, elsewhere.owner_email, org.tenant_id) == 401
    listed = client.get("/v1/tenant/members", headers=org.jwt_headers()).json()["data"]
    assert sorted(item["status"] for item in listed) == ["active", "invited", "invited"]
    # The old way of adding people (an admin-chosen password) is gone.
    with_password = client.post(
        "/v1/tenant/members", json={"email": "x@example.com", "role": "viewer", "password": PASSWORD}, headers=org.jwt_headers()
    )
    assert with_password.status_code == 422


def test_no_access_before_accepting_and_the_role_after(client: TestClient) -> None:
    org, person = create_tenant(client, "Acme"), create_tenant(client, "Home")
    invitation = _invite(client, org, person.owner_email.upper(), role="analyst")  # addresses match case-blind
    invitation_id = str(invitation["invitation_id"])
    code = invitation_code(client, person.owner_email.upper(), invitation_id)
    own = _own_jwt(client, person.owner_email)

    # Pending: the person sees the invitation, but cannot sign in to the organisation.
    [seen] = client.get("/v1/auth/invitations", headers=own).json()["data"]
    assert (seen["invitation_id"], seen["tenant_id"], seen["tenant_name"], seen["role"]) == (
        invitation_id, org.tenant_id, "Acme", "analyst"
    )
    assert _login(client, person.owner_email, org.tenant_id) == 401
    me = client.get("/v1/auth/me", headers=own).json()["data"]
    assert me["tenant_id"] == person.tenant_id

    # A wrong code changes nothing.
    wrong = client.post(f"/v1/auth/invitations/{invitation_id}/accept", json={"code": "invc_wrong"}, headers=own)
    assert wrong.status_code == 403 and wrong.json()["code"] == "INV_403"
    assert _login(client, person.owner_email, org.tenant_id) == 401

    accepted = client.post(f"/v1/auth/invitations/{invitation_id}/accept", json={"code": code}, headers=own)
    assert accepted.status_code == 200, accepted.text
    data = accepted.json()["data"]
    assert data["tenant"]["id"] == org.tenant_id and data["role"] == "analyst"
    in_org = _bearer(data["access_token"])
    me = client.get("/v1/auth/me", headers=in_org).json()["data"]
    assert (me["tenant_id"], me["role"]) == (org.tenant_id, "analyst")
    assert client.get("/v1/tenant/usage", headers=in_org).status_code == 200  # an analyst reads usage
    assert client.post("/v1/tenant/api-keys", json={"name": "x"}, headers=in_org).status_code == 403
    assert _login(client, person.owner_email, org.tenant_id) == 200
    listed = client.get("/v1/tenant/members", headers=org.jwt_headers()).json()["data"]
    assert [(m["status"], m["role"]) for m in listed if m["email"].lower() == person.owner_email] == [("active", "analyst")]
    # Used once: the code does not work again, and the invitation is no longer listed.
    again = client.post(f"/v1/auth/invitations/{invitation_id}/accept", json={"code": code}, headers=own)
    assert again.status_code == 404 and again.json()["code"] == "INV_404"
    assert client.get("/v1/auth/invitations", headers=own).json()["data"] == []


def test_a_new_address_creates_its_account_from_the_invitation(client: TestClient) -> None:
    org = create_tenant(client, "Acme")
    email = "first-time@example.com"
    invitation_id = str(_invite(client, org, email, role="viewer")["invitation_id"])
    code = invitation_code(client, email, invitation_id)
    short = client.post(f"/v1/auth/invitations/{invitation_id}/signup", json={"code": code, "password": "short"})
    assert short.status_code == 422
    wrong = client.post(f"/v1/auth/invitations/{invitation_id}/signup", json={"code": "invc_x", "password": PASSWORD})
    assert wrong.status_code == 403 and _login(client, email) == 401

    joined = client.post(f"/v1/auth/invitations/{invitation_id}/signup", json={"code": code, "password": PASSWORD})
    assert joined.status_code == 201, joined.text
    # The answer of an open sign-up, and the role joined.
    signed_up = client.post(
        "/v1/auth/signup", json={"email": f"open-{secrets.token_hex(4)}@example.com", "password": PASSWORD, "organization_name": "X"}
    )
    assert list(signed_up.json()["data"]) == ["user", "tenant", "access_token", "token_type", "expires_in"]
    assert list(joined.json()["data"]) == ["user", "tenant", "role", "access_token", "token_type", "expires_in"]
    assert joined.json()["data"]["user"]["email"] == email and joined.json()["data"]["tenant"]["name"] == "Acme"
    me = client.get("/v1/auth/me", headers=_bearer(joined.json()["data"]["access_token"])).json()["data"]
    assert (me["tenant_id"], me["role"], me["email"]) == (org.tenant_id, "viewer", email)
    assert _login(client, email, org.tenant_id) == 200
    # An address that has an account signs in and accepts instead.
    other = create_tenant(client, "Other")
    second = str(_invite(client, other, email)["invitation_id"])
    taken = client.post(
        f"/v1/auth/invitations/{second}/signup", json={"code": invitation_code(client, email, second), "password": PASSWORD}
    )
    assert taken.status_code == 409


def test_only_the_invited_address_can_take_the_seat(client: TestClient) -> None:
    org, invited, intruder = create_tenant(client, "Acme"), create_tenant(client, "A"), create_tenant(client, "B")
    invitation_id = str(_invite(client, org, invited.owner_email, role="admin")["invitation_id"])
    code = invitation_code(client, invited.owner_email, invitation_id)
    # Another account, even holding the code, neither sees nor takes it; a tenant key cannot either.
    assert client.get("/v1/auth/invitations", headers=intruder.jwt_headers()).json()["data"] == []
    stolen = client.post(f"/v1/auth/invitations/{invitation_id}/accept", json={"code": code}, headers=intruder.jwt_headers())
    assert stolen.status_code == 404 and stolen.json()["code"] == "INV_404"
    by_key = client.post(f"/v1/auth/invitations/{invitation_id}/accept", json={"code": code}, headers=org.key_headers())
    assert by_key.status_code == 401
    assert _login(client, intruder.owner_email, org.tenant_id) == 401
    # The invited person still can.
    accepted = client.post(
        f"/v1/auth/invitations/{invitation_id}/accept", json={"code": code}, headers=_own_jwt(client, invited.owner_email)
    )
    assert accepted.status_code == 200


def test_withdrawn_declined_expired_and_renewed_invitations(client: TestClient, runtime) -> None:  # type: ignore[no-untyped-def]
    org, person = create_tenant(client, "Acme"), create_tenant(client, "Home")
    own = _own_jwt(client, person.owner_email)

    withdrawn = str(_invite(client, org, person.owner_email)["invitation_id"])
    first_code = invitation_code(client, person.owner_email, withdrawn)
    assert client.delete(f"/v1/tenant/members/{withdrawn}", headers=org.jwt_headers()).status_code == 200
    refused = client.post(f"/v1/auth/invitations/{withdrawn}/accept", json={"code": first_code}, headers=own)
    assert refused.status_code == 404

    renewed = str(_invite(client, org, person.owner_email, role="member")["invitation_id"])
    assert renewed == withdrawn  # one invitation per address: inviting again renews it, with a new code
    new_code = invitation_code(client, person.owner_email, renewed)
    assert new_code != first_code
    stale = client.post(f"/v1/auth/invitations/{renewed}/accept", json={"code": first_code}, headers=own)
    assert stale.status_code == 403
    declined = client.post(f"/v1/auth/invitations/{renewed}/decline", json={"code": new_code}, headers=own)
    assert declined.status_code == 200
    assert client.get("/v1/auth/invitations", headers=own).json()["data"] == []
    assert client.post(f"/v1/auth/invitations/{renewed}/accept", json={"code": new_code}, headers=own).status_code == 404

    expiring = str(_invite(client, org, person.owner_email)["invitation_id"])
    code = invitation_code(client, person.owner_email, expiring)
    with runtime.db.session() as session:
        session.execute(
            update(Invitation).where(Invitation.public_id == expiring).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    expired = client.post(f"/v1/auth/invitations/{expiring}/accept", json={"code": code}, headers=own)
    assert expired.status_code == 404
    statuses = [m["status"] for m in client.get("/v1/tenant/members", headers=org.jwt_headers()).json()["data"]]
    assert statuses == ["active"]


def test_inviting_rules(client: TestClient, tenant: TenantHandle) -> None:
    admin = tenant.add_member("admin")
    owner_invite = client.post(
        "/v1/tenant/members", json={"email": "boss@example.com", "role": "owner"}, headers=admin.headers()
    )
    assert owner_invite.status_code == 403 and owner_invite.json()["code"] == "AUTH_003"
    # An existing member of this organisation is told apart: the admin sees them listed anyway.
    again = client.post("/v1/tenant/members", json={"email": admin.email, "role": "viewer"}, headers=tenant.jwt_headers())
    assert again.status_code == 409
    unknown = client.delete("/v1/tenant/members/inv_000000000000000000000000", headers=tenant.jwt_headers())
    assert unknown.status_code == 404 and unknown.json()["code"] == "INV_404"


def test_the_invitation_email(client: TestClient, tenant: TenantHandle) -> None:
    from email import policy
    from email.parser import BytesParser

    invitation_id = str(_invite(client, tenant, "mail-check@example.com", role="viewer")["invitation_id"])
    code = invitation_code(client, "mail-check@example.com", invitation_id)
    outbox = client.app.state.settings.resolved_outbox_dir  # type: ignore[attr-defined]
    parser = BytesParser(policy=policy.default)
    [message] = [
        m
        for m in (parser.parsebytes(p.read_bytes()) for p in outbox.glob("*.eml"))
        if str(m["To"]) == "mail-check@example.com"
    ]
    assert "Acme" in str(message["Subject"])
    body = message.get_content()
    assert "as viewer" in body and f"/v1/auth/invitations/{invitation_id}/accept" in body and code in body
    # The code is a secret of the mailbox: never in the organisation's answers.
    listed = client.get("/v1/tenant/members", headers=tenant.jwt_headers())
    assert code not in listed.text


def test_an_invitation_creates_the_account_while_open_signup_is_off(client: TestClient, runtime) -> None:  # type: ignore[no-untyped-def]
    import dataclasses

    from memoryos_server.app import create_app

    org = create_tenant(client, "Acme")
    email = "invited-closed@example.com"
    invitation_id = str(_invite(client, org, email, role="member")["invitation_id"])
    code = invitation_code(client, email, invitation_id)
    closed_settings = runtime.settings.model_copy(update={"signup_enabled": False})
    closed = create_app(closed_settings, runtime=dataclasses.replace(runtime, settings=closed_settings), migrate=False)
    with TestClient(closed) as closed_client:
        refused = closed_client.post(
            "/v1/auth/signup", json={"email": "open@example.com", "password": PASSWORD, "organization_name": "X"}
        )
        assert refused.status_code == 403
        joined = closed_client.post(
            f"/v1/auth/invitations/{invitation_id}/signup", json={"code": code, "password": PASSWORD}
        )
        assert joined.status_code == 201, joined.text
        assert joined.json()["data"]["role"] == "member"


def _mail_to(client: TestClient, to: str) -> list[object]:
    return outbox_messages(client.app.state.settings.resolved_outbox_dir, to)  # type: ignore[attr-defined]


def test_an_admin_cannot_replace_an_owners_owner_invitation(client: TestClient, runtime) -> None:  # type: ignore[no-untyped-def]
    org, person = create_tenant(client, "Acme"), create_tenant(client, "Home")
    admin = org.add_member("admin")
    invitation_id = str(_invite(client, org, person.owner_email, role="owner")["invitation_id"])
    code = invitation_code(client, person.owner_email, invitation_id)
    # Withdrawing it is refused to an admin, and so is renewing it with another role (which would void its code).
    withdraw = client.delete(f"/v1/tenant/members/{invitation_id}", headers=admin.headers())
    assert withdraw.status_code == 403 and withdraw.json()["code"] == "AUTH_003"
    renew = client.post("/v1/tenant/members", json={"email": person.owner_email, "role": "member"}, headers=admin.headers())
    assert renew.status_code == 403 and renew.json()["code"] == "AUTH_003", renew.text
    [listed] = [m for m in client.get("/v1/tenant/members", headers=org.jwt_headers()).json()["data"] if m["status"] == "invited"]
    assert (listed["invitation_id"], listed["role"]) == (invitation_id, "owner")
    assert invitation_code(client, person.owner_email, invitation_id) == code  # no new code was mailed
    # An invitation that expired is no longer a live one: an admin may invite the address anew.
    with runtime.db.session() as session:
        session.execute(
            update(Invitation).where(Invitation.public_id == invitation_id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    renewed = client.post("/v1/tenant/members", json={"email": person.owner_email, "role": "member"}, headers=admin.headers())
    assert renewed.status_code == 201 and renewed.json()["data"]["role"] == "member", renewed.text
    # The renewed invitation has a new code, and it grants member.
    new_code = invitation_code(client, person.owner_email, invitation_id)
    assert new_code != code
    accepted = client.post(
        f"/v1/auth/invitations/{invitation_id}/accept", json={"code": new_code}, headers=_own_jwt(client, person.owner_email)
    )
    assert accepted.status_code == 200 and accepted.json()["data"]["role"] == "member", accepted.text


def test_an_owner_may_renew_an_owner_invitation_as_another_role(client: TestClient) -> None:
    org, person = create_tenant(client, "Acme"), create_tenant(client, "Home")
    invitation_id = str(_invite(client, org, person.owner_email, role="owner")["invitation_id"])
    assert str(_invite(client, org, person.owner_email, role="viewer")["invitation_id"]) == invitation_id


def test_no_code_is_mailed_for_an_invitation_that_was_not_committed(client: TestClient, runtime) -> None:  # type: ignore[no-untyped-def]
    org = create_tenant(client, "Acme")
    services = client.app.state.services  # type: ignore[attr-defined]
    principal = services.identity.authenticate_request(authorization=f"Bearer {org.jwt}", x_api_key=None)
    email = f"rolled-back-{secrets.token_hex(4)}@example.com"

    class CommitFailed(Exception):
        pass

    with pytest.raises(CommitFailed), runtime.db.session() as session:
        services.members.invite(session, principal, email=email, role="viewer")
        raise CommitFailed
    assert _mail_to(client, email) == []
    assert [m for m in client.get("/v1/tenant/members", headers=org.jwt_headers()).json()["data"] if m["email"] == email] == []
    # The route commits, then mails.
    invitation_id = str(_invite(client, org, email, role="viewer")["invitation_id"])
    assert len(_mail_to(client, email)) == 1
    assert invitation_code(client, email, invitation_id).startswith("invc_")


def test_a_mail_outage_keeps_the_invitation_and_inviting_again_sends_a_new_code(client: TestClient, runtime) -> None:  # type: ignore[no-untyped-def]
    org = create_tenant(client, "Acme")
    services = client.app.state.services  # type: ignore[attr-defined]
    principal = services.identity.authenticate_request(authorization=f"Bearer {org.jwt}", x_api_key=None)
    email = f"outage-{secrets.token_hex(4)}@example.com"
    # A real SMTP client against a loopback port where nothing listens.
    unreachable = runtime.settings.model_copy(
        update={"email_backend": "smtp", "smtp_host": "127.0.0.1", "smtp_port": free_port(), "smtp_timeout_seconds": 2.0}
    )
    members = MemberService(runtime, identity=services.identity, email=EmailService(unreachable))
    # The code is mailed once the invitation has committed: the outage surfaces then, and the
    # invitation stays.
    with pytest.raises(EmailDeliveryFailed, match="invite the address again"):
        with runtime.db.session() as session:
            issued = members.invite(session, principal, email=email, role="viewer")
    [listed] = [m for m in client.get("/v1/tenant/members", headers=org.jwt_headers()).json()["data"] if m["email"] == email]
    assert listed["invitation_id"] == issued.invitation.public_id
    again = _invite(client, org, email, role="viewer")
    assert again["invitation_id"] == issued.invitation.public_id
    assert invitation_code(client, email, str(again["invitation_id"])) != issued.code
