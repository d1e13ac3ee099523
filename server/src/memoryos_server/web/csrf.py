"""CSRF protection for every form: a token bound to a per-browser cookie, checked with the Origin.

Stateless on purpose (no server-side store, so any worker can check it): the token is an HMAC of
a random cookie value. A cross-site page can make the browser send the cookie, but cannot read
it, so it cannot compute the token.

The ``Origin`` (else the ``Referer``), when the browser sends one, must be this site, compared by
scheme, host and port: the origin the request was addressed to, or the configured public or
consent base URL (behind a reverse proxy that rewrites ``Host``, only the latter match). Without
either header the token alone decides, as it must for browsers that send neither.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from fastapi import Request, Response

from memoryos_server.errors import MemoryOSError
from memoryos_server.origins import claimed_origin, site_origins

CSRF_COOKIE = "memoryos_csrf"


class CsrfFailed(MemoryOSError):
    error = "csrf_failed"


class Csrf:
    def __init__(self, key: bytes, *, secure: bool) -> None:
        self._key = key
        self._secure = secure

    def token(self, request: Request, response: Response | None = None) -> str:
        """The token for forms on this page; sets the cookie on ``response`` when it is new."""
        seed = request.cookies.get(CSRF_COOKIE)
        if not seed or len(seed) < 32:
            seed = getattr(request.state, "csrf_seed", None) or secrets.token_urlsafe(32)
            request.state.csrf_seed = seed
            if response is not None:
                self.set_cookie(response, seed)
        return self._sign(seed)

    def set_cookie(self, response: Response, seed: str) -> None:
        response.set_cookie(CSRF_COOKIE, seed, httponly=True, samesite="lax", secure=self._secure, path="/")

    def pending_seed(self, request: Request) -> str | None:
        """A seed minted while rendering this request, which the response must set."""
        return getattr(request.state, "csrf_seed", None)

    def verify(self, request: Request, submitted: str | None) -> None:
        seed = request.cookies.get(CSRF_COOKIE)
        # Compared as bytes: compare_digest refuses str with anything but ASCII (a TypeError).
        expected = self._sign(seed).encode() if seed else b""
        given = submitted.encode("utf-8", "surrogatepass") if submitted else b""
        if not seed or not submitted or not hmac.compare_digest(expected, given):
            raise CsrfFailed("this form expired or did not come from this site; reload the page and try again")
        claimed = claimed_origin(request)
        if claimed and not site_origins(request).from_this_site(request, claimed):
            raise CsrfFailed("this form did not come from this site")

    def _sign(self, seed: str) -> str:
        return hmac.new(self._key, seed.encode(), hashlib.sha256).hexdigest()
