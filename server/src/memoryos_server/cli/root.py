"""memoryos serve | migrate | admin …"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memoryos_server.cli.admin import admin_app
from memoryos_server.cli.options import settings_with

app = typer.Typer(
    name="memoryos",
    help="MemoryOS: a self-hostable memory layer for AI agents, with Memory Passport.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(admin_app, name="admin")

HostOpt = Annotated[str | None, typer.Option("--host", help="Interface to listen on [env MEMORYOS_HOST; 127.0.0.1]")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Port [env MEMORYOS_PORT; 8080]")]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory for SQLite and the key file [env MEMORYOS_DATA_DIR; ./.memoryos]")
]


@app.command()
def serve(
    host: HostOpt = None,
    port: PortOpt = None,
    data_dir: DataDirOpt = None,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only) [env MEMORYOS_WORKERS]", envvar="MEMORYOS_WORKERS")] = 1,
) -> None:
    """Run the API, the consent app and the dashboard. Migrates the database first."""
    import uvicorn

    from memoryos_server.cli.firstrun import prepare_and_greet

    settings = settings_with(host=host, port=port, data_dir=data_dir)
    if workers > 1 and settings.is_sqlite:
        typer.secho("More than one worker needs PostgreSQL (MEMORYOS_DATABASE_URL); running one.", fg="yellow")
        workers = 1
    prepare_and_greet(settings)
    uvicorn.run(
        "memoryos_server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


@app.command()
def migrate(data_dir: DataDirOpt = None) -> None:
    """Apply database migrations and exit."""
    from memoryos_server.storage.db import Database
    from memoryos_server.storage.migrate import current_revision, upgrade

    settings = settings_with(data_dir=data_dir)
    database = Database(settings.resolved_database_url)
    upgrade(database)
    typer.echo(f"Database at revision {current_revision(database)} ({database.dialect}).")
    database.dispose()
