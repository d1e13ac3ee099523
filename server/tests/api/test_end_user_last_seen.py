"""An end-user's ``last_seen_at``: when the tenant last acted for them, to the minute (both DBs).

Set by the tenant memory routes (add, retrieve, list, get, history, delete…), shown by
``GET /v1/users`` and ``GET /v1/users/{id}``. A call within a minute of the stored time writes
nothing; reading the end-user's summary is not acting for them. Time is moved by moving the
stored value into the past, or by a clock handed to a ``SeenLog`` of the test's own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from memoryos_server.services.runtime import Runtime
from memoryos_server.services.seen import SeenLog
from memoryos_server.storage.models import User
from memoryos_server.storage.types import utcnow
from tests.fixtures.factories import TenantHandle


def _summary(client: TestClient, tenant: TenantHandle, end_user: str) -> dict:  # type: ignore[type-arg]
    got = client.get(f"/v1/users/{end_user}", headers=tenant.key_headers())
    assert got.status_code == 200, got.text
    return got.json()["data"]


def _shown(client: TestClient, tenant: TenantHandle, end_user: str) -> datetime | None:
    one = _summary(client, tenant, end_user)["last_seen_at"]
    listed = client.get("/v1/users", params={"limit": 200}, headers=tenant.key_headers()).json()["data"]
    assert next(u for u in listed if u["external_user_id"] == end_user)["last_seen_at"] == one
    return datetime.fromisoformat(one) if one else None


def _stored(runtime: Runtime, public_id: str) -> datetime | None:
    with runtime.db.session(write=False) as session:
        return session.execute(select(User.last_seen_at).where(User.public_id == public_id)).scalar_one()


def _row(runtime: Runtime, public_id: str) -> User:
    with runtime.db.session(write=False) as session:
        return session.execute(select(User).where(User.public_id == public_id)).scalar_one()


def _move_into_past(runtime: Runtime, public_id: str, by: timedelta) -> datetime:
    when = utcnow() - by
    with runtime.db.session() as session:
        session.execute(update(User).where(User.public_id == public_id).values(last_seen_at=when))
    return when


def _add(client: TestClient, tenant: TenantHandle, end_user: str, text: str) -> None:
    response = client.post(
        "/v1/memories/add", json={"messages": [{"role": "user", "content": text}], "infer": False}, headers=tenant.key_headers(end_user)
    )
    assert response.status_code == 200, response.text


def _retrieve(client: TestClient, tenant: TenantHandle, end_user: str) -> None:
    response = client.post("/v1/memories/retrieve", json={"query": "Oslo"}, headers=tenant.key_headers(end_user))
    assert response.status_code == 200, response.text


def test_an_add_sets_it_and_it_is_written_to_the_database(
    app: FastAPI, client: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    before = utcnow()
    _add(client, tenant, "ada", "Lives in Oslo.")
    shown = _shown(client, tenant, "ada")
    assert shown is not None and before - timedelta(seconds=1) <= shown <= utcnow()
    app.state.services.seen.flush(runtime.db)  # what the background thread does every few seconds
    assert _stored(runtime, _summary(client, tenant, "ada")["public_id"]) == shown


def test_within_a_minute_a_call_writes_nothing(app: FastAPI, client: TestClient, runtime: Runtime, tenant: TenantHandle) -> None:
    _add(client, tenant, "bo", "Lives in Oslo.")
    app.state.services.seen.flush(runtime.db)
    public_id = _summary(client, tenant, "bo")["public_id"]
    stored = _move_into_past(runtime, public_id, timedelta(seconds=30))
    _retrieve(client, tenant, "bo")
    assert client.get("/v1/memories", headers=tenant.key_headers("bo")).status_code == 200
    assert _shown(client, tenant, "bo") == stored  # nothing noted: the stored time is recent enough
    assert app.state.services.seen.last_seen(_row(runtime, public_id)) == stored


def test_reads_older_than_a_minute_move_it(app: FastAPI, client: TestClient, runtime: Runtime, tenant: TenantHandle) -> None:
    _add(client, tenant, "cy", "Lives in Oslo.")
    public_id = _summary(client, tenant, "cy")["public_id"]
    calls = {
        "retrieve": lambda: _retrieve(client, tenant, "cy"),
        "list": lambda: client.get("/v1/memories", headers=tenant.key_headers("cy")),
        "add": lambda: _add(client, tenant, "cy", "Works as a nurse."),
    }
    for name, call in calls.items():
        app.state.services.seen.flush(runtime.db)
        old = _move_into_past(runtime, public_id, timedelta(minutes=5))
        assert _shown(client, tenant, "cy") == old
        call()
        shown = _shown(client, tenant, "cy")
        assert shown is not None and shown > old + timedelta(minutes=4), name
        app.state.services.seen.flush(runtime.db)
        assert _stored(runtime, public_id) == shown, name


def test_reading_the_end_users_summary_is_not_acting_for_them(
    app: FastAPI, client: TestClient, runtime: Runtime, tenant: TenantHandle
) -> None:
    _add(client, tenant, "di", "Lives in Oslo.")
    app.state.services.seen.flush(runtime.db)
    public_id = _summary(client, tenant, "di")["public_id"]
    old = _move_into_past(runtime, public_id, timedelta(hours=2))
    for _ in range(2):
        assert _shown(client, tenant, "di") == old
    assert client.get(f"/v1/users/{public_id}/export", headers=tenant.key_headers()).status_code == 200
    assert _shown(client, tenant, "di") == old


def test_a_read_for_an_unknown_end_user_creates_nobody(client: TestClient, tenant: TenantHandle) -> None:
    _retrieve(client, tenant, "never-added")
    assert client.get("/v1/users/never-added", headers=tenant.key_headers()).status_code == 404


def test_writing_never_moves_a_stored_time_backwards(client: TestClient, runtime: Runtime, tenant: TenantHandle) -> None:
    """Two worker processes each keep notes: the later of two times wins, whichever is written last."""
    _add(client, tenant, "eve", "Lives in Oslo.")
    public_id = _summary(client, tenant, "eve")["public_id"]
    now = utcnow()
    later, earlier = SeenLog(clock=lambda: now), SeenLog(clock=lambda: now - timedelta(minutes=3))
    _move_into_past(runtime, public_id, timedelta(hours=1))
    row = _row(runtime, public_id)
    later.note(row)
    earlier.note(row)
    assert later.flush(runtime.db) == 1
    earlier.flush(runtime.db)
    assert _stored(runtime, public_id) == now
    # Noted, not yet written: shown at once by the process that noted it.
    after = SeenLog(clock=lambda: now + timedelta(minutes=2))
    after.note(_row(runtime, public_id))
    assert after.last_seen(_row(runtime, public_id)) == now + timedelta(minutes=2)
    assert after.pending == 1
    assert SeenLog(clock=lambda: now + timedelta(seconds=59)).last_seen(_row(runtime, public_id)) == now
