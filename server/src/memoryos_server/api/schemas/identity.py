"""Schemas of the identity and tenant administration routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from memoryos_server.addresses import EmailAddress
from memoryos_server.api.schemas.common import Strict
from memoryos_server.services.identity import IssuedToken
from memoryos_server.services.tenant_audit import TenantAuditItem
from memoryos_server.storage.models import ApiKey, Invitation, Membership, OAuthClient, Tenant, User

Role = Literal["owner", "admin", "developer", "analyst", "member", "viewer"]


class SignupIn(Strict):
    email: EmailAddress
    password: str = Field(min_length=8, max_length=256)
    organization_name: str = Field(min_length=1, max_length=200)


class LoginIn(Strict):
    email: EmailAddress
    password: str = Field(min_length=1, max_length=256)
    tenant_id: str | None = Field(default=None, max_length=40, description="Organisation to sign in to (ten_…).")


class PasswordChangeIn(Strict):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=8, max_length=256)


class NamedIn(Strict):
    name: str = Field(default="default", min_length=1, max_length=200)


class MemberIn(Strict):
    """An invitation: the person sets their own password when they accept."""

    email: EmailAddress
    role: Role


class InvitationCodeIn(Strict):
    code: str = Field(min_length=1, max_length=200, description="The code mailed with the invitation.")


class InvitationSignupIn(InvitationCodeIn):
    password: str = Field(min_length=8, max_length=256)


class MemberPatch(Strict):
    role: Role


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def api_key_read(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.public_id,
        "name": key.name,
        "key_prefix": key.key_prefix,
        "created_at": iso(key.created_at),
        "last_used_at": iso(key.last_used_at),
        "revoked_at": iso(key.revoked_at),
        "is_active": key.revoked_at is None,
    }


def tenant_audit_read(item: TenantAuditItem) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "action": item.action,
        "actor": {"type": item.actor_type, "id": item.actor_id},
        "detail": item.detail,
        "created_at": iso(item.created_at),
    }


def oauth_client_read(client: OAuthClient) -> dict[str, Any]:
    return {
        "client_id": client.public_id,
        "name": client.name,
        "created_at": iso(client.created_at),
        "last_used_at": iso(client.last_used_at),
        "revoked_at": iso(client.revoked_at),
        "is_active": client.revoked_at is None,
    }


def signed_in_read(user: User, tenant: Tenant, token: IssuedToken, *, role: str | None = None) -> dict[str, Any]:
    """An account signed in to an organisation: the sign-up answer and, with the ``role``, the
    answer to joining one by invitation."""
    return {
        "user": {"id": user.public_id, "email": user.email},
        "tenant": {"id": tenant.public_id, "name": tenant.name},
        **({"role": role} if role is not None else {}),
        "access_token": token.access_token,
        "token_type": token.token_type,
        "expires_in": token.expires_in,
    }


def member_read(membership: Membership, user: User) -> dict[str, Any]:
    return {
        "status": "active",
        "user_id": user.public_id,
        "email": user.email,
        "role": membership.role,
        "joined_at": iso(membership.created_at),
    }


def invitation_read(invitation: Invitation) -> dict[str, Any]:
    """An invitation as the organisation sees it (the members list, the invite answer)."""
    return {
        "status": "invited",
        "invitation_id": invitation.public_id,
        "user_id": None,
        "email": invitation.email,
        "role": invitation.role,
        "invited_at": iso(invitation.updated_at),
        "expires_at": iso(invitation.expires_at),
    }


def received_invitation_read(invitation: Invitation, tenant: Tenant) -> dict[str, Any]:
    """An invitation as the invited person sees it."""
    return {
        "invitation_id": invitation.public_id,
        "tenant_id": tenant.public_id,
        "tenant_name": tenant.name,
        "role": invitation.role,
        "invited_at": iso(invitation.updated_at),
        "expires_at": iso(invitation.expires_at),
    }
