"""Sign-in by email and one-time code, and sign-out.

``/login`` asks for the address and sends a code (``PassportService.send_code``); the address
then waits in a sealed cookie while ``/login/code`` asks for the code (``verify_code``). The
limits are the service's: codes expire, are single use, lock the address after too many wrong
tries, and sending and checking are rate limited per address and per network address (a paused
network is said so, without blaming the address).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request, Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from memoryos_server.addresses import EmailAddress
from memoryos_server.clientip import client_ip
from memoryos_server.errors import AgentNotFound, NetworkPaused, RateLimited, WrongOneTimeCode
from memoryos_server.services.container import Services
from memoryos_server.services.passport.service import CodeSent
from memoryos_server.web.deps import CheckedForm, MaybeSignedIn, ReadSession, ServicesDep, SiteDep, WriteSession, field
from memoryos_server.web.errors import WebRoute
from memoryos_server.web.redirects import local_path
from memoryos_server.web.site import Site
from memoryos_server.web.templating import Flash

router = APIRouter(route_class=WebRoute, include_in_schema=False)

_EMAIL = TypeAdapter(EmailAddress)


def wait_text(seconds: int) -> str:
    """"in 3 minutes", "in about an hour": when to try again, as a person would say it."""
    minutes = max(1, -(-seconds // 60))
    if minutes < 60:
        return f"in {minutes} minute{'s' if minutes != 1 else ''}"
    hours = round(minutes / 60)
    return "in about an hour" if hours <= 1 else f"in about {hours} hours"


def not_sent(result: CodeSent) -> tuple[str, int]:
    """Why no code went out, and when to try again, with the page's status."""
    wait = wait_text(result.retry_after_seconds or 60)
    if result.reason == "rate_limited":
        return f"Too many codes were asked for. Please try again {wait}.", 429
    if result.reason == "locked":
        return f"Signing in to this address is paused after too many wrong codes. Please try again {wait}.", 429
    return "We couldn't send the email just now. Please try again in a moment.", 503


def asking_agent(services: Services, session: Session, next_path: str | None) -> str | None:
    """The public name of the agent a consent screen or secure link is for, when signing in is
    the way there; None for anything else, and for an agent no one may approve (unknown,
    deleted, switched off, refused): the page then stays the generic one."""
    parts = urlsplit(next_path or "")
    if parts.path not in ("/consent", "/connect"):
        return None
    agent_id = parse_qs(parts.query).get("agent_id", [""])[0]
    if not agent_id:
        return None
    try:
        return services.grants.grantable_agent(session, agent_id).name
    except AgentNotFound:
        return None


