"""Revision 0007_mcp_oauth on a database that already has an organisation's agent: the agent is of
kind ``tenant`` and keeps its owner; an agent row without an owner (an MCP client's) can be stored
afterwards, and going back removes those rows first. SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import text

from memoryos_server.storage.db import Database
from memoryos_server.storage.migrate import alembic_config, current_revision, upgrade
from memoryos_server.storage.types import utcnow


_AGENT = (
    "INSERT INTO global_agents (id, {kind}owner_tenant_id, name, redirect_uris, default_categories, verification_status, "
    "is_active, key_hash, key_prefix, created_at, updated_at) VALUES (:id, {kind_value}:owner, :name, '[]', '[]', 'pending', "
    "true, :hash, 'agent_sk_x', :now, :now)"
)


def test_existing_agents_are_an_organisations_and_mcp_clients_need_none(empty_database: Database) -> None:
    upgrade(empty_database, "0006_oauth_connectors")
    now = utcnow()
    with empty_database.engine.begin() as connection:
        connection.execute(text("INSERT INTO tenants (id, public_id, name, created_at, updated_at) VALUES (1, 'ten_1', 'Acme', :now, :now)"), {"now": now})
        connection.execute(
            text(_AGENT.format(kind="", kind_value="")),
            {"id": "00000000-0000-0000-0000-000000000001", "owner": 1, "name": "Study Buddy", "hash": "h1", "now": now},
        )

    upgrade(empty_database, "0007_mcp_oauth")
    assert current_revision(empty_database) == "0007_mcp_oauth"
    with empty_database.engine.begin() as connection:
        assert connection.execute(text("SELECT kind, owner_tenant_id FROM global_agents")).one() == ("tenant", 1)
        connection.execute(
            text(_AGENT.format(kind="kind, ", kind_value="'mcp_client', ")),
            {"id": "00000000-0000-0000-0000-000000000002", "owner": None, "name": "Desk Assistant", "hash": "h2", "now": now},
        )

    from alembic import command

    config = alembic_config(empty_database.url)
    with empty_database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0006_oauth_connectors")
    with empty_database.engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM global_agents")).scalars().all() == ["Study Buddy"]
