"""A desktop MCP client, as the official ``mcp`` SDK builds one: its OAuth client provider over
Streamable HTTP, a loopback redirect listener (RFC 8252) and a token store the test can read.

Nothing here is ours: the provider discovers our server, registers itself, sends the person's
browser to ``/authorize``, trades the code and refreshes tokens by itself. The test supplies what
a real app supplies: where to open the browser (``redirect_handler``) and how the code comes back
(``callback_handler``, reading what the loopback listener received).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
from mcp.client.auth import OAuthClientProvider
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken


class AuthorizationRefused(Exception):
    """The redirect came back with an OAuth error (the person denied, say)."""


@dataclass
class RecordingStorage:
    """The app's token store; keeps every token set it was given, in order."""

    tokens: list[OAuthToken] = field(default_factory=list)
    client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens[-1] if self.tokens else None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens.append(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


class LoopbackRedirect:
    """The app's redirect listener on 127.0.0.1, on whatever port was free."""

    def __init__(self) -> None:
        self.received: list[dict[str, str]] = []
        self._arrived = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 — the http.server API
                parts = urlsplit(self.path)
                if parts.path != "/callback":  # the browser's own requests (a favicon)
                    self.send_error(404)
                    return
                query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
                listener.received.append(query)
                listener._arrived.set()
                text = "Connected. You can close this window." if "code" in query else "Not connected."
                data = f"<!doctype html><title>Desk Assistant</title><p id=result>{html.escape(text)}</p>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/callback"

    async def wait(self, timeout: float = 30) -> dict[str, str]:
        arrived = await anyio.to_thread.run_sync(self._arrived.wait, timeout)
        if not arrived:
            raise TimeoutError("the browser never came back to the app")
        self._arrived.clear()
        return self.received[-1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def desktop_client(
    server_url: str,
    redirect: LoopbackRedirect,
    storage: RecordingStorage,
    open_browser: Callable[[str], Awaitable[None]],
    *,
    name: str = "Desk Assistant",
) -> OAuthClientProvider:
    async def callback() -> AuthorizationCodeResult:
        query = await redirect.wait()
        if "error" in query:
            raise AuthorizationRefused(query["error"])
        return AuthorizationCodeResult(code=query["code"], state=query.get("state"), iss=query.get("iss"))

    metadata = OAuthClientMetadata(
        client_name=name,
        redirect_uris=[redirect.uri],  # type: ignore[list-item]
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(
        server_url=f"{server_url}/mcp",
        client_metadata=metadata,
        storage=storage,
        redirect_handler=open_browser,
        callback_handler=callback,
    )
