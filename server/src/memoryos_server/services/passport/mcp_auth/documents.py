"""Fetching a Client ID Metadata Document: the one outbound call an MCP client can make us do.

A client whose ``client_id`` is an https URL describes itself in a JSON document at that URL
(draft-ietf-oauth-client-id-metadata-document). Anyone can send a browser to ``/authorize`` with
any URL, so the fetch goes through the guarded outbound client every such call uses
(``services/outbound.py``: the host resolved and checked here, the connection made to the checked
address, no redirect, no proxy, a timeout and a size cap), with its own settings:

- https only, with a path, no user name or password, no fragment;
- addresses that are not public (private, loopback, shared) only when
  ``MEMORYOS_MCP_CLIENT_METADATA_ALLOW_PRIVATE_ADDRESSES`` allows them; link-local never;
- a 200 answer served as JSON, holding a JSON object.
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

from memoryos_server.errors import OAuthError, OutboundCallFailed
from memoryos_server.services.outbound import AddressPolicy, OutboundHttp, Resolver
from memoryos_server.settings import Settings

MAX_CLIENT_ID_URL = 512


def is_metadata_document_url(client_id: str) -> bool:
    """Whether a ``client_id`` names a metadata document (an https URL) rather than a
    registration of ours."""
    return client_id.startswith("https://")


def _refuse(message: str) -> OAuthError:
    return OAuthError("invalid_client", f"the client's metadata document {message}")


def check_document_url(url: str) -> tuple[str, int, str]:
    """(host, port, path and query) of a client_id URL, or ``invalid_client``."""
    if len(url) > MAX_CLIENT_ID_URL or any(ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in url):
        raise _refuse("URL is not acceptable")
    try:
        parts = urlsplit(url)
        port = parts.port or 443
    except ValueError as exc:
        raise _refuse("URL is not a URL") from exc
    if parts.scheme != "https" or not parts.hostname:
        raise _refuse("URL must be an https URL")
    if parts.username or parts.password or parts.fragment:
        raise _refuse("URL must not carry a user name, a password or a fragment")
    if parts.path in ("", "/"):
        raise _refuse("URL must have a path")
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port, target


class ClientMetadataFetcher:
    def __init__(self, settings: Settings, *, resolver: Resolver | None = None) -> None:
        allow = settings.mcp_client_metadata_allow_private_addresses
        ca_file = settings.mcp_client_metadata_ca_file
        self.http = OutboundHttp(
            settings,
            resolver=resolver,
            ssl_context=ssl.create_default_context(cafile=str(ca_file)) if ca_file else None,
            policy=AddressPolicy(allow_loopback=allow, allow_private=allow),
            timeout=settings.mcp_client_metadata_timeout_seconds,
            max_bytes=settings.mcp_client_metadata_max_bytes,
        )

    def fetch(self, url: str) -> dict[str, Any]:
        """The document at ``url`` as a JSON object, or ``invalid_client`` saying why not."""
        check_document_url(url)
        try:
            reply = self.http.request("GET", url, headers={"Accept": "application/json", "User-Agent": "MemoryOS"})
        except OutboundCallFailed as exc:
            if exc.reason == "address_refused":
                raise _refuse("host is on a private or local network, which this server does not call") from exc
            if exc.reason == "too_large":
                raise _refuse(f"is larger than {self.http.max_bytes} bytes") from exc
            raise _refuse(f"could not be fetched ({exc})") from exc
        if reply.status != 200:
            raise _refuse(f"answered HTTP {reply.status} (redirects are not followed)")
        if reply.content_type != "application/json" and not reply.content_type.endswith("+json"):
            raise _refuse("is not served as application/json")
        try:
            return reply.json_object()
        except OutboundCallFailed as exc:
            raise _refuse("is not a JSON object") from exc

    def close(self) -> None:
        self.http.close()
