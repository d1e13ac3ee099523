"""Identifiers are not stored as text (issue 16, SPEC §7 "Encryption"): an end-user's id in its
tenant is a keyed hash plus a sealed copy, a memory's conversation id is sealed like its text;
the API still finds, filters and shows them as before. After an erasure on SQLite neither the
database file nor its write-ahead log holds what was erased (``secure_delete`` and a truncating
checkpoint)."""

from __future__ import annotations

import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from memoryos_server.services.memory import MemoryOwner
from memoryos_server.settings import Settings
from tests.fixtures.factories import TenantHandle
from tests.fixtures.memory import add, make_passport_user, scope_of
from tests.fixtures.passport import new_passport  # noqa: F401
from tests.fixtures.rawfiles import raw_bytes


def _rows_as_text(client: TestClient, table: str) -> str:
    """Every value of every row of ``table``, as anyone reading the database would see it."""
    engine = client.app.state.services.runtime.db.engine  # type: ignore[attr-defined]
    dumped: list[str] = []
    with engine.connect() as connection:
        for row in connection.execute(text(f'SELECT * FROM "{table}"')):
            for value in row:
                dumped.append(bytes(value).decode("latin-1") if isinstance(value, (bytes, bytearray, memoryview)) else str(value))
    return "\n".join(dumped)


def _database_file(settings: Settings) -> Path:
    return Path(settings.resolved_database_url.removeprefix("sqlite:///"))


def _wal_salts(wal: Path) -> bytes | None:
    """The salts in a write-ahead log's header: SQLite draws new ones each time it starts the
    log afresh, and its frames carry them. None when the log is empty."""
    header = wal.read_bytes()[:32] if wal.exists() else b""
    return header[16:24] if len(header) == 32 else None


