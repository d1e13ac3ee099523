"""Helpers for the browser tests: a person at a browser, screenshots, and an agent's backend.

The agent's backend is a small HTTP server on loopback. Its ``/start`` is where the agent's
"Connect Memory Passport" button points: it builds the consent URL with our SDK
(``UniversalMemory.consent_url``), remembers the ``state`` it handed out and redirects the
browser there. Its ``/callback`` is the agent's registered ``redirect_uri``: like a real one, it
checks the ``state`` and trades the one-time ``code`` for the user's UUI with our SDK.
"""

from __future__ import annotations

import html
import re
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import BrowserContext, Page, expect

from memoryos.universal import UniversalMemory
from tests.fixtures.passport import latest_code

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class Screenshots:
    def __init__(self, directory: Path, *, enabled: bool) -> None:
        self.directory = directory
        self.enabled = enabled

    def take(self, page: Page, name: str) -> None:
        if not self.enabled:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(self.directory / f"{name}.png"), full_page=True, animations="disabled", caret="hide")


@dataclass
class Person:
    context: BrowserContext
    page: Page
    email: str
    base_url: str
    outbox: Path
    shots: Screenshots

    def open(self, path_or_url: str) -> Page:
        self.page.goto(path_or_url)
        return self.page

    def shot(self, name: str) -> None:
        self.shots.take(self.page, name)

    # --- signing in -------------------------------------------------------------------------

    def ask_for_code(self) -> None:
        """On the sign-in page: enter the address and ask for a code."""
        expect(self.page).to_have_url(re.compile(r"/login"))
        self.page.get_by_label("Email address").fill(self.email)
        self.page.get_by_role("button", name="Email me a code").click()
        expect(self.page.get_by_role("heading", name="Check your email")).to_be_visible()

    def enter_code(self, code: str) -> None:
        self.page.get_by_label("Sign-in code").fill(code)
        self.page.get_by_role("button", name="Sign in", exact=True).click()

    def latest_code(self) -> str:
        return latest_code(self.outbox, self.email)

    def sign_in(self, start: str = "/login") -> None:
        """From ``start`` (a page that asks to sign in), all the way through the emailed code."""
        self.open(start)
        self.ask_for_code()
        self.enter_code(self.latest_code())
        expect(self.page).not_to_have_url(re.compile(r"/login"))

    # --- reading the page --------------------------------------------------------------------

    def flash(self) -> str:
        return self.page.locator("[role=status], [role=alert]").first.inner_text()

    def session_cookie(self) -> dict[str, Any] | None:
        return next((c for c in self.context.cookies() if c["name"] == "memoryos_uui_session"), None)


@dataclass
class Callback:
    query: dict[str, str]
    uui_token: str | None = None
    exchange_error: str | None = None


@dataclass
class AgentBackend:
    """An agent's backend on loopback: ``start_url`` sends a person to consent, ``redirect_uri``
    is its callback.

    ``send_redirect_uri=False`` leaves ``redirect_uri`` out of the consent URL, as an app relying
    on the one it registered does.
    """

    api_url: str
    agent_key: str = ""
    agent_id: str = ""
    name: str = "Study Buddy"
    categories: list[str] = field(default_factory=list)
    send_redirect_uri: bool = True
    expected_state: str | None = None
    issued_states: list[str] = field(default_factory=list)
    consent_urls: list[str] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def redirect_uri(self) -> str:
        return f"{self.url}/callback"

    @property
    def start_url(self) -> str:
        return f"{self.url}/start"

    def start(self) -> AgentBackend:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 — the http.server API
                parts = urlsplit(self.path)
                if parts.path == "/start":
                    self.send_response(302)
                    self.send_header("Location", backend.consent_url())
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if parts.path != "/callback":
                    self.send_error(404)
                    return
                query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
                self._answer(backend.handle(query))

            def _answer(self, body: str) -> None:
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def consent_url(self) -> str:
        """What the agent's "Connect Memory Passport" button does: a fresh ``state``, and the
        consent URL built with our SDK."""
        state = f"{self.name.lower().replace(' ', '-')}:{secrets.token_urlsafe(8)}"
        self.issued_states.append(state)
        self.expected_state = state
        url = UniversalMemory.consent_url(
            self.agent_id,
            redirect_uri=self.redirect_uri if self.send_redirect_uri else None,
            state=state,
            categories=self.categories or None,
            base_url=self.api_url,
        )
        self.consent_urls.append(url)
        return url

    def handle(self, query: dict[str, str]) -> str:
        callback = Callback(query)
        self.callbacks.append(callback)
        if self.expected_state is not None and query.get("state") != self.expected_state:
            callback.exchange_error = "state mismatch"
            return _page(self.name, "That sign-in did not start here.")
        if query.get("status") != "granted":
            return _page(self.name, "No problem: we won't use your Memory Passport.")
        try:
            result = UniversalMemory.exchange_code(query.get("code", ""), agent_api_key=self.agent_key, base_url=self.api_url)
        except Exception as exc:  # noqa: BLE001 — the test reads what went wrong
            callback.exchange_error = f"{type(exc).__name__}: {exc}"
            return _page(self.name, "Something went wrong.")
        callback.uui_token = result.uui_token
        return _page(self.name, "Memory Passport connected. You can go back to your conversation.")


def _page(name: str, message: str) -> str:
    return (
        f"<!doctype html><title>{html.escape(name)}</title>"
        f"<h1>{html.escape(name)}</h1><p id=result>{html.escape(message)}</p>"
    )
