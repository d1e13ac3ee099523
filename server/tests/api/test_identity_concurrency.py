"""Simultaneous requests for one new account, against a real server on loopback (both databases).

PostgreSQL runs the requests' transactions side by side, so each can pass the "is this address
taken?" check before either inserts; the loser must get the 409 a later duplicate gets, not
the database's unique violation as a 500.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter

import httpx
from sqlalchemy import func, select

from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import User
from tests.fixtures.app import LiveServer
from tests.fixtures.factories import PASSWORD

ATTEMPTS = 6


def _all_at_once(send) -> list[httpx.Response]:  # type: ignore[no-untyped-def]
    start = threading.Barrier(ATTEMPTS)
    answers: list[httpx.Response | BaseException] = [RuntimeError("no answer")] * ATTEMPTS

    def run(index: int) -> None:
        with httpx.Client(timeout=60) as http:
            start.wait()
            try:
                answers[index] = send(http, index)
            except BaseException as exc:  # noqa: BLE001 — reported below
                answers[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    failures = [a for a in answers if isinstance(a, BaseException)]
    assert not failures, failures
    return answers  # type: ignore[return-value]


def _accounts_with(runtime: Runtime, email: str) -> int:
    with runtime.db.session(write=False) as session:
        return session.execute(select(func.count()).select_from(User).where(User.login_email == email)).scalar_one()


def test_simultaneous_signups_with_one_email_make_one_account_and_409s(live_server: LiveServer, runtime: Runtime) -> None:
    email = f"race-{secrets.token_hex(6)}@example.com"

    def signup(http: httpx.Client, index: int) -> httpx.Response:
        return http.post(
            f"{live_server.url}/v1/auth/signup",
            json={"email": email, "password": PASSWORD, "organization_name": f"Racer {index}"},
        )

    answers = _all_at_once(signup)
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 1, 409: ATTEMPTS - 1}, [(a.status_code, a.text[:200]) for a in answers]
    for refused in (a for a in answers if a.status_code == 409):
        assert refused.json()["code"] == "REQ_409" and refused.json()["request_id"]
    assert _accounts_with(runtime, email) == 1
    login = httpx.post(f"{live_server.url}/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert login.status_code == 200
    winner = next(a for a in answers if a.status_code == 201).json()["data"]
    me = httpx.get(f"{live_server.url}/v1/auth/me", headers={"Authorization": f"Bearer {login.json()['data']['access_token']}"})
    assert me.json()["data"]["tenant_id"] == winner["tenant"]["id"]  # the losers left no organisation behind for it
