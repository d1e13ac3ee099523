"""Text no database can store (NUL, unpaired surrogates) in any field of any page's form is
refused with a 4xx page before anything runs, as on the JSON API, and changes nothing.

A urlencoded body cannot carry a lone surrogate (its percent-escapes are decoded as UTF-8 with
replacement, so ``%ED%A0%80`` arrives as three U+FFFD), but a multipart body may declare its
charset, and ``+2AA-`` in UTF-7 decodes to ``"\\ud800"``: both ways are tried.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from memoryos_server.settings import Settings
from memoryos_server.storable import UNSTORABLE_MESSAGE
from tests.fixtures.passport import AgentHandle, client_from, exchange, fresh_ip, latest_code, link_token, new_agent  # noqa: F401

Form = list[tuple[str, str]]
NUL = "x\x00y"
UTF7_SURROGATE = "+2AA-"  # "\ud800" once decoded as UTF-7
UTF7_NUL = "+AAA-"  # "\x00" once decoded as UTF-7


def _csrf(text: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert match, "the page has no CSRF token"
    return match.group(1)


def _multipart(form: Form, charset: str) -> tuple[bytes, dict[str, str]]:
    boundary = "formtext" + secrets.token_hex(8)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode("ascii") for name, value in form
    ]
    body = b"".join(parts) + f"--{boundary}--\r\n".encode("ascii")
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}; charset={charset}"}


@dataclass
class Page:
    path: str
    form: Form  # a valid submission, without the CSRF token
    browser: TestClient


@dataclass
class World:
    browser: TestClient  # signed in
    pending: TestClient  # asked for a sign-in code, not yet entered
    session: str
    pages: list[Page]


def _sign_in(browser: TestClient, settings: Settings, email: str) -> None:
    sent = browser.post("/login", data={"csrf_token": _csrf(browser.get("/login").text), "email": email}, follow_redirects=False)
    assert sent.status_code == 303, sent.text
    form = browser.get("/login/code")
    code = latest_code(settings.resolved_outbox_dir, email)
    signed = browser.post("/login/code", data={"csrf_token": _csrf(form.text), "code": code}, follow_redirects=False)
    assert signed.status_code == 303, signed.text


@pytest.fixture
def world(app: FastAPI, client: TestClient, settings: Settings, new_agent: Callable[..., AgentHandle]) -> World:
    """A passport user with a grant, a connection, two memories that contradict each other (so
    an open question), and every page's form filled in as it would be sent."""
    browser = client_from(app, fresh_ip())
    _sign_in(browser, settings, f"form-text-{secrets.token_hex(4)}@example.com")
    session = browser.cookies.get("memoryos_uui_session")
    assert session
    headers = {"X-MemoryOS-Session": session}

    agent, unconnected = new_agent(), new_agent()
    granted = client.post(
        "/v1/uui/me/grants",
        json={"agent_id": agent.id, "categories_allowed": ["fact", "goal"], "access_type": "read_write", "link_token": link_token(agent, "acct-1")},
        headers=headers,
    )
    assert granted.status_code == 200, granted.text
    grant_id = granted.json()["data"]["id"]
    uui = exchange(client, agent, granted.json()["data"]["code"])["uui_token"]
    memory_ids = []
    for text in ("My exam is on March 10.", "My exam is on March 15."):
        added = client.post("/v1/universal/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=agent.headers(uui))
        assert added.status_code == 200, added.text
        memory_ids.append(added.json()["results"][0]["id"])
    memory_id = memory_ids[0]
    question_id = client.get("/v1/uui/me/clarifications", headers=headers).json()["data"][0]["id"]
    connection_id = client.get("/v1/uui/me/connections", headers=headers).json()["data"][0]["id"]
    # The same person signed in elsewhere too: a session to sign out.
    elsewhere = client_from(app, fresh_ip())
    email = client.get("/v1/uui/me", headers=headers).json()["data"]["email"]
    assert elsewhere.post("/v1/uui/otp/send", json={"email": email}).status_code == 200
    assert elsewhere.post("/v1/uui/otp/verify", json={"email": email, "otp": latest_code(settings.resolved_outbox_dir, email)}).status_code == 200
    other_session = next(s["id"] for s in client.get("/v1/uui/me/sessions", headers=headers).json()["data"] if not s["current"])

    anonymous = client_from(app, fresh_ip())
    anonymous.get("/login")
    pending = client_from(app, fresh_ip())
    pending_email = f"form-text-pending-{secrets.token_hex(4)}@example.com"
    asked = pending.post("/login", data={"csrf_token": _csrf(pending.get("/login").text), "email": pending_email}, follow_redirects=False)
    assert asked.status_code == 303
    code = latest_code(settings.resolved_outbox_dir, pending_email)

    back = ("back", "/manage/memories")
    pages = [
        Page("/login", [("email", f"form-text-new-{secrets.token_hex(4)}@example.com"), ("next", "/manage")], anonymous),
        Page("/login/code", [("code", code)], pending),
        Page("/login/resend", [], pending),
        Page("/connect", [("agent_id", agent.id), ("link_token", link_token(agent, "acct-2"))], browser),
        Page(
            "/consent",
            [
                ("agent_id", unconnected.id),
                ("redirect_uri", ""),
                ("state", "s"),
                ("link_token", ""),
                ("decision", "approve"),
                ("categories", "fact"),
                ("categories", "goal"),
                ("access_type", "read_write"),
                ("duration", "30"),
            ],
            browser,
        ),
        Page(f"/manage/agents/{grant_id}/edit", [("categories", "fact"), ("access_type", "read_only"), ("duration", "7")], browser),
        Page(f"/manage/agents/{grant_id}/revoke", [("confirm", "yes")], browser),
        Page(f"/manage/agents/{grant_id}/code", [], browser),
        Page(f"/manage/connections/{connection_id}/delete", [("confirm", "yes")], browser),
        Page(f"/manage/memories/{memory_id}/correct", [("corrected_content", "My exam is on March 12."), back], browser),
        Page(f"/manage/memories/{memory_id}/flag", [("flagged", "1"), back], browser),
        Page(f"/manage/memories/{memory_id}/delete", [back], browser),
        Page(f"/manage/questions/{question_id}/answer", [("answer", "A")], browser),
        Page(f"/manage/sessions/{other_session}/sign-out", [("confirm", "yes")], browser),
        Page("/manage/sessions/sign-out-others", [("confirm", "yes")], browser),
        Page("/manage/delete", [("confirm", "DELETE")], browser),
        Page("/logout", [], browser),
    ]
    return World(browser, pending, session, pages)


def _state(client: TestClient, world: World, settings: Settings) -> dict[str, Any]:
    """Everything a form could have changed: the passport (memories, versions, questions, grants,
    connections, activity), emails sent, and who is signed in."""
    exported = client.get("/v1/uui/me/export", headers={"X-MemoryOS-Session": world.session})
    assert exported.status_code == 200, exported.text
    data = exported.json()["data"]
    data.pop("exported_at", None)
    return {
        "passport": data,
        "emails": sorted(path.name for path in settings.resolved_outbox_dir.glob("*.eml")),
        "signed_in": world.browser.get("/manage/agents", follow_redirects=False).status_code,
        "sessions": [s["id"] for s in client.get("/v1/uui/me/sessions", headers={"X-MemoryOS-Session": world.session}).json()["data"]],
        "pending_signed_in": "memoryos_uui_session" in world.pending.cookies,
    }


def _variants(page: Page, token: str) -> list[tuple[str, bytes | None, Form | None, dict[str, str]]]:
    """(what, multipart body or None, urlencoded form or None, headers) for each bad field."""
    valid = [("csrf_token", token), *page.form]
    names = list(dict.fromkeys(name for name, _ in valid))
    found: list[tuple[str, bytes | None, Form | None, dict[str, str]]] = []
    for name in names:
        for label, bad in (("NUL", NUL), ("NUL at the end", "x\x00")):
            found.append((f"{label} in {name}", None, [(n, v + bad if n == name else v) for n, v in valid], {}))
        for label, bad in (("surrogate", UTF7_SURROGATE), ("UTF-7 NUL", UTF7_NUL)):
            body, headers = _multipart([(n, v + bad if n == name else v) for n, v in valid], "utf-7")
            found.append((f"{label} in {name}", body, None, headers))
    found.append(("NUL in a field's name", None, [*valid, ("ext\x00ra", "1")], {}))
    body, headers = _multipart([*valid, ("extra", UTF7_SURROGATE)], "utf-7")
    found.append(("surrogate in an extra field", body, None, headers))
    return found


def _post(browser: TestClient, path: str, body: bytes | None, form: Form | None, headers: dict[str, str]) -> httpx.Response:
    if body is None:
        body, headers = urlencode(form or []).encode("ascii"), {"Content-Type": "application/x-www-form-urlencoded"}
    return browser.post(path, content=body, headers=headers, follow_redirects=False)


def test_unstorable_text_in_any_form_field_is_refused_and_changes_nothing(
    client: TestClient, settings: Settings, world: World
) -> None:
    before = _state(client, world, settings)
    assert before["signed_in"] == 200 and not before["pending_signed_in"]
    tried = 0
    for page in world.pages:
        token = _csrf(page.browser.get("/login/code" if page.browser is world.pending else "/manage/agents").text)
        for what, body, form, headers in _variants(page, token):
            answer = _post(page.browser, page.path, body, form, headers)
            where = f"{page.path}: {what}"
            assert 400 <= answer.status_code < 500, (where, answer.status_code, answer.text[:300])
            assert answer.headers["content-type"].startswith("text/html"), where
            if what.endswith("csrf_token"):
                assert answer.status_code == 403 and "This form has expired" in answer.text, where
            else:
                assert answer.status_code == 400 and UNSTORABLE_MESSAGE in answer.text, where
            assert _state(client, world, settings) == before, where
            tried += 1
    assert tried > 150
    # The code the refused forms carried still signs in: none of them counted as an attempt.
    code_page = world.pending.get("/login/code")
    signed = world.pending.post(
        "/login/code", data={"csrf_token": _csrf(code_page.text), "code": world.pages[1].form[0][1]}, follow_redirects=False
    )
    assert signed.status_code == 303 and "memoryos_uui_session" in world.pending.cookies


@pytest.mark.parametrize("token", ["é" * 64, "\ufffd" * 64, "0" * 63 + "é"])
def test_a_csrf_token_that_is_not_ascii_is_refused_not_an_error(app: FastAPI, token: str) -> None:
    browser = client_from(app, fresh_ip())
    browser.get("/login")
    answer = browser.post("/login", data={"csrf_token": token, "email": "x@example.com"}, follow_redirects=False)
    assert answer.status_code == 403 and "This form has expired" in answer.text
