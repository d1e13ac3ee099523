"""Where a browser request says it comes from, and whether that is this site.

The pages' CSRF check (``web/csrf.py``) and changes made through ``/v1/uui/*`` with the session
cookie alone (``api/deps.py``) apply the same rule. A module of its own, below ``api`` and
``web``: both need it, and neither may import the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request


def origin_of(url: str | None) -> str | None:
    """``scheme://host:port`` of an http(s) URL (lower case, default port spelled out), so two
    spellings of one origin compare equal; ``None`` for anything else (``null``, garbage)."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{scheme}://{host}:{port or (443 if scheme == 'https' else 80)}"


def claimed_origin(request: Request) -> str | None:
    """Where the browser says the request comes from: its ``Origin``, else its ``Referer``."""
    return request.headers.get("origin") or request.headers.get("referer")


@dataclass(frozen=True)
class SiteOrigins:
    """The origins this server is reached at as configured: its public URL and the consent app's
    base URL. Behind a reverse proxy that rewrites ``Host`` these are what browsers send.
    Worked out once per app (``create_app`` keeps it in ``app.state.site_origins``)."""

    configured: frozenset[str]

    @classmethod
    def at(cls, *urls: str | None) -> SiteOrigins:
        return cls(frozenset(origin for origin in map(origin_of, urls) if origin))

    def from_this_site(self, request: Request, claimed: str) -> bool:
        """Whether ``claimed`` (an ``Origin``, or a ``Referer`` URL) is this site: the origin the
        request was addressed to (its scheme and ``Host``), or one of the configured ones."""
        origin = origin_of(claimed)
        if origin is None:
            return False
        addressed = origin_of(f"{request.url.scheme}://{request.headers.get('host', '')}")
        return origin in self.configured or origin == addressed


def site_origins(request: Request) -> SiteOrigins:
    """The origins of the app serving ``request``."""
    origins: SiteOrigins = request.app.state.site_origins
    return origins
