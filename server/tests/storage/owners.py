"""Rows the migration tests write: one tenant with one end-user (id 1) and one passport user
(id 1), and their memories, through plain SQL (the models may already be past the revision
tested)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text


def insert_owners(connection: Connection, now: datetime) -> None:
    connection.execute(text("INSERT INTO tenants (id, public_id, name, created_at, updated_at) VALUES (1, 'ten_1', 'Acme', :now, :now)"), {"now": now})
    connection.execute(
        text("INSERT INTO users (id, public_id, tenant_id, kind, role, created_at, updated_at) VALUES (1, 'usr_1', 1, 'end_user', 'user', :now, :now)"),
        {"now": now},
    )
    connection.execute(
        text("INSERT INTO universal_users (id, public_id, email, created_at, updated_at) VALUES (1, 'uup_1', 'p@example.com', :now, :now)"),
        {"now": now},
    )


_MEMORY = (
    "INSERT INTO {table} (id, {owner_columns}, category, content_ct, importance, original_importance, confidence, "
    "status, disputed, flagged, unconfirmed, version, content_hash, term_count, index_seq, created_at, updated_at) "
    "VALUES (:id, {owner_values}, 'fact', :ct, 5, 5, 0.9, 'active', false, false, false, 1, 'h', 2, 0, :now, :now)"
)


def insert_memories(connection: Connection, now: datetime) -> None:
    """The owners (``insert_owners``), the end-user's memories m-1 and m-2 and the passport
    user's u-1 (columns as of revision 0013 onwards)."""
    insert_owners(connection, now)
    tenant = _MEMORY.format(table="memories", owner_columns="tenant_id, owner_id, scope", owner_values="1, 1, 'tenant'")
    for memory_id in ("m-1", "m-2"):
        connection.execute(text(tenant), {"id": memory_id, "ct": b"x", "now": now})
    universal = _MEMORY.format(table="universal_memories", owner_columns="owner_id", owner_values="1")
    connection.execute(text(universal), {"id": "u-1", "ct": b"x", "now": now})
