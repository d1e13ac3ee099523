"""The passport user's JSON API: sign-in, the account, grants, connections, activity.

The consent app's pages call the same services; these routes add no rules of their own.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from memoryos_server.api.deps import PassportUser, ReadSession, ServicesDep, WriteSession
from memoryos_server.api.envelope import Envelope, Paged, ok, page
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.common import RowIdCursor
from memoryos_server.api.schemas.memory import DeletedOut
from memoryos_server.api.schemas.passport import (
    ActivityLineOut,
    ConnectionOut,
    GrantCodeOut,
    GrantCreate,
    GrantOut,
    GrantUpdate,
    IssuedGrantOut,
    OtpSendIn,
    OtpSentOut,
    OtpVerifyIn,
    PassportDeletedOut,
    PassportUserOut,
    SessionEndedOut,
    SessionOut,
    SessionsEndedOut,
    SignedInPassportOut,
    SignedOutOut,
)
from memoryos_server.clientip import client_ip
from memoryos_server.errors import BadRequest
from memoryos_server.services.passport.service import SESSION_COOKIE

router = APIRouter(
    prefix="/v1/uui", tags=["memory passport: the passport user"], route_class=AuthenticatedRoute
)


# --- signing in ------------------------------------------------------------------------------


# Sending and checking codes run their own transactions (PassportService): a wrong code is
# counted even though the call fails, and a code is stored before the email leaves.


@router.post(
    "/otp/send",
    summary="Email a one-time sign-in code (public; never says whether a passport exists)",
    response_model=Envelope[OtpSentOut],
    response_model_exclude_unset=True,
)
def send_code(body: OtpSendIn, request: Request, services: ServicesDep) -> dict[str, Any]:
    result = services.passport.send_code(email=str(body.email), ip=client_ip(request))
    data = OtpSentOut(sent=result.sent, reason=result.reason)
    if result.retry_after_seconds is not None:
        data.retry_after_seconds = result.retry_after_seconds
    return ok(data)


@router.post(
    "/otp/verify",
    summary="Sign in with the code; the first sign-in creates the passport (public)",
    response_model=Envelope[SignedInPassportOut],
)
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
        SignedInPassportOut(
            user_uui_id=signed_in.user.public_id,
            email=signed_in.user.email,
            session_token=signed_in.session_token,
            expires_at=signed_in.expires_at,
            created=signed_in.created,
        )
    )


@router.post("/logout", summary="End this passport session", response_model=Envelope[SignedOutOut])
def logout(caller: PassportUser, response: Response, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    services.passport.sign_out(session, caller.session_token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return ok(SignedOutOut(signed_out=True))


# --- the account ------------------------------------------------------------------------------


@router.get("/me", summary="The signed-in passport user", response_model=Envelope[PassportUserOut])
def me(caller: PassportUser) -> dict[str, Any]:
    return ok(PassportUserOut.of(caller.user))


@router.delete(
    "/me",
    summary="Delete the passport: its key first, then memories, grants, connections",
    response_model=Envelope[PassportDeletedOut],
)
def delete_me(caller: PassportUser, response: Response, services: ServicesDep) -> dict[str, Any]:
    # Two transactions of its own: the key is destroyed and committed before the rows go.
    public_id = services.passport.delete(caller.user)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return ok(PassportDeletedOut(deleted=True, user_uui_id=public_id))


# --- grants ---------------------------------------------------------------------------------------


@router.get("/me/grants", summary="Agents this passport has approved", response_model=Paged[GrantOut])
def list_grants(caller: PassportUser, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    items = [GrantOut.of(view) for view in services.grants.list(session, caller.user)]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.post(
    "/me/grants",
    summary="Approve an agent (replaces an earlier grant); returns a one-time code for it",
    response_model=Envelope[IssuedGrantOut],
)
def create_grant(body: GrantCreate, caller: PassportUser, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    # The grant notification is emailed once the grant is committed (GrantService).
    issued = services.grants.create_or_replace(
        session,
        caller.user,
        agent_id=body.agent_id,
        categories=list(body.categories_allowed),
        access_type=body.access_type,
        expires_at=body.expires_at,
        duration_days=body.duration_days,
        link_token=body.link_token,
    )
    return ok(
        IssuedGrantOut(
            **GrantOut.fields_of(issued.view),
            replaced=issued.replaced,
            code=issued.code.code,
            code_expires_in_seconds=issued.code.expires_in_seconds,
        )
    )


@router.patch("/me/grants/{grant_id}", summary="Change a grant's categories, mode or expiry", response_model=Envelope[GrantOut])
def update_grant(
    grant_id: str, body: GrantUpdate, caller: PassportUser, session: WriteSession, services: ServicesDep
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
    return ok(GrantOut.of(services.grants.update(session, caller.user, grant_id, **changes)))


@router.delete(
    "/me/grants/{grant_id}", summary="Revoke a grant: the agent's next call sees nothing", response_model=Envelope[GrantOut]
)
def revoke_grant(grant_id: str, caller: PassportUser, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    return ok(GrantOut.of(services.grants.revoke(session, caller.user, grant_id)))


@router.post(
    "/me/grants/{grant_id}/code", summary="A fresh one-time code to hand to the agent", response_model=Envelope[GrantCodeOut]
)
def new_code(grant_id: str, caller: PassportUser, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    view, code = services.grants.issue_code(session, caller.user, grant_id)
    return ok(
        GrantCodeOut(grant_id=view.grant.id, agent_id=view.agent.id, code=code.code, code_expires_in_seconds=code.expires_in_seconds)
    )


# --- connections --------------------------------------------------------------------------------


@router.get("/me/connections", summary="Organisations this passport is connected to", response_model=Paged[ConnectionOut])
def list_connections(caller: PassportUser, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    items = [ConnectionOut.of(view) for view in services.connections.list(session, caller.user)]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.delete("/me/connections/{connection_id}", summary="Disconnect an organisation", response_model=Envelope[DeletedOut])
def delete_connection(connection_id: str, caller: PassportUser, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    services.connections.delete(session, caller.user, connection_id)
    return ok(DeletedOut(deleted=True, id=connection_id))


# --- sessions ----------------------------------------------------------------------------------------


@router.get(
    "/me/sessions", summary="Where this passport is signed in (the current session first)", response_model=Paged[SessionOut]
)
def list_sessions(caller: PassportUser, session: ReadSession, services: ServicesDep) -> dict[str, Any]:
    views = services.sessions.list(session, caller.user, current_token=caller.session_token)
    items = [SessionOut.of(view) for view in views]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.delete(
    "/me/sessions/{session_id}",
    summary="Sign out one session (the current one too, if named)",
    response_model=Envelope[SessionEndedOut],
)
def end_session(session_id: str, caller: PassportUser, response: Response, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    view = services.sessions.sign_out(session, caller.user, session_id, current_token=caller.session_token)
    if view.current:
        response.delete_cookie(SESSION_COOKIE, path="/")
    return ok(SessionEndedOut(signed_out=True, id=view.id, current=view.current))


@router.post(
    "/me/sessions/sign-out-others", summary="Sign out every session but this one", response_model=Envelope[SessionsEndedOut]
)
def end_other_sessions(caller: PassportUser, session: WriteSession, services: ServicesDep) -> dict[str, Any]:
    ended = services.sessions.sign_out_others(session, caller.user, current_token=caller.session_token)
    return ok(SessionsEndedOut(signed_out=len(ended), ids=[view.id for view in ended]))


# --- activity ----------------------------------------------------------------------------------------


@router.get(
    "/me/activity",
    summary="Which agent read or wrote what, and every change, newest first, each in words; repeated look-ups are one line",
    response_model=Paged[ActivityLineOut],
)
def activity(
    caller: PassportUser,
    session: ReadSession,
    services: ServicesDep,
    cursor: RowIdCursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> dict[str, Any]:
    lines, next_cursor, total = services.activity.timeline(session, caller.user, cursor=cursor, limit=limit)
    return page(
        [ActivityLineOut.of(line) for line in lines],
        next_cursor=str(next_cursor) if next_cursor else None,
        limit=limit,
        total=total,
    )
