"""Sign-in codes on the pages, without a browser: how long a code lives, and the per-network limit
on checking codes (SPEC §6 /login: expires in 10 minutes, rate limited per email and per IP)."""

from __future__ import annotations

import dataclasses
import re
import secrets
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from memoryos_server.app import create_app
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import OtpChallenge
from memoryos_server.storage.types import utcnow
from tests.fixtures.passport import client_from, fresh_ip, latest_code, new_agent, outbox_messages  # noqa: F401


def _csrf(response_text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', response_text)
    assert match, "the page has no CSRF token"
    return match.group(1)


def _ask_for_code(browser: TestClient, email: str) -> str:
    """The email form, as a person fills it in; the CSRF token for the code form."""
    sent = browser.post("/login", data={"csrf_token": _csrf(browser.get("/login").text), "email": email}, follow_redirects=False)
    assert sent.status_code == 303 and sent.headers["location"] == "/login/code", sent.text
    return _csrf(browser.get("/login/code").text)


def _enter(browser: TestClient, token: str, code: str) -> Response:
    return browser.post("/login/code", data={"csrf_token": token, "code": code}, follow_redirects=False)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def _challenge(runtime: Runtime, email: str) -> OtpChallenge:
    email_hash = runtime.hasher.hash(email, purpose="otp_email")
    with runtime.db.session(write=False) as session:
        row = session.scalars(select(OtpChallenge).where(OtpChallenge.email_hash == email_hash)).one()
        session.expunge(row)
        return row


def _as_if_minutes_passed(runtime: Runtime, email: str, elapsed: timedelta) -> None:
    """No clock to move: the stored expiry moves back by ``elapsed`` instead (the same thing, seen
    from the code's side)."""
    email_hash = runtime.hasher.hash(email, purpose="otp_email")
    with runtime.db.session() as session:
        row = session.scalars(select(OtpChallenge).where(OtpChallenge.email_hash == email_hash)).one()
        assert row.expires_at is not None
        row.expires_at = row.expires_at - elapsed


# --- a code lives 10 minutes -------------------------------------------------------------------


def test_a_code_expires_ten_minutes_after_it_was_sent(app: FastAPI, client: TestClient, runtime: Runtime) -> None:
    assert runtime.settings.otp_ttl_seconds == 600
    email = f"ttl-{secrets.token_hex(4)}@example.com"
    browser = client_from(app, fresh_ip())
    before = utcnow()
    token = _ask_for_code(browser, email)
    after = utcnow()
    expires_at = _challenge(runtime, email).expires_at
    assert expires_at is not None
    if expires_at.tzinfo is None:  # SQLite hands back naive UTC
        expires_at = expires_at.replace(tzinfo=before.tzinfo)
    assert before + timedelta(seconds=600) <= expires_at <= after + timedelta(seconds=600)
    # The page and the email say so too.
    assert "expires in 10 minutes" in browser.get("/login/code").text
    assert "10 minutes" in _email_body(runtime, email)

    # Nine minutes on, the code still works.
    _as_if_minutes_passed(runtime, email, timedelta(minutes=9))
    signed = _enter(browser, token, latest_code(runtime.settings.resolved_outbox_dir, email))
    assert signed.status_code == 303 and signed.headers["location"] == "/manage"


def test_a_code_is_refused_ten_minutes_and_a_second_after_it_was_sent(app: FastAPI, client: TestClient, runtime: Runtime) -> None:
    email = f"ttl-late-{secrets.token_hex(4)}@example.com"
    browser = client_from(app, fresh_ip())
    token = _ask_for_code(browser, email)
    _as_if_minutes_passed(runtime, email, timedelta(minutes=10, seconds=1))
    late = _enter(browser, token, latest_code(runtime.settings.resolved_outbox_dir, email))
    assert late.status_code == 401 and "has expired" in late.text
    assert "memoryos_uui_session" not in browser.cookies


def _email_body(runtime: Runtime, email: str) -> str:
    messages = [m for m in outbox_messages(runtime.settings.resolved_outbox_dir, email) if "sign-in code" in str(m["Subject"])]
    return str(messages[-1].get_content())


# --- too many code checks from one network ------------------------------------------------------


@pytest.fixture
def tight_app(runtime: Runtime, client: TestClient) -> FastAPI:
    """The pages with small limits: 2 codes per network address an hour, 3 tries per code, so a
    network may check 6 codes an hour. The same database (migrated by the session's app)."""
    tight = runtime.settings.model_copy(update={"otp_send_per_ip_per_hour": 2, "otp_max_attempts": 3})
    return create_app(tight, runtime=dataclasses.replace(runtime, settings=tight))


def test_too_many_code_checks_from_one_network_pause_the_network_not_the_address(tight_app: FastAPI, runtime: Runtime) -> None:
    outbox = runtime.settings.resolved_outbox_dir
    network = client_from(tight_app, fresh_ip())
    guessed = f"guessed-{secrets.token_hex(4)}@example.com"
    token = _ask_for_code(network, guessed)
    code = latest_code(outbox, guessed)
    for _ in range(3):
        assert _enter(network, token, _wrong(code)).status_code == 401
    for _ in range(3):  # that address is locked now; each try still counts for the network
        locked = _enter(network, token, code)
        assert locked.status_code == 429 and "signing in to this address is paused" in locked.text

    # The seventh check from this network: refused for the network, even with the right code for
    # an address nobody has guessed at, and the page does not blame that address.
    mine = f"mine-{secrets.token_hex(4)}@example.com"
    token = _ask_for_code(network, mine)
    pending = network.cookies.get("memoryos_login")
    right = latest_code(outbox, mine)
    paused = _enter(network, token, right)
    assert paused.status_code == 429
    retry_after = int(paused.headers["retry-after"])
    assert 0 < retry_after <= 3600
    minutes = -(-retry_after // 60)
    wait = "in about an hour" if minutes >= 60 else f"in {minutes} minute{'s' if minutes != 1 else ''}"
    assert f"Too many attempts from your network; please try again {wait}." in paused.text
    assert "this address is paused" not in paused.text and "wrong codes" not in paused.text
    assert "memoryos_uui_session" not in network.cookies

    # The address itself is not paused: the same code works from another network.
    elsewhere = client_from(tight_app, fresh_ip())
    csrf = _csrf(elsewhere.get("/login").text)
    assert pending is not None
    elsewhere.cookies.set("memoryos_login", pending, path="/login")
    signed = _enter(elsewhere, csrf, right)
    assert signed.status_code == 303 and signed.headers["location"] == "/manage", signed.text

    # The JSON API tells the same story with its own code.
    api = network.post("/v1/uui/otp/verify", json={"email": mine, "otp": "000000"})
    assert api.status_code == 429 and api.json()["code"] == "RATE_429" and "network" in api.json()["message"]


# --- how many tries are left, and the lock -------------------------------------------------------


def _text(response: Response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.text).split())


def test_the_code_page_counts_down_the_tries_and_shows_the_lock_instead_of_the_form(app: FastAPI, client: TestClient, runtime: Runtime) -> None:
    settings = runtime.settings
    assert settings.otp_max_attempts == 5 and settings.otp_lock_seconds == 1800
    email = f"tries-{secrets.token_hex(4)}@example.com"
    browser = client_from(app, fresh_ip())
    token = _ask_for_code(browser, email)
    code = latest_code(settings.resolved_outbox_dir, email)
    assert "tries left" not in _text(browser.get("/login/code"))  # nothing to warn about yet

    for left in (4, 3, 2):
        wrong = _enter(browser, token, _wrong(code))
        assert wrong.status_code == 401 and "That code is wrong" in wrong.text
        assert f"{left} tries left before signing in to this address is paused for 30 minutes" in _text(wrong)
        assert 'name="code"' in wrong.text
    # The count belongs to the address, not to the page: it is there when the page is opened again.
    assert "2 tries left" in _text(browser.get("/login/code"))
    assert "1 try left" in _text(_enter(browser, token, _wrong(code)))

    # The fifth wrong code: the page says when to come back, and offers no form that cannot work.
    locked = _enter(browser, token, _wrong(code))
    assert locked.status_code == 401 and 1700 <= int(locked.headers["retry-after"]) <= 1800
    words = _text(locked)
    assert "Signing in is paused" in words and "please try again in 30 minutes" in words and "no code works for it until" in words
    assert 'name="code"' not in locked.text and 'action="/login/resend"' not in locked.text
    for page in (browser.get("/login/code"), _enter(browser, token, code)):  # even the right code
        assert page.status_code == 429 and int(page.headers["retry-after"]) > 0
        assert 'name="code"' not in page.text and "Signing in is paused" in _text(page)
    assert "memoryos_uui_session" not in browser.cookies


def test_the_json_api_reports_the_tries_left(app: FastAPI, client: TestClient, runtime: Runtime) -> None:
    api = client_from(app, fresh_ip())
    email = f"tries-api-{secrets.token_hex(4)}@example.com"
    assert api.post("/v1/uui/otp/send", json={"email": email}).json()["data"]["sent"] is True
    code = latest_code(runtime.settings.resolved_outbox_dir, email)
    answers = [api.post("/v1/uui/otp/verify", json={"email": email, "otp": _wrong(code)}) for _ in range(5)]
    assert [a.status_code for a in answers] == [401] * 5
    assert [a.json()["code"] for a in answers] == ["UUI_OTP_401"] * 5
    assert [a.json()["details"]["tries_left"] for a in answers] == [4, 3, 2, 1, 0]
    assert answers[-1].json()["details"]["retry_after_seconds"] == 1800
    locked = api.post("/v1/uui/otp/verify", json={"email": email, "otp": code})
    assert locked.status_code == 429 and locked.json()["code"] == "RATE_429"


# --- the sign-in page names the agent that asked ----------------------------------------------------


def test_signing_in_from_a_consent_or_connect_link_names_the_agent(app: FastAPI, client: TestClient, new_agent) -> None:  # type: ignore[no-untyped-def]
    agent = new_agent(name="Study Buddy <Beta>")
    browser = client_from(app, fresh_ip())
    for path in (f"/consent?agent_id={agent.id}&categories=goal&state=s", f"/connect?agent_id={agent.id}&link_token=plink_x"):
        sent_there = browser.get(path, follow_redirects=False)
        assert sent_there.status_code == 303 and sent_there.headers["location"].startswith("/login?next=")
        page = browser.get(sent_there.headers["location"])
        assert "<title>Sign in to connect Study Buddy &lt;Beta&gt; · MemoryOS</title>" in page.text
        assert "<h1>Sign in to connect Study Buddy &lt;Beta&gt;</h1>" in page.text
        assert "Study Buddy <Beta> asks to use your Memory Passport" in _text(page).replace("&lt;", "<").replace("&gt;", ">")

    # The code page, on the way there, still knows.
    email = f"named-{secrets.token_hex(4)}@example.com"
    sent = browser.post(
        "/login",
        data={"csrf_token": _csrf(browser.get("/login").text), "email": email, "next": f"/consent?agent_id={agent.id}"},
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert "Then you'll choose what Study Buddy &lt;Beta&gt; may use." in browser.get("/login/code").text.replace("&#39;", "'")

    # Anything else, an unknown agent, or no agent: the ordinary page, naming nobody.
    for next_path in (
        "/manage/agents",
        "/consent?agent_id=00000000-0000-0000-0000-000000000000",
        "/consent?agent_id=not-an-agent",
        "/consent",
        f"/manage/agents?agent_id={agent.id}",
    ):
        page = browser.get("/login", params={"next": next_path})
        assert "<h1>Sign in to your Memory Passport</h1>" in page.text and "Study Buddy" not in page.text, next_path
