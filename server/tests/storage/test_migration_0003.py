"""Revision 0003 on a database that already has passport sessions: every existing session gets a
public id of its own (so it can be listed and ended), and still signs in. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from memoryos_server.storage.db import Database
from memoryos_server.storage.migrate import current_revision, head_revision, upgrade
from memoryos_server.storage.types import utcnow


def test_existing_sessions_get_distinct_public_ids(empty_database: Database) -> None:
    upgrade(empty_database, "0002")
    now = utcnow()
    with empty_database.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO universal_users (id, public_id, email, created_at, updated_at) VALUES (1, 'uup_1', 'a@example.com', :now, :now)"),
            {"now": now},
        )
        for n in range(3):
            connection.execute(
                text(
                    "INSERT INTO passport_sessions (id, session_hash, universal_user_id, created_at, expires_at) "
                    "VALUES (:id, :hash, 1, :now, :later)"
                ),
                {"id": n + 1, "hash": f"hash-{n}", "now": now, "later": now + timedelta(days=1)},
            )

    upgrade(empty_database)
    assert current_revision(empty_database) == head_revision()
    with empty_database.engine.connect() as connection:
        rows = connection.execute(text("SELECT public_id, device, last_used_at, session_hash FROM passport_sessions ORDER BY id")).all()
    ids = [row.public_id for row in rows]
    assert len(set(ids)) == 3 and all(value.startswith("pss_") and len(value) == 28 for value in ids)
    assert [(row.device, row.last_used_at) for row in rows] == [(None, None)] * 3
    assert [row.session_hash for row in rows] == ["hash-0", "hash-1", "hash-2"]
    # Two sessions cannot share a public id.
    with pytest.raises(IntegrityError), empty_database.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO passport_sessions (public_id, session_hash, universal_user_id, created_at, expires_at) "
                "VALUES (:pid, 'hash-9', 1, :now, :now)"
            ),
            {"pid": ids[0], "now": now},
        )
