"""Where the consent app may send a browser: our own paths, or an agent's registered URI."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import Request

DEFAULT_AFTER_SIGN_IN = "/manage"
_MAX_NEXT = 4000


def local_path(value: str | None, default: str = DEFAULT_AFTER_SIGN_IN) -> str:
    """``value`` when it is a path on this site, else ``default``: never an open redirect.

    Refused: absolute URLs, scheme-relative ``//host``, backslashes (browsers read ``/\\host``
    as ``//host``), and control characters (a browser may drop them and see ``//host``).
    """
    if not value or len(value) > _MAX_NEXT or not value.startswith("/"):
        return default
    if value.startswith("//") or "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return default
    return value


def here(request: Request) -> str:
    """This request's own path and query, as a ``next`` value."""
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


def with_query(uri: str, params: dict[str, str | None]) -> str:
    """``uri`` with ``params`` added to its query (keeping what is there); None values are left out."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query.extend((key, value) for key, value in params.items() if value is not None)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def sign_in_url(next_path: str) -> str:
    return f"/login?{urlencode({'next': local_path(next_path)})}"
