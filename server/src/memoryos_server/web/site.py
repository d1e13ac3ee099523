"""What every page handler shares: rendering with flashes, redirects, the session cookie."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from memoryos_server.crypto import derive_key
from memoryos_server.services.passport.service import SESSION_COOKIE
from memoryos_server.services.runtime import Runtime
from memoryos_server.web.csrf import Csrf
from memoryos_server.web.redirects import sign_in_url
from memoryos_server.web.sealed import SealedCookie
from memoryos_server.web.templating import Flash, Pages, secure_headers

FLASH_COOKIE = "memoryos_flash"
LOGIN_COOKIE = "memoryos_login"
# The dashboard's own session (a tenant member or an operator), apart from the passport's.
DASHBOARD_COOKIE = "memoryos_dashboard_session"


class Site:
    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        master = runtime.master.key
        self.session_ttl_seconds = settings.passport_session_ttl_seconds
        self.code_minutes = max(1, settings.otp_ttl_seconds // 60)
        self.csrf = Csrf(derive_key(master, "web-csrf"), secure=settings.resolved_consent_base_url.startswith("https://"))
        self.pages = Pages(self.csrf)
        # A flash lives for one redirect; a minute is plenty and keeps a consent code short-lived.
        self.flash = SealedCookie(derive_key(master, "web-flash"), FLASH_COOKIE, max_age=60)
        # The address a sign-in code went to, for the code form (as long as the code lives).
        self.login = SealedCookie(
            derive_key(master, "web-login"), LOGIN_COOKIE, max_age=settings.otp_ttl_seconds + 300, path="/login"
        )
        # The signed-in member's token (``IdentityService.login``), sealed: it lives as long as
        # the token does, and a tampered or foreign cookie opens as nothing.
        self.dashboard = SealedCookie(derive_key(master, "web-dashboard"), DASHBOARD_COOKIE, max_age=settings.jwt_ttl_seconds)

    # --- pages ---------------------------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
        email: str | None = None,
        flashes: list[Flash] | None = None,
    ) -> HTMLResponse:
        """A page, with the flash message left by the previous redirect (shown once)."""
        pending = self.flash.read(request)
        carried = Flash.from_dict(pending) if pending else None
        shown = [*(flashes or []), *([carried] if carried else [])]
        response = self.pages.render(
            request, template, context, status_code=status_code, flashes=shown, signed_in_email=email
        )
        if FLASH_COOKIE in request.cookies:
            self.flash.clear(response)
        return response

    def redirect(self, request: Request, url: str, flash: Flash | None = None) -> RedirectResponse:
        """See Other: after a form, the browser asks for the next page with GET."""
        response = RedirectResponse(url, status_code=303)
        if flash is not None:
            self.flash.store(request, response, flash.as_dict())
        secure_headers(response)
        return response

    def sign_in_first(self, request: Request, back_to: str) -> RedirectResponse:
        """To the sign-in page, coming back to ``back_to``; a stale session cookie is dropped."""
        response = self.redirect(request, sign_in_url(back_to))
        if SESSION_COOKIE in request.cookies:
            self.end_session(response)
        return response

    # --- the passport session ------------------------------------------------------------------

    def start_session(self, request: Request, response: Response, token: str) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=self.session_ttl_seconds,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            path="/",
        )

    @staticmethod
    def end_session(response: Response) -> None:
        response.delete_cookie(SESSION_COOKIE, path="/")

    @staticmethod
    def session_token(request: Request) -> str | None:
        return request.cookies.get(SESSION_COOKIE)
