"""A passport user's sessions over the JSON API: listed by a public id with a device summary,
never a token; one signed out, or every one but the caller's. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from memoryos_server.services.runtime import Runtime
from memoryos_server.settings import Settings
from memoryos_server.storage.models import PassportSession
from memoryos_server.storage.types import utcnow
from tests.fixtures.passport import PassportHandle, client_from, fresh_ip, latest_code, new_passport  # noqa: F401

CHROME_LINUX = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


def _sign_in_from(app: FastAPI, settings: Settings, email: str, user_agent: str) -> str:
    """Another device signing in to the same passport; its session token."""
    device = client_from(app, fresh_ip())
    device.headers["User-Agent"] = user_agent
    assert device.post("/v1/uui/otp/send", json={"email": email}).json()["data"]["sent"] is True
    verified = device.post("/v1/uui/otp/verify", json={"email": email, "otp": latest_code(settings.resolved_outbox_dir, email)})
    assert verified.status_code == 200, verified.text
    return str(verified.json()["data"]["session_token"])


def _sessions(client: TestClient, token: str) -> list[dict[str, Any]]:
    response = client.get("/v1/uui/me/sessions", headers={"X-MemoryOS-Session": token})
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _me(client: TestClient, token: str) -> int:
    return client.get("/v1/uui/me", headers={"X-MemoryOS-Session": token}).status_code


def test_sessions_are_listed_without_secrets_and_the_current_one_is_marked(
    app: FastAPI, client: TestClient, settings: Settings, runtime: Runtime, new_passport: Callable[..., PassportHandle]
) -> None:
    person = new_passport()
    phone = _sign_in_from(app, settings, person.email, SAFARI_IPHONE)
    laptop = _sign_in_from(app, settings, person.email, CHROME_LINUX)

    listed = _sessions(client, laptop)
    assert [s["current"] for s in listed] == [True, False, False]  # the caller's own first
    assert listed[0]["device"] == "Chrome on Linux"
    assert {s["device"] for s in listed[1:]} == {"Safari on iPhone", None}  # the fixture's client sends no browser name
    assert all(s["id"].startswith("pss_") and s["signed_in_at"] and s["expires_at"] for s in listed)
    # Nothing that signs in is shown: not the tokens, nor their hashes, nor the raw User-Agent.
    with runtime.db.session(write=False) as session:
        hashes = list(session.scalars(select(PassportSession.session_hash)))
    body = json.dumps(listed)
    for secret in (person.session_token, phone, laptop, *hashes, "AppleWebKit"):
        assert secret not in body
    # Seen from the phone, the phone is the current one.
    assert [s["device"] for s in _sessions(client, phone) if s["current"]] == ["Safari on iPhone"]


def test_signing_out_one_session_and_every_other_one(
    app: FastAPI, client: TestClient, settings: Settings, new_passport: Callable[..., PassportHandle]
) -> None:
    person = new_passport()
    phone = _sign_in_from(app, settings, person.email, SAFARI_IPHONE)
    laptop = _sign_in_from(app, settings, person.email, CHROME_LINUX)
    headers = {"X-MemoryOS-Session": laptop}
    phone_id = next(s["id"] for s in _sessions(client, phone) if s["current"])

    ended = client.delete(f"/v1/uui/me/sessions/{phone_id}", headers=headers)
    assert ended.status_code == 200 and ended.json()["data"] == {"signed_out": True, "id": phone_id, "current": False}
    assert _me(client, phone) == 401 and _me(client, laptop) == 200
    again = client.delete(f"/v1/uui/me/sessions/{phone_id}", headers=headers)
    assert again.status_code == 404 and again.json()["code"] == "SES_404"
    for bad in ("pss_" + "0" * 24, "not-an-id", "mps_" + "x" * 40, "pss_" + "x" * 400):
        assert client.delete(f"/v1/uui/me/sessions/{bad}", headers=headers).json()["code"] == "SES_404", bad

    # Everyone else out; the caller stays.
    tablet = _sign_in_from(app, settings, person.email, CHROME_LINUX)
    others = client.post("/v1/uui/me/sessions/sign-out-others", headers=headers)
    assert others.status_code == 200 and others.json()["data"]["signed_out"] == 2  # the tablet and the fixture's own
    assert _me(client, tablet) == 401 and _me(client, person.session_token) == 401 and _me(client, laptop) == 200
    assert [s["current"] for s in _sessions(client, laptop)] == [True]
    assert client.post("/v1/uui/me/sessions/sign-out-others", headers=headers).json()["data"] == {"signed_out": 0, "ids": []}

    # Naming the current session signs this client out.
    own = _sessions(client, laptop)[0]["id"]
    assert client.delete(f"/v1/uui/me/sessions/{own}", headers=headers).json()["data"]["current"] is True
    assert _me(client, laptop) == 401


def test_another_persons_session_is_not_found(
    app: FastAPI, client: TestClient, settings: Settings, new_passport: Callable[..., PassportHandle]
) -> None:
    alice, mallory = new_passport(), new_passport()
    alice_id = _sessions(client, alice.session_token)[0]["id"]
    refused = client.delete(f"/v1/uui/me/sessions/{alice_id}", headers=mallory.headers())
    assert refused.status_code == 404 and refused.json()["code"] == "SES_404"
    assert client.post("/v1/uui/me/sessions/sign-out-others", headers=mallory.headers()).json()["data"]["signed_out"] == 0
    assert _me(client, alice.session_token) == 200
    assert client.get("/v1/uui/me/sessions").json()["code"] == "UUI_401"


def test_last_used_is_noted_at_most_once_a_minute(
    app: FastAPI, client: TestClient, runtime: Runtime, new_passport: Callable[..., PassportHandle]
) -> None:
    person = new_passport()
    first = _sessions(client, person.session_token)[0]["last_used_at"]
    assert first is not None
    assert _sessions(client, person.session_token)[0]["last_used_at"] == first  # within the minute: not written again
    an_hour_ago = utcnow() - timedelta(hours=1)
    with runtime.db.session() as session:
        session.execute(
            update(PassportSession)
            .where(PassportSession.session_hash == runtime.hasher.hash(person.session_token, purpose="passport_session"))
            .values(last_used_at=an_hour_ago)
        )
    _me(client, person.session_token)
    noted = datetime.fromisoformat(_sessions(client, person.session_token)[0]["last_used_at"].replace("Z", "+00:00"))
    assert noted > an_hour_ago + timedelta(minutes=59)


def test_sign_out_others_needs_a_session(client: TestClient) -> None:
    assert client.post("/v1/uui/me/sessions/sign-out-others", headers={"X-MemoryOS-Session": "mps_" + secrets.token_hex(20)}).status_code == 401
