"""Fetching a Client ID Metadata Document: the one outbound call an MCP client can make us do.

A client whose ``client_id`` is an https URL describes itself in a JSON document at that URL
(draft-ietf-oauth-client-id-metadata-document). Anyone can send a browser to ``/authorize`` with
any URL, so the fetch is guarded like every call a stranger can trigger:

- https only, with a path, no user name or password, no fragment;
- the host is resolved once, here, and every address it resolves to must be public (not private,
  loopback, link-local, shared, multicast or reserved) unless
  ``MEMORYOS_MCP_CLIENT_METADATA_ALLOW_PRIVATE_ADDRESSES`` allows them; the connection then goes to
  the address that was checked (the name is kept for TLS and ``Host``), so a second, different
  DNS answer cannot point the request elsewhere;
- no redirects (the document must be at its own URL), a timeout, and a size cap on the body.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
from typing import Any
from urllib.parse import urlsplit

import httpx

from memoryos_server.errors import OAuthError
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


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


class ClientMetadataFetcher:
    def __init__(self, settings: Settings) -> None:
        self.timeout = settings.mcp_client_metadata_timeout_seconds
        self.max_bytes = settings.mcp_client_metadata_max_bytes
        self.allow_private = settings.mcp_client_metadata_allow_private_addresses
        ca_file = settings.mcp_client_metadata_ca_file
        self._tls = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True

    def resolve(self, host: str, port: int) -> str:
        """The address to connect to: the first the name resolves to, once all are allowed."""
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise _refuse("host does not resolve") from exc
        addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
        if not addresses:
            raise _refuse("host does not resolve")
        if not self.allow_private and not all(_public(address) for address in addresses):
            raise _refuse("host is on a private or local network, which this server does not call")
        return str(addresses[0])

    def fetch(self, url: str) -> dict[str, Any]:
        """The document at ``url`` as a JSON object, or ``invalid_client`` saying why not."""
        host, port, target = check_document_url(url)
        address = self.resolve(host, port)
        netloc = f"[{address}]" if ":" in address else address
        host_header = host if port == 443 else f"{host}:{port}"
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False, trust_env=False, verify=self._tls) as client:
                request = client.build_request(
                    "GET",
                    f"https://{netloc}:{port}{target}",
                    headers={"Host": host_header, "Accept": "application/json"},
                    extensions={"sni_hostname": host},
                )
                response = client.send(request, stream=True)
                try:
                    body = self._read(response)
                finally:
                    response.close()
        except httpx.HTTPError as exc:
            raise _refuse(f"could not be fetched ({type(exc).__name__})") from exc
        try:
            document = json.loads(body)
        except ValueError as exc:
            raise _refuse("is not JSON") from exc
        if not isinstance(document, dict):
            raise _refuse("is not a JSON object")
        return document

    def _read(self, response: httpx.Response) -> bytes:
        if response.status_code != 200:
            raise _refuse(f"answered HTTP {response.status_code} (redirects are not followed)")
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            raise _refuse("is not served as application/json")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise _refuse(f"is larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
