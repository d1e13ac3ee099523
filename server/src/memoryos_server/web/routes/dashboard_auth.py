"""Signing in to the dashboard: email and password, sign-up, invitations, switching organisation.

The accounts, limits and rules are those of ``/v1/auth/*`` (``IdentityService``,
``MemberService``): a wrong password counts against the same per-address and per-network limits,
sign-up follows ``MEMORYOS_SIGNUP_ENABLED``, an invitation needs the code mailed with it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import TypeAdapter, ValidationError

from memoryos_server.addresses import EmailAddress
from memoryos_server.clientip import client_ip
from memoryos_server.errors import AlreadyExists, AuthenticationFailed, RateLimited, SignupDisabled
from memoryos_server.web.deps import CheckedForm, ReadSession, ServicesDep, SiteDep, WriteSession, field
from memoryos_server.web.routes._dashboard import (
    ADMIN_HOME,
    DASHBOARD_HOME,
    DashboardRoute,
    MaybeMember,
    Member,
    dashboard_path,
    end_session,
    password_field,
    render_page,
    session_token,
    start_session,
)
from memoryos_server.web.routes.login import wait_text
from memoryos_server.web.site import Site
from memoryos_server.web.templating import Flash

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

_EMAIL = TypeAdapter(EmailAddress)
# The API's rule for a new password (api/schemas/identity.py, NewPassword): 8 to 256 characters,
# kept exactly as typed.
NEW_PASSWORD_LENGTH = (8, 256)


def _login_form(site: Site, request: Request, *, next_path: str, email: str = "", error: str | None = None, status: int = 200) -> Response:
    settings = request.app.state.settings
    context = {"next": next_path, "email": email, "signup_enabled": settings.signup_enabled, "for_admin": next_path.startswith(ADMIN_HOME)}
    flashes = [Flash("error", error)] if error else []
    return site.render(request, "dashboard/login.html", context, status_code=status, flashes=flashes)


@router.get("/dashboard/login")
def login_page(request: Request, site: SiteDep, caller: MaybeMember, next: str | None = None) -> Response:
    next_path = dashboard_path(next)
    if caller is not None:
        return site.redirect(request, next_path)
    return _login_form(site, request, next_path=next_path)


@router.get("/admin/login")
def admin_login_page(request: Request, site: SiteDep, caller: MaybeMember) -> Response:
    if caller is not None:
        return site.redirect(request, ADMIN_HOME)
    return _login_form(site, request, next_path=ADMIN_HOME)


@router.post("/dashboard/login")
def sign_in(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep) -> Response:
    # IdentityService.login runs (and counts the attempt) in transactions of its own.
    next_path = dashboard_path(field(form, "next", max_length=4000))
    email = field(form, "email", max_length=320)
    password = password_field(form, "password")
    if not email or not password:
        return _login_form(site, request, next_path=next_path, email=email, error="Enter your email address and password.", status=422)
    try:
        token = services.identity.login(email=email, password=password, ip=client_ip(request))
    except AuthenticationFailed:
        return _login_form(site, request, next_path=next_path, email=email, error="Wrong email or password.", status=401)
    except RateLimited as limited:
        text = f"Too many failed sign-ins. Please try again {wait_text(limited.retry_after_seconds)}."
        response = _login_form(site, request, next_path=next_path, email=email, error=text, status=429)
        response.headers["Retry-After"] = str(limited.retry_after_seconds)
        return response
    response = site.redirect(request, next_path)
    start_session(site, request, response, token)
    return response


@router.get("/dashboard/signup")
def signup_page(request: Request, site: SiteDep, caller: MaybeMember) -> Response:
    if caller is not None:
        return site.redirect(request, DASHBOARD_HOME)
    return _signup_form(site, request)


def _signup_form(
    site: Site, request: Request, *, email: str = "", organisation: str = "", error: str | None = None, status: int = 200
) -> Response:
    enabled = request.app.state.settings.signup_enabled
    context = {"email": email, "organisation": organisation, "signup_enabled": enabled, "min_password": NEW_PASSWORD_LENGTH[0]}
    flashes = [Flash("error", error)] if error else []
    return site.render(request, "dashboard/signup.html", context, status_code=status if enabled else 403, flashes=flashes)


@router.post("/dashboard/signup")
def sign_up(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep) -> Response:
    raw_email = field(form, "email", max_length=320)
    organisation = field(form, "organization_name", max_length=200)
    password = password_field(form, "password")

    def again(error: str, status: int) -> Response:
        return _signup_form(site, request, email=raw_email, organisation=organisation, error=error, status=status)

    try:
        email = _EMAIL.validate_python(raw_email)
    except ValidationError:
        return again("Enter a valid email address, like name@example.com.", 422)
    if not organisation:
        return again("Name your organisation.", 422)
    low, high = NEW_PASSWORD_LENGTH
    if not low <= len(password) <= high:
        return again(f"Choose a password of {low} to {high} characters.", 422)
    try:
        user, tenant = services.identity.signup(email=email, password=password, organization_name=organisation, ip=client_ip(request))
    except SignupDisabled:
        return again("Sign-up is turned off on this server: ask someone in your organisation to invite you.", 403)
    except AlreadyExists:
        return again("An account with this email exists: sign in instead.", 409)
    except RateLimited as limited:
        return again(f"Too many sign-ups from here. Please try again {wait_text(limited.retry_after_seconds)}.", 429)
    response = site.redirect(request, "/dashboard/passport", Flash("ok", f"Welcome! {tenant.name} is ready. Start by creating a Passport agent."))
    start_session(site, request, response, services.identity.issue_user_token(user, tenant))
    return response


@router.post("/dashboard/logout")
def sign_out(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, session: WriteSession) -> Response:
    # Ended on the server too: a copy of the cookie fails from now on.
    services.identity.revoke_token(session, session_token(site, request))
    response = site.redirect(request, "/dashboard/login", Flash("ok", "You're signed out."))
    end_session(site, response)
    return response


@router.post("/dashboard/switch")
def switch_organisation(
    request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession
) -> Response:
    token = services.identity.switch_tenant(session, principal, field(form, "tenant_id", max_length=40))
    services.identity.revoke_token(session, session_token(site, request))  # the other organisation's token ends
    response = site.redirect(request, DASHBOARD_HOME, Flash("ok", "Switched organisation."))
    start_session(site, request, response, token)
    return response


# --- invitations ------------------------------------------------------------------------------


@router.get("/dashboard/invitations")
def invitations_page(request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession) -> Response:
    received = services.members.invitations_for(session, principal)
    return render_page(
        site, request, services, session, principal, tab="overview", template="dashboard/invitations.html", context={"invitations": received}
    )


@router.post("/dashboard/invitations/{invitation_id}/accept")
def accept_invitation(
    invitation_id: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession
) -> Response:
    joined = services.members.accept(session, principal, invitation_id, code=field(form, "code", max_length=200))
    response = site.redirect(request, DASHBOARD_HOME, Flash("ok", f"You joined {joined.tenant.name} as {joined.membership.role}."))
    start_session(site, request, response, joined.token)
    return response


@router.post("/dashboard/invitations/{invitation_id}/decline")
def decline_invitation(
    invitation_id: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession
) -> Response:
    services.members.decline(session, principal, invitation_id, code=field(form, "code", max_length=200))
    return site.redirect(request, "/dashboard/invitations", Flash("ok", "Invitation declined."))


@router.get("/dashboard/join/{invitation_id}")
def join_page(invitation_id: str, request: Request, site: SiteDep) -> Response:
    """An invited address without an account: the code from the email and a new password."""
    context = {"invitation_id": invitation_id, "min_password": NEW_PASSWORD_LENGTH[0]}
    return site.render(request, "dashboard/join.html", context)


@router.post("/dashboard/join/{invitation_id}")
def join(invitation_id: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, session: WriteSession) -> Response:
    password = password_field(form, "password")
    low, high = NEW_PASSWORD_LENGTH
    if not low <= len(password) <= high:
        context = {"invitation_id": invitation_id, "min_password": low}
        error = Flash("error", f"Choose a password of {low} to {high} characters.")
        return site.render(request, "dashboard/join.html", context, status_code=422, flashes=[error])
    joined = services.members.sign_up(session, invitation_id, code=field(form, "code", max_length=200), password=password)
    response = site.redirect(request, DASHBOARD_HOME, Flash("ok", f"Welcome to {joined.tenant.name}."))
    start_session(site, request, response, joined.token)
    return response


# --- the account ---------------------------------------------------------------------------------


@router.get("/dashboard/account")
def account_page(request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession) -> Response:
    return render_page(
        site, request, services, session, principal, tab="account", template="dashboard/account.html",
        context={"min_password": NEW_PASSWORD_LENGTH[0]},
    )


@router.post("/dashboard/account/password")
def change_password(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member) -> Response:
    # IdentityService.change_password runs (and counts the attempt) in transactions of its own.
    new = password_field(form, "new_password")
    low, high = NEW_PASSWORD_LENGTH
    if not low <= len(new) <= high:
        return site.redirect(request, "/dashboard/account", Flash("error", f"Choose a new password of {low} to {high} characters."))
    try:
        services.identity.change_password(principal, current=password_field(form, "current_password"), new=new, ip=client_ip(request))
    except AuthenticationFailed:
        return site.redirect(request, "/dashboard/account", Flash("error", "Your current password is not that one. Nothing changed."))
    except RateLimited as limited:
        text = f"Too many attempts. Please try again {wait_text(limited.retry_after_seconds)}."
        return site.redirect(request, "/dashboard/account", Flash("error", text))
    return site.redirect(request, "/dashboard/account", Flash("ok", "Your password is changed."))
