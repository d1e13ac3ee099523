"""Races on the things that must happen once: guesses counted, codes and links used once,
one passport per address, one grant per (user, agent). On SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from memoryos_server.errors import ConsentCodeInvalid, LinkExpired, RateLimited, WrongOneTimeCode
from memoryos_server.services.email import EmailService, OutboxBackend
from memoryos_server.services.passport.service import PassportService
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import Grant, OrgConnection, UniversalUser
from tests.fixtures.passport import AgentHandle, latest_code, new_agent, passport_service  # noqa: F401


def _race(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` in ``count`` threads released together; return results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 — the outcome under test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def passport(runtime: Runtime, client: TestClient, tmp_path: Path) -> tuple[PassportService, Path]:
    outbox = tmp_path / "outbox"
    services = client.app.state.services  # type: ignore[attr-defined]
    return passport_service(services, email=EmailService(runtime.settings, OutboxBackend(outbox))), outbox


def _email() -> str:
    return f"race-{secrets.token_hex(6)}@example.com"


def test_concurrent_wrong_guesses_are_all_counted(passport: tuple[PassportService, Path], runtime: Runtime) -> None:
    service, outbox = passport
    email = _email()
    service.send_code(email=email, ip=None)
    code = latest_code(outbox, email)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    results = _race(8, lambda _i: service.verify_code(email=email, code=wrong, ip=None))
    wrongs = sum(isinstance(r, WrongOneTimeCode) for r in results)
    limited = sum(isinstance(r, RateLimited) for r in results)
    assert (wrongs, limited) == (runtime.settings.otp_max_attempts, 8 - runtime.settings.otp_max_attempts)
    with pytest.raises(RateLimited):
        service.verify_code(email=email, code=code, ip=None)


def test_one_code_signs_in_once_and_makes_one_passport(passport: tuple[PassportService, Path], runtime: Runtime) -> None:
    service, outbox = passport
    email = _email()
    service.send_code(email=email, ip=None)
    code = latest_code(outbox, email)
    results = _race(6, lambda _i: service.verify_code(email=email, code=code, ip=None))
    signed_in = [r for r in results if not isinstance(r, Exception)]
    assert len(signed_in) == 1, results
    assert all(isinstance(r, WrongOneTimeCode) for r in results if isinstance(r, Exception))
    with runtime.db.session(write=False) as session:
        count = session.execute(select(func.count()).select_from(UniversalUser).where(UniversalUser.email == email)).scalar_one()
    assert count == 1


def test_a_consent_code_is_exchanged_once(client: TestClient, runtime: Runtime, new_agent, passport) -> None:  # type: ignore[no-untyped-def]
    services = client.app.state.services  # type: ignore[attr-defined]
    agent: AgentHandle = new_agent()
    service, outbox = passport
    email = _email()
    service.send_code(email=email, ip=None)
    user = service.verify_code(email=email, code=latest_code(outbox, email), ip=None).user
    with runtime.db.session() as session:
        code = services.grants.create_or_replace(session, user, agent_id=agent.id, categories=["fact"]).code.code

    def exchange(_i: int) -> str:
        with runtime.db.session() as session:
            row = services.agents.authenticate_key(session, agent.key)
            return services.agent_access.exchange_code(session, row, code).uui_token

    results = _race(5, exchange)
    tokens = [r for r in results if isinstance(r, str)]
    assert len(tokens) == 1 and all(isinstance(r, ConsentCodeInvalid) for r in results if not isinstance(r, str))


def test_racing_grants_and_links_make_one_row(client: TestClient, runtime: Runtime, new_agent, passport) -> None:  # type: ignore[no-untyped-def]
    services = client.app.state.services  # type: ignore[attr-defined]
    agent: AgentHandle = new_agent()
    service, outbox = passport
    email = _email()
    service.send_code(email=email, ip=None)
    user = service.verify_code(email=email, code=latest_code(outbox, email), ip=None).user
    principal = services.identity.authenticate_request(authorization=f"ApiKey {agent.tenant.api_key}", x_api_key=None)
    with runtime.db.session() as session:
        link = services.connections.create_link_token(
            session, principal, agent_id=agent.id, external_user_id="racer"
        ).link_token

    def grant(i: int) -> str:
        with runtime.db.session() as session:
            issued = services.grants.create_or_replace(
                session, user, agent_id=agent.id, categories=["fact", "goal"][: 1 + i % 2], link_token=link if i == 0 else None
            )
            return issued.view.grant.id

    results = _race(6, grant)
    ids = {r for r in results if isinstance(r, str)}
    assert len(ids) == 1, results
    with runtime.db.session(write=False) as session:
        grants = session.execute(select(func.count()).select_from(Grant).where(Grant.universal_user_id == user.id)).scalar_one()
    assert grants == 1

    with runtime.db.session() as session:
        fresh = services.connections.create_link_token(
            session, principal, agent_id=agent.id, external_user_id="racer-2"
        ).link_token

    def use_link(i: int) -> str:
        with runtime.db.session() as session:
            return services.connections.connect_with_link(session, user, agent.id, link if i % 2 else fresh).id

    # The first link was used by a grant above: only one use of the fresh link gets through.
    results = _race(6, use_link)
    assert sum(isinstance(r, str) for r in results) == 1
    assert all(isinstance(r, LinkExpired) for r in results if not isinstance(r, str))
    with runtime.db.session(write=False) as session:
        connections = session.execute(
            select(func.count()).select_from(OrgConnection).where(OrgConnection.universal_user_id == user.id)
        ).scalar_one()
    assert connections == 2
