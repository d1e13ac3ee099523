"""Revision 0008_agent_logos on a database that already has an agent with a ``logo_url``: the agent
keeps everything and has no stored image yet (initials until its logo_url is saved again; no
migration calls out); an image can be stored afterwards, and going back drops it. SQLite and
PostgreSQL."""

from __future__ import annotations

from sqlalchemy import text

from memoryos_server.storage.db import Database
from memoryos_server.storage.migrate import alembic_config, current_revision, upgrade
from memoryos_server.storage.types import utcnow

AGENT_ID = "00000000-0000-0000-0000-000000000008"


def test_existing_agents_have_no_stored_logo_until_saved_again(empty_database: Database) -> None:
    upgrade(empty_database, "0007_mcp_oauth")
    now = utcnow()
    with empty_database.engine.begin() as connection:
        connection.execute(text("INSERT INTO tenants (id, public_id, name, created_at, updated_at) VALUES (1, 'ten_1', 'Acme', :now, :now)"), {"now": now})
        connection.execute(
            text(
                "INSERT INTO global_agents (id, kind, owner_tenant_id, name, logo_url, redirect_uris, default_categories, "
                "verification_status, is_active, key_hash, key_prefix, created_at, updated_at) VALUES (:id, 'tenant', 1, "
                "'Study Buddy', 'https://yourapp.com/logo.png', '[]', '[]', 'verified', true, 'h1', 'agent_sk_x', :now, :now)"
            ),
            {"id": AGENT_ID, "now": now},
        )

    upgrade(empty_database, "0008_agent_logos")
    assert current_revision(empty_database) == "0008_agent_logos"
    with empty_database.engine.begin() as connection:
        row = connection.execute(text("SELECT name, logo_url, logo_image, logo_content_type, verification_status FROM global_agents")).one()
        assert tuple(row) == ("Study Buddy", "https://yourapp.com/logo.png", None, None, "verified")
        connection.execute(
            text("UPDATE global_agents SET logo_image = :image, logo_content_type = 'image/png' WHERE id = :id"),
            {"image": b"\x89PNG\r\n\x1a\n", "id": AGENT_ID},
        )

    from alembic import command

    config = alembic_config(empty_database.url)
    with empty_database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0007_mcp_oauth")
    with empty_database.engine.connect() as connection:
        assert connection.execute(text("SELECT name, logo_url FROM global_agents")).one() == ("Study Buddy", "https://yourapp.com/logo.png")
        columns = connection.execute(text("SELECT * FROM global_agents")).keys()
        assert "logo_image" not in columns and "logo_content_type" not in columns
