"""Permission center: where the person is signed in, and signing out one session or all others.

Both ask once, as revoking does: a link leads to a confirm page whose CSRF-checked form does it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from memoryos_server.web.deps import CheckedForm, ReadSession, ServicesDep, SignedIn, SiteDep, WriteSession
from memoryos_server.web.errors import WebRoute
from memoryos_server.web.routes._manage import confirmed, render_tab
from memoryos_server.web.templating import Flash, format_day

router = APIRouter(route_class=WebRoute, include_in_schema=False)

SessionId = Annotated[str, Path(max_length=64)]
UNKNOWN_DEVICE = "Unknown device"


def _sessions(n: int) -> str:
    return f"{n} session{'' if n == 1 else 's'}"


@router.get("/manage/sessions")
def sessions_tab(request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn, session: ReadSession) -> Response:
    user = caller.user
    sessions = services.sessions.list(session, user, current_token=caller.session_token)
    context = {"sessions": sessions, "others": sum(1 for view in sessions if not view.current), "unknown_device": UNKNOWN_DEVICE}
    return render_tab(site, request, services, session, caller, tab="sessions", template="manage/sessions.html", context=context)


@router.get("/manage/sessions/sign-out-others")
def sign_out_others_confirm(request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn, session: ReadSession) -> Response:
    user = caller.user
    others = [view for view in services.sessions.list(session, user, current_token=caller.session_token) if not view.current]
    if not others:
        return site.redirect(request, "/manage/sessions", Flash("ok", "You are not signed in anywhere else."))
    context = {
        "title": f"Sign out of {_sessions(len(others))} elsewhere?",
        "lines": [
            "Every other browser or app signed in to your Memory Passport will have to sign in again with a code "
            "from your email. This one stays signed in.",
            "Agents you approved keep their access; to end that, revoke it in Agents.",
        ],
        "action": "/manage/sessions/sign-out-others",
        "button": "Sign out all other sessions",
        "cancel": "/manage/sessions",
    }
    return render_tab(site, request, services, session, caller, tab="sessions", template="manage/confirm.html", context=context)


@router.post("/manage/sessions/sign-out-others")
def sign_out_others(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn, session: WriteSession) -> Response:
    if not confirmed(form):
        return site.redirect(request, "/manage/sessions/sign-out-others")
    user = caller.user
    ended = services.sessions.sign_out_others(session, user, current_token=caller.session_token)
    text = f"Signed out of {_sessions(len(ended))} elsewhere. This one stays signed in." if ended else "You are not signed in anywhere else."
    return site.redirect(request, "/manage/sessions", Flash("ok", text))


@router.get("/manage/sessions/{session_id}/sign-out")
def sign_out_confirm(session_id: SessionId, request: Request, site: SiteDep, services: ServicesDep, caller: SignedIn, session: ReadSession) -> Response:
    user = caller.user
    view = services.sessions.get(session, user, session_id, current_token=caller.session_token)
    device = view.device or UNKNOWN_DEVICE
    context = {
        "title": "Sign out here?" if view.current else f"Sign out {device}?",
        "lines": [
            "This is the browser you are using now: you will be signed out of it."
            if view.current
            else f"The session on {device}, signed in on {format_day(view.signed_in_at)}, ends at once: "
            "its next page asks for a new sign-in code.",
        ],
        "action": f"/manage/sessions/{view.id}/sign-out",
        "button": "Sign out here" if view.current else "Sign out that session",
        "cancel": "/manage/sessions",
    }
    return render_tab(site, request, services, session, caller, tab="sessions", template="manage/confirm.html", context=context)


@router.post("/manage/sessions/{session_id}/sign-out")
def sign_out(session_id: SessionId, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, caller: SignedIn, session: WriteSession) -> Response:
    if not confirmed(form):
        return site.redirect(request, f"/manage/sessions/{session_id}/sign-out")
    user = caller.user
    view = services.sessions.sign_out(session, user, session_id, current_token=caller.session_token)
    if view.current:
        response = site.redirect(request, "/login", Flash("ok", "You're signed out."))
        site.end_session(response)
        return response
    return site.redirect(request, "/manage/sessions", Flash("ok", f"Signed out {view.device or UNKNOWN_DEVICE}."))
