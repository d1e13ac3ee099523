"""Rows the migration tests write before memories: one tenant with one end-user (id 1) and one
passport user (id 1), through plain SQL (the models may already be past the revision tested)."""

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
