"""What `memoryos serve` does before the server starts: key, migrations, a first-run message."""

from __future__ import annotations

import logging

import typer

from memoryos_server.crypto import load_or_create_master_key
from memoryos_server.settings import Settings
from memoryos_server.storage.db import Database
from memoryos_server.storage.migrate import current_revision, upgrade


log = logging.getLogger("memoryos.cli")


def _say(settings: Settings, text: str, *, warning: bool = False) -> None:
    """On the terminal as plain text; through the log when it is JSON, so every line parses."""
    if settings.log_json:
        log.log(logging.WARNING if warning else logging.INFO, text.strip("\n"))
    elif warning:
        typer.secho(text, fg="yellow")
    else:
        typer.echo(text)


def prepare_and_greet(settings: Settings) -> None:
    master = load_or_create_master_key(
        settings.master_key.get_secret_value() if settings.master_key else None, settings.data_dir
    )
    database = Database(settings.resolved_database_url)
    first_start = current_revision(database) is None
    upgrade(database)
    database.dispose()
    base = settings.resolved_public_url
    if master.created:
        _say(
            settings,
            f"Generated the master key at {master.path} (mode 0600). Back it up: without it no memory can be read.",
            warning=True,
        )
    if first_start or master.created:
        where = "SQLite at " + settings.resolved_database_url.removeprefix("sqlite:///") if settings.is_sqlite else "PostgreSQL"
        _say(
            settings,
            "\n".join(
                [
                    "",
                    "MemoryOS is starting for the first time.",
                    f"  Database:     {where}",
                    f"  API:          {base}/v1   (OpenAPI: {base}/docs)",
                    f"  Consent app:  {settings.resolved_consent_base_url}/login",
                    "",
                    "Create your first account and organisation:",
                    f"  curl -s -X POST {base}/v1/auth/signup -H 'Content-Type: application/json' \\",
                    "       -d '{\"email\":\"you@example.com\",\"password\":\"a long password\",\"organization_name\":\"Acme\"}'",
                    "Then create an API key with the token it returns (POST /v1/tenant/api-keys).",
                    "An operator (verifies agents): memoryos admin create-operator --email you@example.com",
                    "",
                ]
            )
        )
