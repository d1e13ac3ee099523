"""The passport user's JSON API: sign-in, the account, grants, connections, activity.

The consent app's pages call the same services; these routes add no rules of their own.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from memoryos_server.api.deps import PassportUser, RuntimeDep, ServicesDep
from memoryos_server.api.envelope import ok, page
from memoryos_server.api.schemas.common import RowIdCursor
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.passport import (
    GrantCreate,
    GrantUpdate,
    OtpSendIn,
    OtpVerifyIn,
    activity_line_read,
    connection_read,
    grant_read,
    iso,
    session_read,
)
from memoryos_server.clientip import client_ip
from memoryos_server.errors import BadRequest
from memoryos_server.services.passport import SESSION_COOKIE

router = APIRouter(
    prefix="/v1/uui", tags=["memory passport: the passport user"], route_class=AuthenticatedRoute
)


# --- signing in ------------------------------------------------------------------------------


@router.post("/otp/send", summary="Email a one-time sign-in code (public; never says whether a passport exists)")
def send_code(body: OtpSendIn, request: Request, services: ServicesDep) -> dict[str, Any]:
    result = services.passport.send_code(email=str(body.email), ip=client_ip(request))
    data: dict[str, Any] = {"sent": result.sent, "reason": result.reason}
    if result.retry_after_seconds is not None:
        data["retry_after_seconds"] = result.retry_after_seconds
    return ok(data)


@router.post("/otp/verify", summary="Sign in with the code; the first sign-in creates the passport (public)")
def verify_code(body: OtpVerifyIn, request: Request, response: Response, services: ServicesDep) -> dict[str, Any]:
    signed_in = services.passport.verify_code(
        email=str(body.email), code=body.otp, ip=client_ip(request), user_agent=request.headers.get("user-agent")
    )
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.session_token,
        max_age=services.runtime.settings.passport_session_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return ok(
        {
            "user_uui_id": signed_in.user.public_id,
            "email": signed_in.user.email,
            "session_token": signed_in.session_token,
            "expires_at": iso(signed_in.expires_at),
            "created": signed_in.created,
        }
    )


@router.post("/logout", summary="End this passport session")
def logout(caller: PassportUser, response: Response, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        services.passport.sign_out(session, caller.session_token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return ok({"signed_out": True})


# --- the account ------------------------------------------------------------------------------


@router.get("/me", summary="The signed-in passport user")
def me(caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        data = {
            "user_uui_id": user.public_id,
            "email": user.email,
            "created_at": iso(user.created_at),
            "last_login_at": iso(user.last_login_at),
        }
    return ok(data)


@router.delete("/me", summary="Delete the passport: its key first, then memories, grants, connections")
def delete_me(caller: PassportUser, response: Response, services: ServicesDep) -> dict[str, Any]:
    public_id = services.passport_account.delete(caller.user)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return ok({"deleted": True, "user_uui_id": public_id})


# --- grants ---------------------------------------------------------------------------------------


@router.get("/me/grants", summary="Agents this passport has approved")
def list_grants(caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        items = [grant_read(view) for view in services.grants.list(session, user)]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.post("/me/grants", summary="Approve an agent (replaces an earlier grant); returns a one-time code for it")
def create_grant(body: GrantCreate, caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        user = services.passport.user(session, caller.user_id)
        issued = services.grants.create_or_replace(
            session,
            user,
            agent_id=body.agent_id,
            categories=list(body.categories_allowed),
            access_type=body.access_type,
            expires_at=body.expires_at,
            duration_days=body.duration_days,
            link_token=body.link_token,
        )
        data = {
            **grant_read(issued.view),
            "replaced": issued.replaced,
            "code": issued.code.code,
            "code_expires_in_seconds": issued.code.expires_in_seconds,
        }
    services.grants.notify(user, issued.view)
    return ok(data)


@router.patch("/me/grants/{grant_id}", summary="Change a grant's categories, mode or expiry")
def update_grant(
    grant_id: str, body: GrantUpdate, caller: PassportUser, runtime: RuntimeDep, services: ServicesDep
) -> dict[str, Any]:
    if not body.model_fields_set:
        raise BadRequest("nothing_to_change", "give categories_allowed, access_type, expires_at or duration_days")
    changes: dict[str, Any] = {}
    if "categories_allowed" in body.model_fields_set and body.categories_allowed is not None:
        changes["categories"] = list(body.categories_allowed)
    if "access_type" in body.model_fields_set and body.access_type is not None:
        changes["access_type"] = body.access_type
    if "expires_at" in body.model_fields_set:
        changes["expires_at"] = body.expires_at  # null: until revoked
    if body.duration_days is not None:
        changes["duration_days"] = body.duration_days
    with runtime.db.session() as session:
        user = services.passport.user(session, caller.user_id)
        data = grant_read(services.grants.update(session, user, grant_id, **changes))
    return ok(data)


@router.delete("/me/grants/{grant_id}", summary="Revoke a grant: the agent's next call sees nothing")
def revoke_grant(grant_id: str, caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        user = services.passport.user(session, caller.user_id)
        data = grant_read(services.grants.revoke(session, user, grant_id))
    return ok(data)


@router.post("/me/grants/{grant_id}/code", summary="A fresh one-time code to hand to the agent")
def new_code(grant_id: str, caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        user = services.passport.user(session, caller.user_id)
        view, code = services.grants.issue_code(session, user, grant_id)
        data = {
            "grant_id": view.grant.id,
            "agent_id": view.agent.id,
            "code": code.code,
            "code_expires_in_seconds": code.expires_in_seconds,
        }
    return ok(data)


# --- connections --------------------------------------------------------------------------------


@router.get("/me/connections", summary="Organisations this passport is connected to")
def list_connections(caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        items = [connection_read(view) for view in services.connections.list(session, user)]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.delete("/me/connections/{connection_id}", summary="Disconnect an organisation")
def delete_connection(connection_id: str, caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        user = services.passport.user(session, caller.user_id)
        services.connections.delete(session, user, connection_id)
    return ok({"deleted": True, "id": connection_id})


# --- sessions ----------------------------------------------------------------------------------------


@router.get("/me/sessions", summary="Where this passport is signed in (the current session first)")
def list_sessions(caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        items = [session_read(view) for view in services.sessions.list(session, user, current_token=caller.session_token)]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.delete("/me/sessions/{session_id}", summary="Sign out one session (the current one too, if named)")
def end_session(session_id: str, caller: PassportUser, response: Response, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        user = services.passport.user(session, caller.user_id)
        view = services.sessions.sign_out(session, user, session_id, current_token=caller.session_token)
    if view.current:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return ok({"signed_out": True, "id": view.id, "current": view.current})


@router.post("/me/sessions/sign-out-others", summary="Sign out every session but this one")
def end_other_sessions(caller: PassportUser, runtime: RuntimeDep, services: ServicesDep) -> dict[str, Any]:
    with runtime.db.session() as session:
        user = services.passport.user(session, caller.user_id)
        ended = services.sessions.sign_out_others(session, user, current_token=caller.session_token)
    return ok({"signed_out": len(ended), "ids": [view.id for view in ended]})


# --- activity ----------------------------------------------------------------------------------------


@router.get(
    "/me/activity",
    summary="Which agent read or wrote what, and every change, newest first, each in words; repeated look-ups are one line",
)
def activity(
    caller: PassportUser,
    runtime: RuntimeDep,
    services: ServicesDep,
    cursor: RowIdCursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        user = services.passport.user(session, caller.user_id)
        lines, next_cursor, total = services.activity.timeline(session, user, cursor=cursor, limit=limit)
    return page(
        [activity_line_read(line) for line in lines],
        next_cursor=str(next_cursor) if next_cursor else None,
        limit=limit,
        total=total,
    )
