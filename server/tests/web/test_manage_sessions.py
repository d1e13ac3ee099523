"""The Sessions tab over HTTP: where the person is signed in, and signing out one session or all
others, each after asking once. SQLite and PostgreSQL."""

from __future__ import annotations

import re
import secrets

from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos_server.settings import Settings
from tests.fixtures.pages import csrf_of, session_headers, signed_in_browser, text_of
from tests.fixtures.passport import new_agent, outbox_messages  # noqa: F401

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0"
CHROME_ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36"
SAFARI_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"


def _signed_in(browser: TestClient) -> bool:
    return browser.get("/manage/agents", follow_redirects=False).status_code == 200


def _session_ids(page: str) -> list[str]:
    return re.findall(r'id="session-(pss_[0-9a-f]+)"', page)


def test_the_sessions_tab_lists_devices_and_signs_out_one_after_asking(app: FastAPI, client: TestClient, settings: Settings) -> None:
    email = f"sessions-{secrets.token_hex(4)}@example.com"
    laptop = signed_in_browser(app, settings.resolved_outbox_dir, email, user_agent=FIREFOX_WINDOWS)
    phone = signed_in_browser(app, settings.resolved_outbox_dir, email, user_agent=CHROME_ANDROID)

    page = laptop.get("/manage/sessions")
    assert page.status_code == 200 and 'aria-current="page">Sessions' in page.text
    words = text_of(page.text)
    assert "Firefox on Windows This session" in words and "Chrome on Android" in words
    assert phone.cookies.get("memoryos_uui_session") not in page.text and laptop.cookies.get("memoryos_uui_session") not in page.text
    mine, theirs = _session_ids(page.text)
    assert f'href="/manage/sessions/{theirs}/sign-out"' in page.text and f'href="/manage/sessions/{mine}/sign-out"' not in page.text

    confirm = laptop.get(f"/manage/sessions/{theirs}/sign-out")
    assert confirm.status_code == 200 and "Sign out Chrome on Android?" in text_of(confirm.text)
    assert _signed_in(phone)  # asking changed nothing
    token = csrf_of(confirm.text)
    unconfirmed = laptop.post(f"/manage/sessions/{theirs}/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert unconfirmed.status_code == 303 and _signed_in(phone)

    done = laptop.post(f"/manage/sessions/{theirs}/sign-out", data={"csrf_token": token, "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/manage/sessions"
    assert "Signed out Chrome on Android." in text_of(laptop.get("/manage/sessions").text)
    assert not _signed_in(phone) and _signed_in(laptop)
    assert phone.get("/manage/agents", follow_redirects=False).headers["location"].startswith("/login?next=")
    assert laptop.get(f"/manage/sessions/{theirs}/sign-out").status_code == 404  # already ended

    # Someone else's session id is not found either.
    stranger = signed_in_browser(app, settings.resolved_outbox_dir, f"sessions-stranger-{secrets.token_hex(4)}@example.com")
    assert stranger.get(f"/manage/sessions/{mine}/sign-out").status_code == 404
    assert _signed_in(laptop)


def test_signing_out_all_others_keeps_this_one(app: FastAPI, client: TestClient, settings: Settings) -> None:
    email = f"sessions-all-{secrets.token_hex(4)}@example.com"
    here = signed_in_browser(app, settings.resolved_outbox_dir, email, user_agent=SAFARI_MAC)
    others = [signed_in_browser(app, settings.resolved_outbox_dir, email, user_agent=ua) for ua in (FIREFOX_WINDOWS, CHROME_ANDROID)]
    assert len(_session_ids(here.get("/manage/sessions").text)) == 3

    confirm = here.get("/manage/sessions/sign-out-others")
    assert "Sign out of 2 sessions elsewhere?" in text_of(confirm.text) and all(_signed_in(b) for b in others)
    done = here.post("/manage/sessions/sign-out-others", data={"csrf_token": csrf_of(confirm.text), "confirm": "yes"}, follow_redirects=False)
    assert done.status_code == 303
    after = here.get("/manage/sessions")
    assert "Signed out of 2 sessions elsewhere. This one stays signed in." in text_of(after.text)
    assert len(_session_ids(after.text)) == 1 and "You're not signed in anywhere else." in text_of(after.text)
    assert _signed_in(here) and not any(_signed_in(b) for b in others)
    # Nothing left to sign out: no confirm page, just a note.
    again = here.get("/manage/sessions/sign-out-others", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/manage/sessions"

    # Signing out the current session from the list is signing out.
    [mine] = _session_ids(after.text)
    confirm = here.get(f"/manage/sessions/{mine}/sign-out")
    assert "Sign out here?" in text_of(confirm.text)
    out = here.post(f"/manage/sessions/{mine}/sign-out", data={"csrf_token": csrf_of(confirm.text), "confirm": "yes"}, follow_redirects=False)
    assert out.headers["location"] == "/login" and not _signed_in(here)


def test_the_grant_email_points_at_the_sessions_tab(app: FastAPI, client: TestClient, settings: Settings, new_agent) -> None:  # type: ignore[no-untyped-def]
    agent = new_agent(name="Mail Checker")
    email = f"sessions-mail-{secrets.token_hex(4)}@example.com"
    browser = signed_in_browser(app, settings.resolved_outbox_dir, email)
    granted = client.post("/v1/uui/me/grants", json={"agent_id": agent.id, "categories_allowed": ["goal"]}, headers=session_headers(browser))
    assert granted.status_code == 200
    [note] = [m for m in outbox_messages(settings.resolved_outbox_dir, email) if "Mail Checker can now use" in str(m["Subject"])]
    text = note.get_content()
    link = f"{settings.resolved_consent_base_url}/manage/sessions"
    assert link in text and "sign out" in text
    # The link is a real page.
    assert browser.get(link.removeprefix(settings.resolved_consent_base_url)).status_code == 200
