"""Signing in to the consent app in a browser, and the ways it must refuse (SPEC §6 /login)."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from typing import Any
from urllib.parse import urlencode

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from playwright.sync_api import expect
from sqlalchemy import update

from memoryos_server.app import create_app
from memoryos_server.services.runtime import Runtime
from memoryos_server.settings import Settings
from memoryos_server.storage.models import OtpChallenge
from memoryos_server.storage.types import utcnow
from tests.fixtures.app import LiveServer, free_port
from tests.web.browser import Person

pytestmark = pytest.mark.browser


def _wrong(code: str, step: int = 1) -> str:
    return f"{(int(code) + step) % 1_000_000:06d}"


def _expire_code(runtime: Runtime, email: str) -> None:
    email_hash = runtime.hasher.hash(email, purpose="otp_email")
    with runtime.db.session() as session:
        session.execute(
            update(OtpChallenge).where(OtpChallenge.email_hash == email_hash).values(expires_at=utcnow() - timedelta(seconds=1))
        )


def test_wrong_expired_and_reused_codes(person: Callable[..., Person], runtime: Runtime) -> None:
    sam = person("sam.codes@example.com")
    page = sam.page
    sam.open("/login")
    sam.ask_for_code()
    code = sam.latest_code()

    # Wrong: a clear message, still on the code form.
    sam.enter_code(_wrong(code))
    expect(page.get_by_role("alert")).to_contain_text("That code is wrong, has expired or was already used")
    expect(page.get_by_label("Sign-in code")).to_be_visible()
    expect(page.locator(".tries")).to_contain_text("4 tries left")
    sam.shot("login-wrong-code")

    # Expired: the right code, too late.
    _expire_code(runtime, sam.email)
    sam.enter_code(code)
    expect(page.get_by_role("alert")).to_contain_text("has expired")

    # A new code: only the newest works.
    page.get_by_role("button", name="Send a new code").click()
    expect(page.get_by_role("status")).to_contain_text("We sent you a new code")
    fresh = sam.latest_code()
    pending_login = [c for c in sam.context.cookies() if c["name"] == "memoryos_login"]
    sam.enter_code(fresh)
    expect(page).to_have_url(re.compile(r"/manage/agents$"))
    expect(page.get_by_role("status")).to_contain_text("Welcome! Your Memory Passport is ready.")
    cookie = sam.session_cookie()
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]
    assert cookie["value"].startswith("mps_")

    # Reused: replaying the form with the code that just worked is refused.
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("You're signed out.")
    assert sam.session_cookie() is None
    sam.context.add_cookies(pending_login)  # type: ignore[arg-type]
    sam.open("/login/code")
    sam.enter_code(fresh)
    expect(page.get_by_role("alert")).to_contain_text("was already used")
    sam.open("/manage/agents")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fmanage%2Fagents$"))


def test_guessing_codes_locks_the_address(person: Callable[..., Person], settings: Settings) -> None:
    lee = person("lee.brute@example.com")
    page = lee.page
    lee.open("/login")
    lee.ask_for_code()
    code = lee.latest_code()
    for attempt in range(settings.otp_max_attempts - 1):
        lee.enter_code(_wrong(code, attempt + 1))
        expect(page.get_by_role("alert")).to_contain_text("That code is wrong")
        left = settings.otp_max_attempts - attempt - 1
        expect(page.locator(".tries")).to_contain_text(f"{left} tr{'y' if left == 1 else 'ies'} left")
    # The last wrong code locks the address: the page says until when, and has no form left.
    lee.enter_code(_wrong(code, settings.otp_max_attempts))
    expect(page.get_by_role("heading", name="Signing in is paused")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("Too many wrong codes")
    expect(page.get_by_role("alert")).to_contain_text(f"try again in {settings.otp_lock_seconds // 60} minutes")
    expect(page.get_by_label("Sign-in code")).to_have_count(0)
    expect(page.get_by_role("button", name="Send a new code")).to_have_count(0)
    lee.shot("login-locked")
    # Coming back to the code page while locked: the same, not a form.
    lee.open("/login/code")
    expect(page.get_by_role("heading", name="Signing in is paused")).to_be_visible()
    expect(page.get_by_label("Sign-in code")).to_have_count(0)
    # Asking for a new code does not get round the lock.
    page.get_by_role("link", name="Use a different email").click()
    page.get_by_label("Email address").fill(lee.email)
    page.get_by_role("button", name="Email me a code").click()
    expect(page.get_by_role("alert")).to_contain_text("Signing in to this address is paused")
    lee.open("/manage")
    expect(page).to_have_url(re.compile(r"/login"))


def test_asking_for_codes_is_rate_limited_per_address(person: Callable[..., Person], settings: Settings) -> None:
    rita = person("rita.rate@example.com")
    page = rita.page
    for _ in range(settings.otp_send_per_email_per_hour):
        rita.open("/login")
        rita.ask_for_code()
    rita.open("/login")
    page.get_by_label("Email address").fill(rita.email)
    with page.expect_response(lambda response: response.url.endswith("/login") and response.request.method == "POST") as answer:
        page.get_by_role("button", name="Email me a code").click()
    assert answer.value.status == 429 and answer.value.headers.get("retry-after")
    expect(page.get_by_role("alert")).to_contain_text("Too many codes were asked for. Please try again in")
    expect(page.get_by_label("Email address")).to_have_value(rita.email)
    rita.shot("login-rate-limited")


@pytest.mark.parametrize(
    ("who", "asked", "kept"),
    [
        ("absolute", "https://evil.example/steal", "/manage"),
        ("scheme-relative", "//evil.example/steal", "/manage"),
        ("backslash", "/\\evil.example", "/manage"),
        ("script", "javascript:alert(1)", "/manage"),
        ("local", "/manage/memories?category=fact", "/manage/memories?category=fact"),
    ],
)
def test_next_is_only_ever_a_local_path(person: Callable[..., Person], live_server: LiveServer, who: str, asked: str, kept: str) -> None:
    nora = person(f"nora.next.{who}@example.com")
    page = nora.page
    nora.open("/login?" + urlencode({"next": asked}))
    expect(page.locator("input[name=next]")).to_have_value(kept)
    nora.ask_for_code()
    nora.enter_code(nora.latest_code())
    target = "/manage/agents" if kept == "/manage" else kept
    expect(page).to_have_url(live_server.url + target)


def test_a_tampered_session_cookie_is_no_session(person: Callable[..., Person], live_server: LiveServer) -> None:
    tom = person("tom.tamper@example.com")
    tom.sign_in()
    cookie = tom.session_cookie()
    assert cookie is not None
    value = cookie["value"]
    for forged in (value[:-1] + ("A" if value[-1] != "A" else "B"), "mps_" + "x" * 40, "not-a-session"):
        tom.context.add_cookies([{**cookie, "value": forged}])  # type: ignore[list-item]
        tom.open("/manage/memories")
        expect(tom.page).to_have_url(re.compile(r"/login\?next=%2Fmanage%2Fmemories$"))
        assert tom.session_cookie() is None  # the forged cookie was cleared
        api = tom.context.request.get(f"{live_server.url}/v1/uui/me", headers={"Cookie": f"memoryos_uui_session={forged}"})
        assert api.status == 401 and api.json()["code"] == "UUI_401"
    tom.context.add_cookies([cookie])  # type: ignore[list-item]
    tom.open("/manage/memories")
    expect(tom.page).to_have_url(re.compile(r"/manage/memories$"))


# --- a real SMTP server on loopback -------------------------------------------------------------


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 — aiosmtpd's hook name
        with self.arrived:
            self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, to: str, timeout: float = 10) -> Any:
        with self.arrived:
            found = self.arrived.wait_for(lambda: any(to in rcpt for rcpt, _ in self.messages), timeout=timeout)
        assert found, f"no mail for {to} reached the SMTP server"
        return next(message for rcpt, message in reversed(self.messages) if to in rcpt)


@pytest.fixture
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def smtp_live_server(runtime: Runtime, smtp_server: tuple[_Inbox, int], client: TestClient) -> Iterator[LiveServer]:
    """The consent app with ``email_backend=smtp``, delivering to the loopback SMTP server."""
    _, smtp_port = smtp_server
    port = free_port()
    smtp_settings = runtime.settings.model_copy(
        update={
            "email_backend": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "port": port,
            "public_url": f"http://127.0.0.1:{port}",
            "consent_base_url": f"http://127.0.0.1:{port}",
            "worker_enabled": False,
        }
    )
    server = LiveServer(create_app(smtp_settings, runtime=dataclasses.replace(runtime, settings=smtp_settings)), port)
    server.start()
    yield server
    server.stop()


def test_the_code_travels_through_a_real_smtp_server(
    person: Callable[..., Person], smtp_live_server: LiveServer, smtp_server: tuple[_Inbox, int]
) -> None:
    inbox, _ = smtp_server
    mia = person("mia.smtp@example.com", server=smtp_live_server)
    mia.open("/login")
    mia.ask_for_code()
    mail = inbox.wait_for(mia.email)
    assert mail["Subject"] == "Your MemoryOS sign-in code"
    code = re.search(r"\b(\d{6})\b", mail.get_content())
    assert code is not None
    mia.enter_code(code.group(1))
    expect(mia.page).to_have_url(re.compile(r"/manage/agents$"))
    expect(mia.page.get_by_text(mia.email)).to_be_visible()
