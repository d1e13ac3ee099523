"""The caller's network address, as the server sees it; read here and nowhere else.

Behind a proxy this is the address from ``X-Forwarded-For`` only when the proxy is one named
in ``MEMORYOS_TRUSTED_PROXIES`` (``memoryos serve`` hands that list to uvicorn, which alone
rewrites the peer address; with no list it believes no forwarded header, not even from this
machine), so a client cannot pick its own address to slip past a per-address limit.

A module of its own, below ``api`` and ``web``: both read the address, and neither may import
the other.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


ClientIp = Annotated[str | None, Depends(client_ip)]
