"""Tenant administration: API keys, OAuth clients, members, usage, the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from memoryos_server.api.deps import RuntimeDep, ServicesDep, TenantPrincipal
from memoryos_server.api.envelope import ok, page
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.common import RowIdCursor
from memoryos_server.api.schemas.identity import (
    MemberIn,
    MemberPatch,
    NamedIn,
    api_key_read,
    invitation_read,
    member_read,
    oauth_client_read,
    tenant_audit_read,
)

router = APIRouter(prefix="/v1/tenant", tags=["tenant"], route_class=AuthenticatedRoute)

# Every field of NamedIn has a default, so the body may be left out (or be ``{}``) altogether.
OptionalName = Annotated[NamedIn | None, Body()]


@router.post("/api-keys", status_code=201, summary="Create an API key (the raw key is shown once)")
def create_api_key(
    principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep, body: OptionalName = None
) -> dict[str, Any]:
    body = body or NamedIn()
    with runtime.db.session() as session:
        key, raw = services.identity.create_api_key(session, principal, name=body.name)
        data = {**api_key_read(key), "raw_api_key": raw}
    return ok(data)


@router.get("/api-keys", summary="List API keys (never the keys themselves)")
def list_api_keys(principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        items = [api_key_read(key) for key in services.identity.list_api_keys(session, principal)]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.delete("/api-keys/{key_id}", summary="Revoke an API key; it fails at once")
def revoke_api_key(key_id: str, principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        key = services.identity.revoke_api_key(session, principal, key_id)
        data = api_key_read(key)
    return ok(data)


@router.post("/oauth-clients", status_code=201, summary="Create an OAuth client (the secret is shown once)")
def create_oauth_client(
    principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep, body: OptionalName = None
) -> dict[str, Any]:
    body = body or NamedIn()
    with runtime.db.session() as session:
        client, secret = services.identity.create_oauth_client(session, principal, name=body.name)
        data = {**oauth_client_read(client), "client_secret": secret}
    return ok(data)


@router.get("/oauth-clients", summary="List OAuth clients")
def list_oauth_clients(principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        items = [oauth_client_read(c) for c in services.identity.list_oauth_clients(session, principal)]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.delete("/oauth-clients/{client_id}", summary="Revoke an OAuth client; its tokens fail at once")
def revoke_oauth_client(
    client_id: str, principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep
) -> dict[str, Any]:
    with runtime.db.session() as session:
        data = oauth_client_read(services.identity.revoke_oauth_client(session, principal, client_id))
    return ok(data)


@router.get("/members", summary="Members (status active) and pending invitations (status invited)")
def list_members(principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        members, invitations = services.members.list(session, principal)
        items = [member_read(m, u) for m, u in members] + [invitation_read(i) for i in invitations]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.post(
    "/members",
    status_code=201,
    summary="Invite someone by email: the same answer whether or not they have an account",
)
def add_member(body: MemberIn, principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        issued = services.members.invite(session, principal, email=body.email, role=body.role)
        data = invitation_read(issued.invitation)
    services.members.notify(issued)
    return ok(data)


@router.patch("/members/{user_id}", summary="Change a member's role")
def update_member(
    user_id: str, body: MemberPatch, principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep
) -> dict[str, Any]:
    with runtime.db.session() as session:
        membership, user = services.members.update(session, principal, user_id, role=body.role)
        data = member_read(membership, user)
    return ok(data)


@router.delete("/members/{user_id}", summary="Remove a member (usr_…) or withdraw an invitation (inv_…)")
def remove_member(user_id: str, principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        services.members.remove(session, principal, user_id)
    return ok({"removed": True, "user_id": user_id})


@router.get("/usage", summary="What the organisation uses: end-users, memories, storage, credentials")
def usage(principal: TenantPrincipal, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        data = services.usage.report(session, principal)
    return ok(data)


@router.get("/audit", summary="The organisation's audit trail, newest first: erased end-users, and more")
def audit(
    principal: TenantPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
    action: Annotated[str | None, Query(max_length=40, description="Only events of this action, e.g. end_user.deleted")] = None,
    cursor: RowIdCursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        items, next_id, total = services.tenant_audit.events(session, principal, action=action, cursor=cursor, limit=limit)
    return page([tenant_audit_read(i) for i in items], next_cursor=str(next_id) if next_id else None, limit=limit, total=total)