def _email_form(
    site: Site,
    request: Request,
    services: Services,
    session: Session,
    *,
    next_path: str,
    email: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    flashes = [Flash("error", error)] if error else []
    context = {"next": next_path, "email": email, "agent_name": asking_agent(services, session, next_path)}
    return site.render(request, "login.html", context, status_code=status, flashes=flashes)


def tries_text(tries_left: int) -> str:
    return f"{tries_left} tr{'y' if tries_left == 1 else 'ies'} left"


def _code_form(
    site: Site, request: Request, services: Services, session: Session, *, email: str, error: str | None = None, status: int = 200
) -> Response:
    """The code form; while the address is locked, the page that says until when instead."""
    tries = services.passport.code_tries(email=email)
    if tries.locked_for_seconds:
        return _locked_page(site, request, email=email, seconds=tries.locked_for_seconds, status=429 if status == 200 else status)
    flashes = [Flash("error", error)] if error else []
    pending = site.login.read(request)
    context = {
        "email": email,
        "minutes": site.code_minutes,
        # Said once a wrong code has been entered (a new code does not reset the count).
        "tries_left": tries_text(tries.tries_left) if tries.tries_left < services.runtime.settings.otp_max_attempts else None,
        "lock_minutes": max(1, services.runtime.settings.otp_lock_seconds // 60),
        "agent_name": asking_agent(services, session, str(pending.get("next") or "") if pending else None),
    }
    return site.render(request, "login_code.html", context, status_code=status, flashes=flashes)


def _locked_page(site: Site, request: Request, *, email: str, seconds: int, status: int) -> Response:
    """Too many wrong codes: no code form (it could only fail), but when to come back."""
    text = f"Too many wrong codes. For your safety, signing in to this address is paused; please try again {wait_text(seconds)}."
    context = {"email": email, "until": datetime.now(UTC) + timedelta(seconds=seconds)}
    response = site.render(request, "login_locked.html", context, status_code=status, flashes=[Flash("error", text)])
    response.headers["Retry-After"] = str(seconds)
    return response


@router.get("/login")
def login_page(
    request: Request, site: SiteDep, services: ServicesDep, caller: MaybeSignedIn, session: ReadSession, next: str | None = None
) -> Response:
    pending = site.login.read(request)  # "use a different email" keeps where the person was going
    next_path = local_path(next or (str(pending.get("next")) if pending else None))
    if caller is not None:
        return site.redirect(request, next_path)
    return _email_form(site, request, services, session, next_path=next_path)


@router.post("/login")
def send_code(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, session: ReadSession) -> Response:
    # The code is stored and counted in transactions of the passport service's own, whatever
    # becomes of this request; the session here only reads the asking agent's name.
    next_path = local_path(field(form, "next", max_length=4000))
    raw_email = field(form, "email", max_length=320)
    try:
        email = _EMAIL.validate_python(raw_email)
    except ValidationError:
        error = "Enter a valid email address, like name@example.com."
        return _email_form(site, request, services, session, next_path=next_path, email=raw_email, error=error, status=422)
    result = services.passport.send_code(email=email, ip=client_ip(request))
    if not result.sent:
        text, status = not_sent(result)
        response = _email_form(site, request, services, session, next_path=next_path, email=email, error=text, status=status)
        if result.retry_after_seconds:
            response.headers["Retry-After"] = str(result.retry_after_seconds)
        return response
    response = site.redirect(request, "/login/code")
    site.login.store(request, response, {"email": email, "next": next_path})
    return response


@router.get("/login/code")
def code_page(request: Request, site: SiteDep, services: ServicesDep, caller: MaybeSignedIn, session: ReadSession) -> Response:
    pending = site.login.read(request)
    if caller is not None:
        return site.redirect(request, local_path(pending.get("next") if pending else None))
    if pending is None:
        return site.redirect(request, "/login", Flash("warning", "Enter your email address again to get a new code."))
    return _code_form(site, request, services, session, email=pending["email"])


@router.post("/login/code")
def verify_code(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, session: ReadSession) -> Response:
    # The code is checked, and a wrong one counted, in the passport service's own transactions;
    # the session here only reads the asking agent's name for the page.
    pending = site.login.read(request)
    if pending is None:
        return site.redirect(request, "/login", Flash("warning", "That took a while: enter your email address again to get a new code."))
    email = str(pending["email"])
    code = field(form, "code", max_length=32).replace(" ", "")
    try:
        signed_in = services.passport.verify_code(email=email, code=code, ip=client_ip(request), user_agent=request.headers.get("user-agent"))
    except WrongOneTimeCode as wrong:
        if wrong.locked_for_seconds:  # that wrong code was one too many
            return _locked_page(site, request, email=email, seconds=wrong.locked_for_seconds, status=401)
        text = "That code is wrong, has expired or was already used. Check the latest email, or send a new code."
        return _code_form(site, request, services, session, email=email, error=text, status=401)
    except RateLimited as limited:
        if not isinstance(limited, NetworkPaused):
            return _locked_page(site, request, email=email, seconds=limited.retry_after_seconds, status=429)
        # The network, not this address, is paused: the code stays good from elsewhere.
        text = f"Too many attempts from your network; please try again {wait_text(limited.retry_after_seconds)}."
        response = _code_form(site, request, services, session, email=email, error=text, status=429)
        response.headers["Retry-After"] = str(limited.retry_after_seconds)
        return response
    welcome = "Welcome! Your Memory Passport is ready." if signed_in.created else "You're signed in."
    response = site.redirect(request, local_path(pending.get("next")), Flash("ok", welcome))
    site.start_session(request, response, signed_in.session_token)
    site.login.clear(response)
    return response


@router.post("/login/resend")
def resend_code(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep) -> Response:
    pending = site.login.read(request)
    if pending is None:
        return site.redirect(request, "/login", Flash("warning", "Enter your email address again to get a new code."))
    result = services.passport.send_code(email=str(pending["email"]), ip=client_ip(request))
    if result.sent:
        response = site.redirect(request, "/login/code", Flash("ok", "We sent you a new code. Only the newest one works."))
        site.login.store(request, response, pending)  # the address waits as long as the new code lives
        return response
    return site.redirect(request, "/login/code", Flash("error", not_sent(result)[0]))


@router.post("/logout")
def logout(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, session: WriteSession) -> Response:
    services.passport.sign_out(session, site.session_token(request))
    response = site.redirect(request, "/login", Flash("ok", "You're signed out."))
    site.end_session(response)
    return response
