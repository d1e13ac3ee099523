"""Domain errors on web pages: a page a person can read, not the JSON envelope.

Web routes use ``WebRoute``, which catches what the services raise and renders it here, with
the status from this table. A missing or expired passport session is not an error for a page:
the browser is sent to sign in and brought back afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

from memoryos_server import errors as e
from memoryos_server.origins import site_origins
from memoryos_server.web.csrf import CsrfFailed
from memoryos_server.web.redirects import here, local_path

log = logging.getLogger("memoryos.web")


@dataclass(frozen=True)
class ErrorPage:
    status: int
    title: str
    message: str | None = None  # None: the error's own message
    hint: str | None = None
    action: tuple[str, str] | None = None  # (path, label): the way on, beside "Go to your Memory Passport"


_DIRECTORY = ("/connect/organisations", "Connect an account")
_LINK_HINT = "Go back to the app you came from and choose Connect Memory Passport again to get a fresh link."

# Looked up along each error's MRO, so a subclass without its own row uses its parent's.
ERROR_PAGES: dict[type[e.MemoryOSError], ErrorPage] = {
    CsrfFailed: ErrorPage(
        403,
        "This form has expired",
        "For your safety we did not change anything: the form was old, or did not come from this site.",
        "Go back, reload the page and try again.",
    ),
    e.AgentNotFound: ErrorPage(
        404,
        "We can't find this agent",
        "The link may be mistyped, or the agent was removed, switched off or refused by MemoryOS's review.",
        "Nothing was shared. You can close this page.",
    ),
    e.RedirectUriNotRegistered: ErrorPage(
        400,
        "This link isn't allowed",
        "The app asked us to send you back to an address it has not registered with MemoryOS, "
        "so we stopped here. Nothing was shared.",
        "Tell the app's makers, or go back to the app and try again.",
    ),
    e.LinkExpired: ErrorPage(410, "This link has expired or was already used", "Connection links work once, for 15 minutes.", _LINK_HINT),
    e.LinkForAnotherAgent: ErrorPage(
        403, "This link belongs to a different app", "The connection link was made for another agent than the one named in it.", _LINK_HINT
    ),
    e.OAuthStateInvalid: ErrorPage(
        400,
        "This sign-in can't be finished here",
        None,
        "Nothing was connected. Start again from Connect an account, in the browser where you're signed in to your passport.",
        _DIRECTORY,
    ),
    e.ProviderDenied: ErrorPage(400, "Nothing was connected", None, "You can try again whenever you like.", _DIRECTORY),
    e.ConnectorFailed: ErrorPage(
        502, "We couldn't connect your account", None, "Try again in a moment. If it keeps happening, tell the organisation.", _DIRECTORY
    ),
    e.DirectoryEntryNotFound: ErrorPage(
        404, "This organisation isn't in the directory", "It may have been removed from it. Nothing was connected.", None, _DIRECTORY
    ),
    e.GrantNotFound: ErrorPage(404, "This access no longer exists", "It may have been removed already."),
    e.MemoryNotFound: ErrorPage(404, "This memory no longer exists", "It may have been deleted already."),
    e.ClarificationNotFound: ErrorPage(404, "This question no longer exists"),
    e.ConnectionNotFound: ErrorPage(404, "This connection no longer exists", "It may have been disconnected already."),
    e.SessionNotFound: ErrorPage(404, "This session has already ended", "It may have been signed out already, or expired."),
    e.NotFound: ErrorPage(404, "Not found"),
    e.ClarificationClosed: ErrorPage(409, "This question was already answered"),
    e.AlreadyExists: ErrorPage(409, "This already exists"),
    e.LastOwner: ErrorPage(409, "An organisation keeps at least one owner", None, "Make someone else an owner first."),
    e.SignupDisabled: ErrorPage(403, "Sign-up is turned off on this server", None, "Ask someone in your organisation to invite you."),
    e.InvitationCodeInvalid: ErrorPage(400, "That code does not match this invitation", None, "Check the latest invitation email."),
    e.LinkTokensDisabled: ErrorPage(409, "Secure links are turned off for your organisation"),
    e.GrantNotActive: ErrorPage(409, "This access is no longer active"),
    e.ValidationFailed: ErrorPage(400, "Please check what you entered"),
    e.OAuthError: ErrorPage(
        400,
        "This app's request isn't valid",
        None,
        "Nothing was shared. Go back to the app and try connecting again; if it keeps happening, tell the app's makers.",
    ),
    e.BadRequest: ErrorPage(400, "This request isn't valid"),
    e.RateLimited: ErrorPage(429, "Too many attempts", None, "Wait a little and try again."),
    e.PermissionDenied: ErrorPage(403, "Not allowed"),
    e.ServiceUnavailable: ErrorPage(503, "We can't do that right now", "Something we depend on did not answer.", "Try again in a moment."),
}

_FALLBACK = ErrorPage(500, "Something went wrong", "We could not finish this. Nothing was changed.", "Try again in a moment.")


def page_for(error: e.MemoryOSError) -> ErrorPage:
    for cls in type(error).__mro__:
        if cls in ERROR_PAGES:
            return ERROR_PAGES[cls]
    return _FALLBACK


def render_error(request: Request, error: e.MemoryOSError, *, home: tuple[str, str] | None = None) -> Response:
    """The error page; ``home`` is its way back (the permission center unless said)."""
    page = page_for(error)
    site = request.app.state.site
    own = str(error)
    message = page.message or (own[:1].upper() + own[1:])
    response = site.render(
        request,
        "error.html",
        {"title": page.title, "message": message, "hint": page.hint, "status": page.status, "action": page.action, "home": home},
        status_code=page.status,
    )
    if isinstance(error, e.RateLimited | e.ServiceUnavailable) and error.retry_after_seconds:
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


def _back_to(request: Request) -> str:
    """Where to return after signing in: this page for a GET; for a form, the page it was on."""
    if request.method == "GET":
        return here(request)
    referer = request.headers.get("referer")
    if referer and site_origins(request).from_this_site(request, referer):
        parts = urlsplit(referer)
        return local_path(f"{parts.path}?{parts.query}" if parts.query else parts.path)
    return "/manage"


class WebRoute(APIRoute):
    """A page route: domain errors become HTML pages; no session means "sign in first"."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except e.PassportSessionRequired:
                return request.app.state.site.sign_in_first(request, _back_to(request))
            except RequestValidationError:
                return render_error(request, e.BadRequest(message="this link or form is incomplete or malformed"))
            except e.MemoryOSError as error:
                if page_for(error).status >= 500:
                    log.warning("page %s %s failed: %s", request.method, request.url.path, type(error).__name__)
                return render_error(request, error)

        return handle
