"""Schemas of the identity and tenant administration routes."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from memoryos_server.addresses import EmailAddress
from memoryos_server.api.envelope import Out, Timestamp
from memoryos_server.api.schemas.common import Strict
from memoryos_server.services.identity import IssuedToken
from memoryos_server.services.permissions import Role
from memoryos_server.services.tenant_audit import TenantAuditItem
from memoryos_server.services.end_users import EndUserSummary



# Passwords are kept exactly as typed: request bodies trim their text fields, but a space or a
# tab at either end of a password is part of it, and counts towards its length.
Password = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, max_length=256)]
NewPassword = Annotated[str, StringConstraints(strip_whitespace=False, min_length=8, max_length=256)]


class SignupIn(Strict):
    email: EmailAddress
    password: NewPassword
    organization_name: str = Field(min_length=1, max_length=200)


class LoginIn(Strict):
    email: EmailAddress
    password: Password
    tenant_id: str | None = Field(default=None, max_length=40, description="Organisation to sign in to (ten_…).")


class PasswordChangeIn(Strict):
    current_password: Password
    new_password: NewPassword


class NamedIn(Strict):
    name: str = Field(default="default", min_length=1, max_length=200)


class MemberIn(Strict):
    """An invitation: the person sets their own password when they accept."""

    email: EmailAddress
    role: Role


class InvitationCodeIn(Strict):
    code: str = Field(min_length=1, max_length=200, description="The code mailed with the invitation.")


class InvitationSignupIn(InvitationCodeIn):
    password: NewPassword


class MemberPatch(Strict):
    role: Role


# --- answers ------------------------------------------------------------------------------------


class TokenOut(Out):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(description="Seconds until the token expires")


class OAuthTokenOut(TokenOut):
    """RFC 6749 §5.1's fields at the top level, plus our request_id and timestamp."""

    request_id: str
    timestamp: str


class AccountOut(Out):
    id: str
    email: str | None


class TenantRefOut(Out):
    id: str
    name: str


class SignedInOut(Out):
    """An account signed in to an organisation: the sign-up answer, and (with ``role``) the
    answer to joining one by invitation."""

    user: AccountOut
    tenant: TenantRefOut
    role: Role | None = Field(default=None, description="Present when joining by invitation")
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int

    @classmethod
    def of(cls, user: Any, tenant: Any, token: IssuedToken, *, role: str | None = None) -> SignedInOut:
        """``user`` and ``tenant`` rows; ``role`` only when joining (absent from sign-up)."""
        fields: dict[str, Any] = {
            "user": AccountOut(id=user.public_id, email=user.email),
            "tenant": TenantRefOut(id=tenant.public_id, name=tenant.name),
            "access_token": token.access_token,
            "token_type": token.token_type,
            "expires_in": token.expires_in,
        }
        if role is not None:
            fields["role"] = role
        return cls(**fields)


class CallerOut(Out):
    """The signed-in caller (``/v1/auth/me``); the account fields only for a person's JWT."""

    kind: Literal["user", "api_key", "oauth_client"]
    tenant_id: str | None
    role: str
    credential_id: str
    creator_role: str | None
    user_id: str | None = None
    email: str | None = None
    platform_role: str | None = None
    tenant_name: str | None = None


class ApiKeyOut(Out):
    id: str
    name: str
    key_prefix: str
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None
    is_active: bool

    @classmethod
    def of(cls, key: Any) -> ApiKeyOut:
        """An ``ApiKey`` row, never the key itself."""
        return cls(
            id=key.public_id,
            name=key.name,
            key_prefix=key.key_prefix,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
            is_active=key.revoked_at is None,
        )


class NewApiKeyOut(ApiKeyOut):
    raw_api_key: str = Field(description="Shown once: only its hash is kept")


class OAuthClientOut(Out):
    client_id: str
    name: str
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None
    is_active: bool

    @classmethod
    def of(cls, client: Any) -> OAuthClientOut:
        return cls(
            client_id=client.public_id,
            name=client.name,
            created_at=client.created_at,
            last_used_at=client.last_used_at,
            revoked_at=client.revoked_at,
            is_active=client.revoked_at is None,
        )


class NewOAuthClientOut(OAuthClientOut):
    client_secret: str = Field(description="Shown once: only its hash is kept")


