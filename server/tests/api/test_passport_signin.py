"""Passport sign-in: one-time codes by email, locks, rate limits, sessions, deleting a passport."""

from __future__ import annotations

import secrets
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from memoryos_server.services.runtime import Runtime
from memoryos_server.settings import Settings
from memoryos_server.storage.models import OtpChallenge, PassportSession, UniversalUser
from memoryos_server.storage.types import utcnow
from tests.fixtures.passport import (  # noqa: F401
    connected,
    from_ip,
    latest_code,
    new_agent,
    new_passport,
    outbox_messages,
)


def _email() -> str:
    return f"person-{secrets.token_hex(6)}@example.com"


def _send(client: TestClient, email: str) -> dict[str, object]:
    response = client.post("/v1/uui/otp/send", json={"email": email})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def _verify(client: TestClient, email: str, otp: str):  # type: ignore[no-untyped-def]
    return client.post("/v1/uui/otp/verify", json={"email": email, "otp": otp})


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_first_sign_in_creates_the_passport_and_the_next_one_finds_it(from_ip, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    client = from_ip()
    email = _email()
    assert _send(client, email) == {"sent": True, "reason": None}
    message = outbox_messages(settings.resolved_outbox_dir, email)[-1]
    assert "expires in 10 minutes" in message.get_content()
    first = _verify(client, email, latest_code(settings.resolved_outbox_dir, email))
    assert first.status_code == 200, first.text
    data = first.json()["data"]
    assert data["user_uui_id"].startswith("uup_") and data["email"] == email
    assert data["session_token"].startswith("mps_") and data["created"] is True
    assert first.cookies.get("memoryos_uui_session") == data["session_token"]
    cookie = first.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie

    _send(client, email.upper())  # addresses are case-insensitive
    second = _verify(client, email.upper(), latest_code(settings.resolved_outbox_dir, email))
    assert second.status_code == 200
    assert second.json()["data"]["user_uui_id"] == data["user_uui_id"]
    assert second.json()["data"]["created"] is False


def test_send_never_reveals_whether_a_passport_exists(from_ip, new_passport) -> None:  # type: ignore[no-untyped-def]
    existing = new_passport()
    client = from_ip()
    known = client.post("/v1/uui/otp/send", json={"email": existing.email})
    unknown = client.post("/v1/uui/otp/send", json={"email": _email()})
    assert known.status_code == unknown.status_code == 200
    assert known.json()["data"] == unknown.json()["data"] == {"sent": True, "reason": None}


def test_wrong_expired_and_reused_codes_are_refused(from_ip, settings: Settings, runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    client = from_ip()
    email = _email()
    _send(client, email)
    code = latest_code(settings.resolved_outbox_dir, email)
    wrong = _verify(client, email, _wrong(code))
    assert wrong.status_code == 401 and wrong.json()["code"] == "UUI_OTP_401"
    assert _verify(client, email, "abc").json()["code"] == "UUI_OTP_401"
    assert _verify(client, email, code).status_code == 200
    reused = _verify(client, email, code)
    assert reused.status_code == 401 and reused.json()["code"] == "UUI_OTP_401"

    _send(client, email)
    code = latest_code(settings.resolved_outbox_dir, email)
    with runtime.db.session() as session:
        session.execute(update(OtpChallenge).values(expires_at=utcnow() - timedelta(seconds=1)).where(OtpChallenge.code_hash.is_not(None), OtpChallenge.email_hash == _email_hash(runtime, email)))
    expired = _verify(client, email, code)
    assert expired.status_code == 401 and expired.json()["code"] == "UUI_OTP_401"


def _email_hash(runtime: Runtime, email: str) -> str:
    return runtime.hasher.hash(email.lower(), purpose="otp_email")


def test_a_new_code_replaces_the_old_one(from_ip, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    client = from_ip()
    email = _email()
    _send(client, email)
    first = latest_code(settings.resolved_outbox_dir, email)
    _send(client, email)
    second = latest_code(settings.resolved_outbox_dir, email)
    if first != second:  # one in a million they coincide
        assert _verify(client, email, first).status_code == 401
    assert _verify(client, email, second).status_code == 200


def test_five_wrong_codes_lock_the_address_for_thirty_minutes(from_ip, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    client = from_ip()
    email = _email()
    _send(client, email)
    code = latest_code(settings.resolved_outbox_dir, email)
    for _ in range(5):
        assert _verify(client, email, _wrong(code)).json()["code"] == "UUI_OTP_401"
    locked = _verify(client, email, code)
    assert locked.status_code == 429 and locked.json()["code"] == "RATE_429"
    assert 1700 <= int(locked.headers["Retry-After"]) <= 1801
    sent = _send(client, email)
    assert sent["sent"] is False and sent["reason"] == "locked"
    # Another address from the same place is not affected.
    other = _email()
    _send(client, other)
    assert _verify(client, other, latest_code(settings.resolved_outbox_dir, other)).status_code == 200


def test_the_lock_ends_after_its_time(from_ip, settings: Settings, runtime: Runtime) -> None:  # type: ignore[no-untyped-def]
    client = from_ip()
    email = _email()
    _send(client, email)
    code = latest_code(settings.resolved_outbox_dir, email)
    for _ in range(5):
        _verify(client, email, _wrong(code))
    with runtime.db.session() as session:
        session.execute(
            update(OtpChallenge)
            .where(OtpChallenge.email_hash == _email_hash(runtime, email))
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    # The old code died with the lock; a new one works.
    assert _verify(client, email, code).json()["code"] == "UUI_OTP_401"
    _send(client, email)
    assert _verify(client, email, latest_code(settings.resolved_outbox_dir, email)).status_code == 200


def test_sending_is_rate_limited_per_email(from_ip, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    email = _email()
    for _ in range(settings.otp_send_per_email_per_hour):
        # From different places: the limit follows the address.
        assert _send(from_ip(), email)["sent"] is True
    limited = _send(from_ip(), email)
    assert limited["sent"] is False and limited["reason"] == "rate_limited"
    assert 1 <= int(limited["retry_after_seconds"]) <= 3600  # type: ignore[call-overload]
    assert len(outbox_messages(settings.resolved_outbox_dir, email)) == settings.otp_send_per_email_per_hour


def test_sending_is_rate_limited_per_ip(from_ip, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    client = from_ip()
    for _ in range(settings.otp_send_per_ip_per_hour):
        assert _send(client, _email())["sent"] is True
    victim = _email()
    limited = _send(client, victim)
    assert limited["sent"] is False and limited["reason"] == "rate_limited"
    assert outbox_messages(settings.resolved_outbox_dir, victim) == []
    assert _send(from_ip(), victim)["sent"] is True


def test_sending_from_one_ipv6_64_is_limited_however_the_address_rotates(from_ip, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    network = f"2001:db8:{secrets.randbelow(0x10000):x}:{secrets.randbelow(0x10000):x}"
    for n in range(settings.otp_send_per_ip_per_hour):  # each from another address of the /64
        assert _send(from_ip(f"{network}::{n + 1:x}"), _email())["sent"] is True
    limited = _send(from_ip(f"{network}:ffff:ffff:ffff:ffff"), _email())
    assert limited["sent"] is False and limited["reason"] == "rate_limited"
    assert _send(from_ip(f"{network}:0:0:0:1"), _email())["sent"] is False  # the same address, written out
    neighbour = f"2001:db8:{secrets.randbelow(0x10000):x}:{secrets.randbelow(0x10000):x}::1"
    assert _send(from_ip(neighbour), _email())["sent"] is True  # another /64


def test_a_send_refused_for_its_email_costs_the_address_nothing(from_ip, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    popular = _email()
    for _ in range(settings.otp_send_per_email_per_hour):
        assert _send(from_ip(), popular)["sent"] is True
    place = from_ip()
    for _ in range(settings.otp_send_per_ip_per_hour):  # refused: the email's limit
        assert _send(place, popular)["reason"] == "rate_limited"
    assert _send(place, _email())["sent"] is True  # the address's own budget is untouched


def test_bad_sign_in_bodies_are_4xx(client: TestClient) -> None:
    assert client.post("/v1/uui/otp/send", json={"email": "not-an-email"}).status_code == 422
    assert client.post("/v1/uui/otp/send", json={}).status_code == 422
    assert client.post("/v1/uui/otp/verify", json={"email": _email(), "otp": "1" * 50}).status_code == 422
    assert client.post("/v1/uui/otp/send", content=b"{", headers={"Content-Type": "application/json"}).status_code == 400


def test_sessions_by_header_or_cookie_and_logout(client: TestClient, from_ip, new_passport) -> None:  # type: ignore[no-untyped-def]
    passport = new_passport()
    me = client.get("/v1/uui/me", headers=passport.headers())
    assert me.status_code == 200 and me.json()["data"]["email"] == passport.email
    cookie_client = from_ip()
    cookie_client.cookies.set("memoryos_uui_session", passport.session_token)
    assert cookie_client.get("/v1/uui/me").json()["data"]["user_uui_id"] == passport.user_uui_id

    for headers in ({}, {"X-MemoryOS-Session": "mps_forged"}, {"X-MemoryOS-Session": "garbage"}):
        refused = client.get("/v1/uui/me", headers=headers)
        assert refused.status_code == 401 and refused.json()["code"] == "UUI_401"

    assert client.post("/v1/uui/logout", headers=passport.headers()).status_code == 200
    assert client.get("/v1/uui/me", headers=passport.headers()).json()["code"] == "UUI_401"


def test_an_expired_session_is_refused(client: TestClient, runtime: Runtime, new_passport) -> None:  # type: ignore[no-untyped-def]
    passport = new_passport()
    token_hash = runtime.hasher.hash(passport.session_token, purpose="passport_session")
    with runtime.db.session() as session:
        session.execute(
            update(PassportSession).where(PassportSession.session_hash == token_hash).values(expires_at=utcnow())
        )
    assert client.get("/v1/uui/me", headers=passport.headers()).json()["code"] == "UUI_401"


def test_secrets_are_stored_only_as_hashes(runtime: Runtime, new_passport, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    passport = new_passport()
    with runtime.db.session(write=False) as session:
        stored = session.execute(select(PassportSession.session_hash)).scalars().all()
        challenges = session.execute(select(OtpChallenge.email_hash, OtpChallenge.code_hash)).all()
    assert passport.session_token not in stored
    assert all(passport.email not in (email_hash or "") for email_hash, _ in challenges)


def test_deleting_the_passport_shreds_it_and_locks_everyone_out(
    client: TestClient, runtime: Runtime, connected, new_passport  # type: ignore[no-untyped-def]
) -> None:
    agent, passport, uui = connected(["preference", "goal"])
    assert client.get("/v1/universal/grant", headers=agent.headers(uui)).status_code == 200
    deleted = client.delete("/v1/uui/me", headers=passport.headers())
    assert deleted.status_code == 200 and deleted.json()["data"]["deleted"] is True
    assert client.get("/v1/uui/me", headers=passport.headers()).json()["code"] == "UUI_401"
    refused = client.get("/v1/universal/grant", headers=agent.headers(uui))
    assert refused.status_code == 403 and refused.json()["code"] == "UAT_001"
    with runtime.db.session(write=False) as session:
        remaining = session.execute(
            select(func.count()).select_from(UniversalUser).where(UniversalUser.email == passport.email)
        ).scalar_one()
    assert remaining == 0
    # The address can start afresh: a new passport, new pairwise identities.
    again = new_passport(passport.email)
    assert again.user_uui_id != passport.user_uui_id
