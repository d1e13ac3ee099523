"""What `memoryos serve` does before the server starts: key, migrations, a first-run message."""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

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


def command_as_run(
    argv0: str | None = None, *, which: Callable[[str], str | None] = shutil.which, cwd: Path | None = None
) -> str:
    """``memoryos`` as the person who started this server can type it again: the bare name when
    that name on their PATH is this very program, else the path they used (``.venv/bin/memoryos``
    after ``make serve``), relative to where they stand when it lies below it."""
    program = argv0 if argv0 is not None else sys.argv[0]
    if Path(program).name != "memoryos":  # started another way (python -m, a test runner)
        return "memoryos"
    on_path = which("memoryos")
    if on_path and _same_file(on_path, program):
        return "memoryos"
    if not os.path.isabs(program):
        return program
    here = (cwd or Path.cwd()).resolve()
    try:
        return str(Path(program).resolve().relative_to(here))
    except ValueError:
        return program


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def data_dir_flag(settings: Settings) -> str:
    """How a second command finds this server's database: the same data directory (nothing to
    add for the default one, or when the database is PostgreSQL, named in the environment)."""
    if not settings.is_sqlite or settings.data_dir == Path(".memoryos"):
        return ""
    return f" --data-dir {shlex.quote(str(settings.data_dir))}"


def prepare_and_greet(settings: Settings) -> None:
    master = load_or_create_master_key(
        settings.master_key.get_secret_value() if settings.master_key else None, settings.data_dir
    )
    database = Database(settings.resolved_database_url)
    first_start = current_revision(database) is None
    upgrade(database, master_key=master.key)
    database.dispose()
    base = settings.resolved_public_url
    if master.created:
        _say(
            settings,
            f"Generated the master key at {master.path} (mode 0600). Back it up: without it no memory can be read.",
            warning=True,
        )
    if first_start or master.created:
        memoryos = command_as_run()
        where = "SQLite at " + settings.resolved_database_url.removeprefix("sqlite:///") if settings.is_sqlite else "PostgreSQL"
        _say(
            settings,
            "\n".join(
                [
                    "",
                    "MemoryOS is starting for the first time.",
                    f"  Database:     {where}",
                    f"  API:          {base}/docs   (OpenAPI: {base}/openapi.json)",
                    f"  Consent app:  {settings.resolved_consent_base_url}/login",
                    *([f"  MCP:          {settings.mcp_resource_url}   (any MCP client, with your consent: docs/mcp.md)"] if settings.mcp_enabled else []),
                    "",
                    *(
                        [
                            "Create your account and organisation in the dashboard:",
                            f"  {base}/dashboard/signup",
                            "  (then Memory Passport → Create Passport agent, and API keys → Create API key)",
                        ]
                        if settings.signup_enabled
                        else [f"Sign-up is turned off: invited people join from their email; dashboard at {base}/dashboard"]
                    ),
                    "Or from a script:",
                    f"  curl -s -X POST {base}/v1/auth/signup -H 'Content-Type: application/json' \\",
                    "       -d '{\"email\":\"you@example.com\",\"password\":\"a long password\",\"organization_name\":\"Acme\"}'",
                    "  then an API key, with the access_token it returns:",
                    f"  curl -s -X POST {base}/v1/tenant/api-keys -H 'Authorization: Bearer ACCESS_TOKEN'",
                    "An operator account (verifies agents at /admin; it asks for a password):",
                    f"  {memoryos} admin create-operator --email ops@example.com{data_dir_flag(settings)}",
                    f"Start here: {base}/  (the README has a five-minute quick start)",
                    "",
                ]
            )
        )