class MemberOut(Out):
    """A member (``status: active``) or a pending invitation (``status: invited``)."""

    status: Literal["active", "invited"]
    user_id: str | None
    email: str | None
    role: Role
    joined_at: Timestamp | None = None
    invitation_id: str | None = None
    invited_at: Timestamp | None = None
    expires_at: Timestamp | None = None

    @classmethod
    def member(cls, membership: Any, user: Any) -> MemberOut:
        return cls(status="active", user_id=user.public_id, email=user.email, role=membership.role, joined_at=membership.created_at)

    @classmethod
    def invited(cls, invitation: Any) -> MemberOut:
        """An invitation as the organisation sees it (the members list, the invite answer)."""
        return cls(
            status="invited",
            invitation_id=invitation.public_id,
            user_id=None,
            email=invitation.email,
            role=invitation.role,
            invited_at=invitation.updated_at,
            expires_at=invitation.expires_at,
        )


class ReceivedInvitationOut(Out):
    """An invitation as the invited person sees it."""

    invitation_id: str
    tenant_id: str
    tenant_name: str
    role: Role
    invited_at: Timestamp
    expires_at: Timestamp

    @classmethod
    def of(cls, invitation: Any, tenant: Any) -> ReceivedInvitationOut:
        return cls(
            invitation_id=invitation.public_id,
            tenant_id=tenant.public_id,
            tenant_name=tenant.name,
            role=invitation.role,
            invited_at=invitation.updated_at,
            expires_at=invitation.expires_at,
        )


class AuditActorOut(Out):
    type: str
    id: str | None


class TenantAuditOut(Out):
    id: str
    action: str
    actor: AuditActorOut
    detail: dict[str, Any]
    created_at: Timestamp

    @classmethod
    def of(cls, item: TenantAuditItem) -> TenantAuditOut:
        return cls(
            id=str(item.id),
            action=item.action,
            actor=AuditActorOut(type=item.actor_type, id=item.actor_id),
            detail=item.detail,
            created_at=item.created_at,
        )


class ChangedOut(Out):
    changed: bool


class DeclinedOut(Out):
    declined: bool
    invitation_id: str


class RemovedOut(Out):
    removed: bool
    user_id: str


class UsageMemoriesOut(Out):
    total: int
    by_scope: dict[str, dict[str, int]] = Field(description="tenant and workspace: active and archived counts")
    by_category: dict[str, int]


class UsageStorageOut(Out):
    memory_rows: int
    version_rows: int
    ciphertext_bytes: int


class UsageKeysOut(Out):
    active: int
    last_used_at: str | None


class UsageClientsOut(Out):
    active: int


class UsageOut(Out):
    """Counts over the caller's organisation. Requests are not counted one by one: ``api_calls``
    is null; audited actions are counted by action."""

    tenant_id: str | None
    end_users: int
    members: int
    memories: UsageMemoriesOut
    storage: UsageStorageOut
    api_keys: UsageKeysOut
    oauth_clients: UsageClientsOut
    api_calls: None
    audited_actions: dict[str, int]


class EndUserOut(Out):
    public_id: str
    external_user_id: str
    memory_count: int
    active_memory_count: int
    created_at: Timestamp
    last_seen_at: Timestamp | None = Field(description="When the tenant last acted for them, to the minute")

    @classmethod
    def of(cls, summary: EndUserSummary) -> EndUserOut:
        return cls(**dataclasses.asdict(summary))


class ExportedVersionOut(Out):
    version: int
    event: str
    content: str
    category: str
    importance_score: float
    status: str
    actor: str | None
    note: str | None = Field(default=None, description="Why, where the actor does not say it")
    source_event_id: str | None = Field(default=None, description="The service writer's claim this text came from")
    created_at: str


class ExportedMemoryOut(Out):
    id: str
    content: str
    category: str
    importance_score: float
    confidence: float
    is_archived: bool
    status: str
    disputed: bool
    created_at: str
    updated_at: str
    metadata: dict[str, Any]
    source_event_id: str | None = Field(default=None, description="sev_…: the service writer's claim this memory is")
    provenance: dict[str, Any] | None = Field(default=None, description="The claim's service, event id, times, scope, evidence")
    versions: list[ExportedVersionOut]


class EndUserExportOut(Out):
    tenant_id: str | None
    proxy_user_id: str
    external_user_id: str | None
    exported_at: str
    memories: list[ExportedMemoryOut]


class EndUserDeletedOut(Out):
    deleted: bool
    user_id: str
    external_user_id: str | None
