"""Revision 0009_sealed_identifiers on a database that already holds end-users and memories with
plaintext identifiers (rebuilding ``users`` on SQLite deletes none of their memories): each user's id becomes a keyed hash plus a copy sealed under its own data
key, each conversation id is sealed like the text (tenant and passport memories), a user whose
key was already destroyed keeps its hash only; without the master key the revision refuses and
changes nothing; going back opens them again. SQLite and PostgreSQL."""

from __future__ import annotations

import os
from typing import Any

import pytest
from sqlalchemy import text

from memoryos_server.crypto import KeyWrapper, TokenHasher
from memoryos_server.storage.db import Database
from memoryos_server.storage.migrate import current_revision, downgrade, upgrade
from memoryos_server.storage.types import utcnow
from memoryos_server.storage.vault import EXTERNAL_ID_AAD, EXTERNAL_ID_HASH_PURPOSE, conversation_aad

MASTER = os.urandom(32)


_MEMORY = (
    "INSERT INTO {table} (id, {owner_columns}, category, content_ct, importance, original_importance, confidence, "
    "status, disputed, flagged, unconfirmed, conversation_id, access_count, version, content_hash, term_count, "
    "index_seq, created_at, updated_at) VALUES (:id, {owner_values}, 'fact', :ct, 5, 5, 0.9, 'active', false, false, "
    "false, :conversation, 0, 1, 'h', 1, 0, :now, :now)"
)


def _fill(database: Database, wrapper: KeyWrapper) -> dict[str, Any]:
    now = utcnow()
    alive, gone, passport = wrapper.new_wrapped_key("usr_alive"), wrapper.new_wrapped_key("usr_gone"), wrapper.new_wrapped_key("uup_1")
    with database.engine.begin() as connection:
        connection.execute(text("INSERT INTO tenants (id, public_id, name, created_at, updated_at) VALUES (1, 'ten_1', 'Acme', :now, :now)"), {"now": now})
        for row_id, public, external, wrapped in ((1, "usr_alive", "ten_1:alice", alive), (2, "usr_gone", "ten_1:bob", None)):
            connection.execute(
                text(
                    "INSERT INTO users (id, public_id, tenant_id, kind, external_id, role, wrapped_key, created_at, updated_at) "
                    "VALUES (:id, :public, 1, 'end_user', :external, 'user', :wrapped, :now, :now)"
                ),
                {"id": row_id, "public": public, "external": external, "wrapped": wrapped, "now": now},
            )
        connection.execute(
            text("INSERT INTO users (id, public_id, kind, login_email, role, created_at, updated_at) VALUES (3, 'usr_admin', 'dashboard', 'a@example.com', 'admin', :now, :now)"),
            {"now": now},
        )
        connection.execute(
            text("INSERT INTO universal_users (id, public_id, email, wrapped_key, created_at, updated_at) VALUES (1, 'uup_1', 'p@example.com', :wrapped, :now, :now)"),
            {"wrapped": passport, "now": now},
        )
        tenant_memory = _MEMORY.format(table="memories", owner_columns="tenant_id, owner_id, scope", owner_values="1, :owner, 'tenant'")
        for memory_id, owner, conversation in (("m-alive", 1, "conv-alice"), ("m-gone", 2, "conv-bob"), ("m-none", 1, None)):
            connection.execute(text(tenant_memory), {"id": memory_id, "owner": owner, "ct": b"x", "conversation": conversation, "now": now})
        universal = _MEMORY.format(table="universal_memories", owner_columns="owner_id", owner_values=":owner")
        connection.execute(text(universal), {"id": "u-1", "owner": 1, "ct": b"x", "conversation": "conv-passport", "now": now})
    return {"alive": alive, "passport": passport}


def test_identifiers_are_sealed_and_opened_again(empty_database: Database) -> None:
    upgrade(empty_database, "0008_agent_logos")
    wrapper, hasher = KeyWrapper(MASTER), TokenHasher(MASTER)
    keys = _fill(empty_database, wrapper)

    with pytest.raises(RuntimeError, match="needs the master key"):
        upgrade(empty_database, "0009_sealed_identifiers")
    assert current_revision(empty_database) == "0008_agent_logos"  # nothing changed

    upgrade(empty_database, "0009_sealed_identifiers", master_key=MASTER)
    assert current_revision(empty_database) == "0009_sealed_identifiers"
    alive_key, passport_key = wrapper.unwrap(keys["alive"], "usr_alive"), wrapper.unwrap(keys["passport"], "uup_1")
    with empty_database.engine.connect() as connection:
        users = {row.public_id: row for row in connection.execute(text("SELECT * FROM users"))}
        assert "external_id" not in connection.execute(text("SELECT * FROM users")).keys()
        alive, gone, admin = users["usr_alive"], users["usr_gone"], users["usr_admin"]
        assert alive.external_id_hash == hasher.hash("ten_1:alice", purpose=EXTERNAL_ID_HASH_PURPOSE)
        assert alive_key.decrypt_text(bytes(alive.external_id_ct), aad=EXTERNAL_ID_AAD.encode()) == "ten_1:alice"
        assert gone.external_id_hash == hasher.hash("ten_1:bob", purpose=EXTERNAL_ID_HASH_PURPOSE) and gone.external_id_ct is None
        assert admin.external_id_hash is None and admin.external_id_ct is None
        memories = {row.id: row.conversation_ct for row in connection.execute(text("SELECT id, conversation_ct FROM memories"))}
        assert alive_key.decrypt_text(bytes(memories["m-alive"]), aad=conversation_aad("m-alive")) == "conv-alice"
        assert memories["m-gone"] is None and memories["m-none"] is None
        sealed = connection.execute(text("SELECT conversation_ct FROM universal_memories")).scalar_one()
        assert passport_key.decrypt_text(bytes(sealed), aad=conversation_aad("u-1")) == "conv-passport"
        assert "conversation_id" not in connection.execute(text("SELECT * FROM memories")).keys()
        assert "conversation_id" not in connection.execute(text("SELECT * FROM universal_memories")).keys()
        if empty_database.is_sqlite:  # off while the tables were rebuilt (no cascade), on again after
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1

    # Two rows cannot share a hash (one row per end-user, as the plain id was unique).
    with pytest.raises(Exception), empty_database.engine.begin() as connection:  # noqa: B017 — IntegrityError of either driver
        connection.execute(
            text("INSERT INTO users (public_id, kind, external_id_hash, role, created_at, updated_at) VALUES ('usr_x', 'end_user', :h, 'user', :now, :now)"),
            {"h": users["usr_alive"].external_id_hash, "now": utcnow()},
        )

    downgrade(empty_database, "0008_agent_logos", master_key=MASTER)
    with empty_database.engine.connect() as connection:
        external = dict(connection.execute(text("SELECT public_id, external_id FROM users")).all())
        assert external == {"usr_alive": "ten_1:alice", "usr_gone": None, "usr_admin": None}
        assert dict(connection.execute(text("SELECT id, conversation_id FROM memories")).all()) == {
            "m-alive": "conv-alice", "m-gone": None, "m-none": None,
        }
        assert connection.execute(text("SELECT conversation_id FROM universal_memories")).scalar_one() == "conv-passport"
