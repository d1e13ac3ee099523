"""Calls this server makes to other servers: an organisation's OAuth token and userinfo
endpoints, the logo it registered. Bounded in time and size, and never into our own network.

Whoever registers a URL chooses where this server connects; without care that is a way into
the network it runs in (server-side request forgery). So every call:

- resolves the host itself and refuses it when any of its addresses is not a public one:
  loopback only with ``allow_insecure_oauth``, private ranges only with
  ``outbound_allow_private_networks``, link-local (cloud metadata services) never. It then
  connects to the very address it checked, so the name is not looked up a second time by
  someone else: a name that resolves to a public address when it is registered and to
  127.0.0.1 later (DNS rebinding) is refused at the call. TLS is still checked against the
  name (it is sent as SNI and the certificate must match it);
- follows no redirect and uses no proxy from the environment;
- gives up after ``connector_timeout_seconds`` (connecting, each wait for data, and the call as
  a whole as soon as it is past that time) and after ``max_bytes`` of answer, read as a stream
  and never decompressed (identity encoding is asked for; any other is refused).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from memoryos_server.errors import OutboundCallFailed
from memoryos_server.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (host, port) → the addresses it resolves to. The system's resolver by default; tests hand
# in their own to play DNS (names that resolve to private or changing addresses).
Resolver = Callable[[str, int], Sequence[str]]

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses this server may connect to on someone else's say-so."""

    allow_loopback: bool = False
    allow_private: bool = False

    def permits(self, address: IPAddress) -> bool:
        address = _embedded_ipv4(address)
        if address.is_link_local or address.is_unspecified or address.is_multicast:
            return False
        if address.is_loopback:
            return self.allow_loopback
        if address.is_global:
            return True
        if self.allow_private and (address.is_private or address in _SHARED_ADDRESS_SPACE):
            return not address.is_reserved
        return False


def _embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), judged as itself."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


@dataclass(frozen=True)
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def json_object(self) -> dict[str, Any]:
        """The body as a JSON object; anything else is an ``invalid_response``."""
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply to read
            raise OutboundCallFailed("invalid_response", "the answer is not JSON") from exc
        if not isinstance(value, dict):
            raise OutboundCallFailed("invalid_response", "the answer is not a JSON object")
        return value


class OutboundHttp:
    def __init__(
        self,
        settings: Settings,
        *,
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        policy: AddressPolicy | None = None,
        timeout: float | None = None,
        max_bytes: int | None = None,
    ) -> None:
        """The connectors' limits and address policy from ``settings``, unless a caller with
        its own settings (the MCP client metadata fetch) hands in its own."""
        self.timeout = float(timeout or settings.connector_timeout_seconds)
        self.max_bytes = int(max_bytes or settings.connector_max_response_bytes)
        self.policy = policy or AddressPolicy(
            allow_loopback=settings.allow_insecure_oauth, allow_private=settings.outbound_allow_private_networks
        )
        self.resolver: Resolver = resolver or system_resolver
        self.ssl_context = ssl_context or ssl.create_default_context()
        # Name lookups run here, so one that hangs is abandoned at the timeout.
        self._lookups = ThreadPoolExecutor(max_workers=4, thread_name_prefix="memoryos-dns")

    # --- where we may go -------------------------------------------------------------------------

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses of ``host``, all of them allowed, or ``OutboundCallFailed``
        (``unresolvable``, or ``address_refused`` when any one is not allowed)."""
        host = host.strip("[]").lower()
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            found = [literal]
        else:
            future = self._lookups.submit(self.resolver, host, port)
            try:
                names = list(future.result(timeout=self.timeout))
            except FutureTimeout as exc:
                raise OutboundCallFailed("unresolvable", f"looking up {host} took too long") from exc
            except (OSError, UnicodeError) as exc:
                raise OutboundCallFailed("unresolvable", f"{host} cannot be resolved") from exc
            found = [ipaddress.ip_address(name.split("%", 1)[0]) for name in names]
        if not found:
            raise OutboundCallFailed("unresolvable", f"{host} cannot be resolved")
        if not all(self.policy.permits(address) for address in found):
            raise OutboundCallFailed(
                "address_refused", f"{host} resolves to an address this server does not call (private, loopback or link-local)"
            )
        return found

    def check_destination(self, url: str) -> None:
        """Would a call to ``url`` be allowed now? (The call checks again: DNS can change.)"""
        parts = urlsplit(url)
        self.addresses(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))

    # --- the call --------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> Reply:
        limit = max_bytes or self.max_bytes
        deadline = time.monotonic() + self.timeout
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise OutboundCallFailed("invalid_url", "not a URL") from exc
        if target.scheme not in ("https", "http") or not target.host:
            raise OutboundCallFailed("invalid_url", "only http(s) URLs are called")
        port = target.port or (443 if target.scheme == "https" else 80)
        sent = {"Accept-Encoding": "identity", "User-Agent": "MemoryOS connector", **(headers or {})}
        sent["Host"] = target.netloc.decode("ascii")
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        addresses = self.addresses(target.host, port)
        try:
            with httpx.Client(
                timeout=httpx.Timeout(self.timeout), follow_redirects=False, trust_env=False, verify=self.ssl_context
            ) as client:
                for number, address in enumerate(addresses, start=1):
                    # Connect to the checked address; the Host header and TLS (SNI and the
                    # certificate) still speak of the name.
                    request = client.build_request(
                        method, target.copy_with(host=str(address)), headers=sent, data=data, extensions=extensions
                    )
                    try:
                        response = client.send(request, stream=True)
                    except httpx.ConnectError:
                        if number == len(addresses) or time.monotonic() > deadline:
                            raise
                        continue  # the name's next address (localhost: ::1, then 127.0.0.1)
                    try:
                        return Reply(response.status_code, response.headers, self._read(response, limit, deadline))
                    finally:
                        response.close()
        except httpx.TimeoutException as exc:
            raise OutboundCallFailed("timeout", "the server did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise OutboundCallFailed("unreachable", "the server could not be reached") from exc
        raise OutboundCallFailed("unreachable", "the server could not be reached")  # no address (not reached)

    @staticmethod
    def _read(response: httpx.Response, limit: int, deadline: float) -> bytes:
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise OutboundCallFailed("invalid_response", f"the answer is {encoding}-encoded")
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise OutboundCallFailed("too_large", f"the answer is larger than {limit} bytes")
        body = bytearray()
        for chunk in response.iter_raw():
            body += chunk
            if len(body) > limit:
                raise OutboundCallFailed("too_large", f"the answer is larger than {limit} bytes")
            if time.monotonic() > deadline:
                raise OutboundCallFailed("timeout", "the server did not answer in time")
        if time.monotonic() > deadline:
            raise OutboundCallFailed("timeout", "the server did not answer in time")
        return bytes(body)

    def close(self) -> None:
        self._lookups.shutdown(wait=False, cancel_futures=True)