def _remember(client: TestClient, tenant: TenantHandle, end_user: str, conversation: str, content: str) -> dict[str, Any]:
    response = client.post(
        "/v1/memories/add",
        json={"messages": [{"role": "user", "content": content}], "infer": False, "conversation_id": conversation},
        headers=tenant.key_headers(end_user),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_end_user_ids_and_conversation_ids_are_not_in_the_tables(client: TestClient, tenant: TenantHandle) -> None:
    end_user, conversation = f"cust-{secrets.token_hex(6)}", f"conv-{secrets.token_hex(6)}"
    _remember(client, tenant, end_user, conversation, "Prefers tea over coffee.")

    # The API answers as before: the end-user is found by the id, listed with it, and each
    # memory still names its conversation.
    listed = client.get("/v1/users", params={"limit": 200}, headers=tenant.key_headers()).json()["data"]
    mine = [user for user in listed if user["external_user_id"] == end_user]
    assert len(mine) == 1 and mine[0]["memory_count"] == 1
    one = client.get(f"/v1/users/{end_user}", headers=tenant.key_headers())
    assert one.status_code == 200 and one.json()["data"]["external_user_id"] == end_user
    exported = client.get(f"/v1/users/{end_user}/export", headers=tenant.key_headers()).json()["data"]
    assert exported["external_user_id"] == end_user
    memories = client.get("/v1/memories", headers=tenant.key_headers(end_user)).json()["data"]
    assert [m["source_conversation_id"] for m in memories] == [conversation]
    # The same id again is the same end-user (the lookup by keyed hash), not a second row.
    _remember(client, tenant, end_user, conversation, "Lives near the harbour.")
    again = client.get("/v1/users", params={"limit": 200}, headers=tenant.key_headers()).json()["data"]
    assert [user["memory_count"] for user in again if user["external_user_id"] == end_user] == [2]

    # What the database holds: no plaintext of either, on SQLite and PostgreSQL.
    users, tenant_memories = _rows_as_text(client, "users"), _rows_as_text(client, "memories")
    assert end_user not in users and f"{tenant.tenant_id}:{end_user}" not in users
    assert conversation not in tenant_memories and end_user not in tenant_memories
    columns = client.app.state.services.runtime.db.engine  # type: ignore[attr-defined]
    with columns.connect() as connection:
        user_columns = connection.execute(text("SELECT * FROM users WHERE 1 = 0")).keys()
        memory_columns = connection.execute(text("SELECT * FROM memories WHERE 1 = 0")).keys()
    assert "external_id" not in user_columns and {"external_id_hash", "external_id_ct"} <= set(user_columns)
    assert "conversation_id" not in memory_columns and "conversation_ct" in memory_columns


def test_a_passport_memorys_conversation_id_is_sealed_too(client: TestClient) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    owner: MemoryOwner = make_passport_user(services)
    conversation = f"conv-{secrets.token_hex(6)}"
    added = add(services, owner, "Prefers short answers.", infer=False, category="preference", conversation_id=conversation)
    memory_id = added.results[0].id
    with services.runtime.db.session(write=False) as session:
        assert services.memory.get(session, scope_of(owner), memory_id).conversation_id == conversation
    assert conversation not in _rows_as_text(client, "universal_memories")


def test_connections_delete_securely(client: TestClient) -> None:
    engine = client.app.state.services.runtime.db.engine  # type: ignore[attr-defined]
    if engine.dialect.name != "sqlite":
        pytest.skip("secure_delete and the -wal file are SQLite's")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1


def test_an_erased_end_user_leaves_nothing_in_the_sqlite_files(client: TestClient, tenant: TenantHandle, settings: Settings) -> None:
    if not settings.is_sqlite:
        pytest.skip("the database file and its -wal are SQLite's")
    end_user, conversation = f"leaver-{secrets.token_hex(6)}", f"conv-{secrets.token_hex(6)}"
    word = f"zq{secrets.token_hex(6)}"
    _remember(client, tenant, end_user, conversation, f"My locker code word is {word}.")
    before = raw_bytes(_database_file(settings))
    for secret in (end_user, conversation, word):
        assert secret.encode() not in before, secret  # never written as text

    wal = Path(f"{_database_file(settings)}-wal")
    written = _wal_salts(wal)
    assert written is not None  # the add went to the write-ahead log
    assert client.delete(f"/v1/users/{end_user}", headers=tenant.key_headers()).status_code == 200
    after = raw_bytes(_database_file(settings))
    for secret in (end_user, conversation, word):
        assert secret.encode() not in after, secret
    # Folded into the file and emptied: anything in the log now (the background worker's
    # counters may have been written since) is in a log started afresh, under new salts.
    assert _wal_salts(wal) != written


def test_an_erasure_held_up_by_a_reader_empties_the_log_once_the_reader_is_done(
    client: TestClient, tenant: TenantHandle, settings: Settings
) -> None:
    """A reader still on older pages keeps the erasure's checkpoint from emptying the log: the
    request does not wait for it beyond a moment, and the background worker empties the log as
    soon as the reader is done (checkpoints otherwise come only every 10,000 pages of log)."""
    if not settings.is_sqlite:
        pytest.skip("the database file and its -wal are SQLite's")
    database = client.app.state.services.runtime.db  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10  # the worker empties the log once at start: let it
    while database.release_pending and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not database.release_pending
    end_user, word = f"leaver-{secrets.token_hex(6)}", f"zq{secrets.token_hex(6)}"
    _remember(client, tenant, end_user, f"conv-{secrets.token_hex(6)}", f"My locker code word is {word}.")
    wal = Path(f"{_database_file(settings)}-wal")
    written = _wal_salts(wal)
    assert written is not None and word.encode() not in wal.read_bytes()  # sealed, even in the log

    reader = sqlite3.connect(_database_file(settings), isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM memories").fetchone()  # a snapshot of the older pages
        started = time.monotonic()
        assert client.delete(f"/v1/users/{end_user}", headers=tenant.key_headers()).status_code == 200
        assert time.monotonic() - started < 10  # waited a moment for the reader, not 30 s
        assert database.release_pending and _wal_salts(wal) == written  # the log could not be emptied yet
    finally:
        reader.close()
    deadline = time.monotonic() + 10  # the worker's next try: the log emptied, then the flag cleared
    while (_wal_salts(wal) == written or database.release_pending) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _wal_salts(wal) != written and not database.release_pending  # emptied by the worker


def test_a_deleted_passports_email_leaves_the_sqlite_files(client: TestClient, settings: Settings, new_passport) -> None:  # type: ignore[no-untyped-def]
    """The passport's email is the one identifier kept as text while it lives (it signs in by
    it); once deleted, ``secure_delete`` zeroes its rows and the checkpoint empties the log."""
    if not settings.is_sqlite:
        pytest.skip("the database file and its -wal are SQLite's")
    person = new_passport()
    assert person.email.encode() in raw_bytes(_database_file(settings))  # the check can see it
    assert client.delete("/v1/uui/me", headers=person.headers()).status_code == 200
    assert person.email.encode() not in raw_bytes(_database_file(settings))
