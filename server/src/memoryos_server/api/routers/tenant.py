"""Tenant administration: API keys, OAuth clients, members, usage, the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from memoryos_server.api.deps import ReadSession, ServicesDep, TenantPrincipal, WriteSession
from memoryos_server.api.envelope import Envelope, Paged, ok, page
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.common import RowIdCursor
from memoryos_server.api.schemas.identity import (
    ApiKeyOut,
    MemberIn,
    MemberOut,
    MemberPatch,
    NamedIn,
    NewApiKeyOut,
    NewOAuthClientOut,
    OAuthClientOut,
    RemovedOut,
    TenantAuditOut,
    UsageOut,
)

router = APIRouter(prefix="/v1/tenant", tags=["tenant"], route_class=AuthenticatedRoute)

# Every field of NamedIn has a default, so the body may be left out (or be ``{}``) altogether.
OptionalName = Annotated[NamedIn | None, Body()]


@router.post(
    "/api-keys",
    status_code=201,
    summary="Create an API key (the raw key is shown once)",
    response_model=Envelope[NewApiKeyOut],
)
def create_api_key(
    principal: TenantPrincipal, session: WriteSession, services: ServicesDep, body: OptionalName = None
) -> dict[str, Any]:
    key, raw = services.identity.create_api_key(session, principal, name=(body or NamedIn()).name)
    return ok(NewApiKeyOut(**dict(ApiKeyOut.of(key)), raw_api_key=raw))


@router.get("/api-keys", summary="List API keys (never the keys themselves)", response_model=Paged[ApiKeyOut])
def list_api_keys(principal: TenantPrincipal, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    items = [ApiKeyOut.of(key) for key in services.identity.list_api_keys(session, principal)]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.delete("/api-keys/{key_id}", summary="Revoke an API key; it fails at once", response_model=Envelope[ApiKeyOut])
def revoke_api_key(key_id: str, principal: TenantPrincipal, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    return ok(ApiKeyOut.of(services.identity.revoke_api_key(session, principal, key_id)))


@router.post(
    "/oauth-clients",
    status_code=201,
    summary="Create an OAuth client (the secret is shown once)",
    response_model=Envelope[NewOAuthClientOut],
)
def create_oauth_client(
    principal: TenantPrincipal, session: WriteSession, services: ServicesDep, body: OptionalName = None
) -> dict[str, Any]:
    client, secret = services.identity.create_oauth_client(session, principal, name=(body or NamedIn()).name)
    return ok(NewOAuthClientOut(**dict(OAuthClientOut.of(client)), client_secret=secret))


@router.get("/oauth-clients", summary="List OAuth clients", response_model=Paged[OAuthClientOut])
def list_oauth_clients(principal: TenantPrincipal, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    items = [OAuthClientOut.of(c) for c in services.identity.list_oauth_clients(session, principal)]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.delete(
    "/oauth-clients/{client_id}",
    summary="Revoke an OAuth client; its tokens fail at once",
    response_model=Envelope[OAuthClientOut],
)
def revoke_oauth_client(client_id: str, principal: TenantPrincipal, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    return ok(OAuthClientOut.of(services.identity.revoke_oauth_client(session, principal, client_id)))


@router.get(
    "/members",
    summary="Members (status active) and pending invitations (status invited)",
    response_model=Paged[MemberOut],
    response_model_exclude_unset=True,
)
def list_members(principal: TenantPrincipal, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    members, invitations = services.members.list(session, principal)
    items = [MemberOut.member(m, u) for m, u in members] + [MemberOut.invited(i) for i in invitations]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.post(
    "/members",
    status_code=201,
    summary="Invite someone by email: the same answer whether or not they have an account",
    response_model=Envelope[MemberOut],
    response_model_exclude_unset=True,
)
def add_member(body: MemberIn, principal: TenantPrincipal, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    # The code is mailed once the invitation is committed (MemberService.invite).
    issued = services.members.invite(session, principal, email=body.email, role=body.role)
    return ok(MemberOut.invited(issued.invitation))


@router.patch(
    "/members/{user_id}",
    summary="Change a member's role",
    response_model=Envelope[MemberOut],
    response_model_exclude_unset=True,
)
def update_member(
    user_id: str, body: MemberPatch, principal: TenantPrincipal, session: WriteSession, services: ServicesDep
) -> dict[str, Any]:
    membership, user = services.members.update(session, principal, user_id, role=body.role)
    return ok(MemberOut.member(membership, user))


@router.delete(
    "/members/{user_id}",
    summary="Remove a member (usr_…) or withdraw an invitation (inv_…)",
    response_model=Envelope[RemovedOut],
)
def remove_member(user_id: str, principal: TenantPrincipal, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    services.members.remove(session, principal, user_id)
    return ok(RemovedOut(removed=True, user_id=user_id))


@router.get(
    "/usage",
    summary="What the organisation uses: end-users, memories, storage, credentials",
    response_model=Envelope[UsageOut],
)
def usage(principal: TenantPrincipal, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    return ok(UsageOut(**services.usage.report(session, principal)))


@router.get(
    "/audit",
    summary="The organisation's audit trail, newest first: erased end-users, and more",
    response_model=Paged[TenantAuditOut],
)
def audit(
    principal: TenantPrincipal,
    session: ReadSession,
    services: ServicesDep,
    action: Annotated[str | None, Query(max_length=40, description="Only events of this action, e.g. end_user.deleted")] = None,
    cursor: RowIdCursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    items, next_id, total = services.tenant_audit.events(session, principal, action=action, cursor=cursor, limit=limit)
    return page([TenantAuditOut.of(i) for i in items], next_cursor=str(next_id) if next_id else None, limit=limit, total=total)
