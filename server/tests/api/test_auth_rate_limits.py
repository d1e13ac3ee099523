"""Brute-force limits on POST /v1/auth/login and POST /v1/oauth/token, and attempt limits on
POST /v1/auth/signup and POST /v1/auth/password (both databases).

Failures are counted per account (email, client_id) and per client address; past a limit every
attempt is 429 RATE_429 with Retry-After, a right password included, and the answers are the
same whether the account exists or not. Sign-ups (per address and per email) and password
changes (per address) hash a password each time, so every attempt counts there. The limits
here are small copies of the settings' (the suite's own app has them raised: its requests all
come from one address). A client address is counted by its network: an IPv6 address by its /64.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from memoryos_server.app import create_app
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import RateLimitCounter
from tests.fixtures.clock import Clock
from tests.fixtures.factories import PASSWORD, create_tenant
from tests.fixtures.passport import fresh_ip

PER_EMAIL, PER_IP, PER_CLIENT, TOKEN_PER_IP = 3, 5, 3, 5
SIGNUP_PER_IP, SIGNUP_PER_EMAIL, PASSWORD_PER_IP = 4, 3, 3


def _limited_app(runtime: Runtime, **overrides: object) -> FastAPI:
    values: dict[str, object] = {
        "login_failures_per_email": PER_EMAIL,
        "login_failures_per_ip": PER_IP,
        "token_failures_per_client": PER_CLIENT,
        "token_failures_per_ip": TOKEN_PER_IP,
        "signup_attempts_per_ip": SIGNUP_PER_IP,
        "signup_attempts_per_email": SIGNUP_PER_EMAIL,
        "password_change_attempts_per_ip": PASSWORD_PER_IP,
        **overrides,
    }
    settings = runtime.settings.model_copy(update=values)
    return create_app(settings, runtime=dataclasses.replace(runtime, settings=settings), migrate=False)


@pytest.fixture
def limited(runtime: Runtime, client: TestClient) -> Iterator[Callable[[str | None], TestClient]]:
    """Clients of an app with small limits, each from an address of its own (or the one given).

    (``client``: the session's app has migrated the database this app shares.)"""
    app = _limited_app(runtime)
    with TestClient(app):  # runs the lifespan once
        yield lambda ip=None: TestClient(app, client=(ip or fresh_ip(), 40000), raise_server_exceptions=False)


def _login(client: TestClient, email: str, password: str) -> httpx.Response:
    return client.post("/v1/auth/login", json={"email": email, "password": password})


def _assert_limited(response: httpx.Response, window: int = 900) -> None:
    assert response.status_code == 429, response.text
    body = response.json()
    assert body["code"] == "RATE_429" and body["request_id"] == response.headers["x-request-id"]
    assert 1 <= int(response.headers["retry-after"]) <= window


def _account(client: TestClient) -> str:
    return create_tenant(client, "Limited").owner_email


def test_wrong_passwords_for_one_email_lock_it_even_for_the_right_one(limited) -> None:  # type: ignore[no-untyped-def]
    email = _account(limited())
    for _ in range(PER_EMAIL):  # each from another address: the email's own limit is what trips
        assert _login(limited(), email, "not the password").status_code == 401
    refused = _login(limited(), email, PASSWORD)
    _assert_limited(refused)
    assert "access_token" not in refused.text
    other = _account(limited())  # another account is not affected
    assert _login(limited(), other, PASSWORD).status_code == 200


def test_the_limit_does_not_tell_whether_an_account_exists(limited) -> None:  # type: ignore[no-untyped-def]
    real, unknown = _account(limited()), f"nobody-{secrets.token_hex(6)}@example.com"
    answers: dict[str, list[httpx.Response]] = {}
    for email in (real, unknown):
        answers[email] = [_login(limited(), email, "not the password") for _ in range(PER_EMAIL + 2)]
    shape = {
        email: [(r.status_code, r.json()["error"], r.json()["code"], "retry-after" in r.headers) for r in responses]
        for email, responses in answers.items()
    }
    assert shape[real] == shape[unknown]
    assert [status for status, *_ in shape[real]] == [401] * PER_EMAIL + [429, 429]


def test_failures_from_one_address_block_that_address_only(limited) -> None:  # type: ignore[no-untyped-def]
    email = _account(limited())
    attacker = limited(fresh_ip())
    for n in range(PER_IP):  # a different (unknown) email each time: the address's limit trips
        assert _login(attacker, f"guess-{n}-{secrets.token_hex(4)}@example.com", "pw").status_code == 401
    _assert_limited(_login(attacker, email, PASSWORD))
    assert _login(limited(), email, PASSWORD).status_code == 200  # from elsewhere the account works


def test_right_passwords_are_not_counted(limited) -> None:  # type: ignore[no-untyped-def]
    email = _account(limited())
    same_place = limited(fresh_ip())
    for _ in range(PER_EMAIL + PER_IP + 2):
        assert _login(same_place, email, PASSWORD).status_code == 200
    assert _login(same_place, email, "wrong").status_code == 401  # the counters start from zero


def test_the_lock_lifts_once_the_window_has_passed(runtime: Runtime, client: TestClient) -> None:
    app = _limited_app(runtime)  # a 900 s window
    clock = Clock(1_800_000_000 + 10)  # 10 s into a window
    app.state.services.limiter.clock = clock
    with TestClient(app, client=(fresh_ip(), 40000)) as client:
        email = _account(client)
        for _ in range(PER_EMAIL):
            assert _login(client, email, "wrong").status_code == 401
        _assert_limited(_login(client, email, PASSWORD))
        clock.now += 900  # the next window: the sliding estimate still weighs the failures
        _assert_limited(_login(client, email, PASSWORD))
        clock.now += 900  # two windows: it no longer does
        assert _login(client, email, PASSWORD).status_code == 200


def test_a_successful_login_refunds_the_window_it_was_counted_in(runtime: Runtime, client: TestClient) -> None:
    app = _limited_app(runtime)  # a 900 s window
    with TestClient(app, client=(fresh_ip(), 40000)) as client:
        email = _account(client)
        # Each reading of the clock takes a second: the login is counted (email, then address)
        # in the last two seconds of a window, and over by the time the next one starts.
        app.state.services.limiter.clock = Clock(1_800_000_000 + 898, step=1)
        assert _login(client, email, PASSWORD).status_code == 200
        # Were the refund taken from the new window, the success would still weigh on it.
        answers = [_login(client, email, "wrong").status_code for _ in range(PER_EMAIL + 1)]
        assert answers == [401] * PER_EMAIL + [429]


def _oauth_client(client: TestClient) -> tuple[str, str]:
    tenant = create_tenant(client, "Tokens")
    created = client.post("/v1/tenant/oauth-clients", json={"name": "svc"}, headers=tenant.jwt_headers()).json()["data"]
    return created["client_id"], created["client_secret"]


def _token(client: TestClient, client_id: str, secret: str) -> httpx.Response:
    return client.post(
        "/v1/oauth/token", data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    )


def test_wrong_secrets_for_one_client_lock_it_even_for_the_right_one(limited) -> None:  # type: ignore[no-untyped-def]
    client_id, secret = _oauth_client(limited())
    for _ in range(PER_CLIENT):
        assert _token(limited(), client_id, "cs_wrong").status_code == 401
    refused = _token(limited(), client_id, secret)
    _assert_limited(refused)
    assert "access_token" not in refused.text
    missing_id = "cli_doesnotexist" + secrets.token_hex(4)
    unknown = [_token(limited(), missing_id, "cs_wrong") for _ in range(PER_CLIENT + 1)]
    assert [r.status_code for r in unknown] == [401] * PER_CLIENT + [429]  # the same for a client that does not exist
    other_id, other_secret = _oauth_client(limited())
    assert _token(limited(), other_id, other_secret).status_code == 200


def test_token_failures_from_one_address_block_that_address_only(limited) -> None:  # type: ignore[no-untyped-def]
    client_id, secret = _oauth_client(limited())
    attacker = limited(fresh_ip())
    for _ in range(TOKEN_PER_IP):
        assert _token(attacker, f"cli_guess{secrets.token_hex(4)}", "cs_wrong").status_code == 401
    _assert_limited(_token(attacker, client_id, secret))
    assert _token(limited(), client_id, secret).status_code == 200
    for _ in range(PER_CLIENT + 2):  # successes are not counted
        assert _token(limited(), client_id, secret).status_code == 200


def _ipv6_network() -> str:
    """A fresh /64 (its first four groups) inside 2001:db8::/32, the documentation prefix."""
    return f"2001:db8:{secrets.randbelow(0x10000):x}:{secrets.randbelow(0x10000):x}"


def test_rotating_ipv6_addresses_inside_one_64_do_not_escape_the_address_limit(runtime: Runtime, limited) -> None:  # type: ignore[no-untyped-def]
    network = _ipv6_network()
    email = _account(limited())
    for n in range(PER_IP):  # a new address and a new (unknown) email each time
        guess = f"guess-{n}-{secrets.token_hex(4)}@example.com"
        assert _login(limited(f"{network}:{n:x}::{n + 1:x}"), guess, "pw").status_code == 401
    _assert_limited(_login(limited(f"{network}:ffff:ffff:ffff:fffe"), email, PASSWORD))
    assert _login(limited(f"{_ipv6_network()}::1"), email, PASSWORD).status_code == 200  # another /64
    with runtime.db.session(write=False) as session:
        buckets = session.execute(select(RateLimitCounter.bucket)).scalars().all()
    assert buckets and not any(network in bucket or "2001:db8" in bucket for bucket in buckets)


# --- sign-up and password change: every attempt hashes a password, so every attempt counts ----


def _signup(client: TestClient, email: str) -> httpx.Response:
    return client.post("/v1/auth/signup", json={"email": email, "password": PASSWORD, "organization_name": "Limited"})


def _change_password(client: TestClient, jwt: str, current: str, new: str) -> httpx.Response:
    return client.post(
        "/v1/auth/password", json={"current_password": current, "new_password": new}, headers={"Authorization": f"Bearer {jwt}"}
    )


def test_signups_from_one_address_are_limited_and_a_refused_one_makes_nothing(limited) -> None:  # type: ignore[no-untyped-def]
    place = limited(fresh_ip())
    taken = _account(limited())
    answers = [_signup(place, f"new-{n}-{secrets.token_hex(4)}@example.com").status_code for n in range(SIGNUP_PER_IP - 1)]
    answers.append(_signup(place, taken).status_code)  # a failed sign-up counts as well
    assert answers == [201] * (SIGNUP_PER_IP - 1) + [409]
    email = f"refused-{secrets.token_hex(4)}@example.com"
    refused = _signup(place, email)
    _assert_limited(refused)
    assert "access_token" not in refused.text
    assert _login(limited(), email, PASSWORD).status_code == 401  # no account was made
    assert _signup(limited(), email).status_code == 201  # from elsewhere the same sign-up works


def test_signups_for_one_email_are_limited_from_every_address(limited) -> None:  # type: ignore[no-untyped-def]
    email = f"popular-{secrets.token_hex(4)}@example.com"
    answers = [_signup(limited(), email).status_code for _ in range(SIGNUP_PER_EMAIL)]
    assert answers == [201] + [409] * (SIGNUP_PER_EMAIL - 1)
    _assert_limited(_signup(limited(), email))
    _assert_limited(_signup(limited(), " " + email.upper()))  # the same address however written
    assert _signup(limited(), f"other-{secrets.token_hex(4)}@example.com").status_code == 201


def test_password_changes_from_one_address_are_limited(limited) -> None:  # type: ignore[no-untyped-def]
    owner = create_tenant(limited(), "Limited")
    place = limited(fresh_ip())
    new = "a new password, long enough"
    for _ in range(PASSWORD_PER_IP):
        assert _change_password(place, owner.jwt, "not the password", new).status_code == 401
    refused = _change_password(place, owner.jwt, PASSWORD, new)
    _assert_limited(refused)
    assert _login(limited(), owner.owner_email, PASSWORD).status_code == 200  # the password is unchanged
    assert _change_password(limited(), owner.jwt, PASSWORD, new).status_code == 200  # from elsewhere it works
    assert _login(limited(), owner.owner_email, new).status_code == 200


def test_right_password_changes_count_too(limited) -> None:  # type: ignore[no-untyped-def]
    owner = create_tenant(limited(), "Limited")
    place = limited(fresh_ip())
    current = PASSWORD
    for n in range(PASSWORD_PER_IP):
        changed = _change_password(place, owner.jwt, current, f"{PASSWORD} {n}")
        assert changed.status_code == 200, changed.text
        current = f"{PASSWORD} {n}"
    _assert_limited(_change_password(place, owner.jwt, current, "yet another password"))
    assert _login(limited(), owner.owner_email, current).status_code == 200
