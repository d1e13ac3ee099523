"""memoryos serve | migrate | admin …"""

from __future__ import annotations

from typing import Annotated

import typer

from memoryos_server.cli.admin import admin_app
from memoryos_server.cli.options import DataDirOpt, settings_with

app = typer.Typer(
    name="memoryos",
    help="MemoryOS: a self-hostable memory layer for AI agents, with Memory Passport.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(admin_app, name="admin")

HostOpt = Annotated[str | None, typer.Option("--host", help="Interface to listen on [env MEMORYOS_HOST; 127.0.0.1]")]
PortOpt = Annotated[int | None, typer.Option("--port", help="Port [env MEMORYOS_PORT; 8080]")]


@app.command()
def serve(
    host: HostOpt = None,
    port: PortOpt = None,
    data_dir: DataDirOpt = None,
    workers: Annotated[int, typer.Option(help="Worker processes (PostgreSQL only) [env MEMORYOS_WORKERS]", envvar="MEMORYOS_WORKERS")] = 1,
) -> None:
    """Run the API, the consent app and the dashboard. Migrates the database first."""
    import logging.config

    import uvicorn

    from memoryos_server.cli.firstrun import prepare_and_greet
    from memoryos_server.cli.logs import logging_config

    settings = settings_with(host=host, port=port, data_dir=data_dir)
    log_config = logging_config(settings)
    logging.config.dictConfig(log_config)
    if workers > 1 and settings.is_sqlite:
        logging.getLogger("memoryos.cli").warning("More than one worker needs PostgreSQL (MEMORYOS_DATABASE_URL); running one.")
        workers = 1
    prepare_and_greet(settings)
    uvicorn.run(
        "memoryos_server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        log_config=log_config,  # applied again in each worker process
        access_log=False,  # the request-context middleware logs requests, without query values
        # X-Forwarded-* only from the proxies named in MEMORYOS_TRUSTED_PROXIES (none by
        # default): uvicorn's own default would believe any process on this machine.
        proxy_headers=bool(settings.trusted_proxy_list),
        forwarded_allow_ips=",".join(settings.trusted_proxy_list) or None,
    )


@app.command()
def migrate(data_dir: DataDirOpt = None) -> None:
    """Apply database migrations and exit."""
    from memoryos_server.crypto import load_or_create_master_key
    from memoryos_server.storage.db import Database
    from memoryos_server.storage.migrate import current_revision, upgrade

    settings = settings_with(data_dir=data_dir)
    # The key the server uses (a migration may seal existing values with it).
    master = load_or_create_master_key(settings.master_key.get_secret_value() if settings.master_key else None, settings.data_dir)
    database = Database(settings.resolved_database_url)
    upgrade(database, master_key=master.key)
    typer.echo(f"Database at revision {current_revision(database)} ({database.dialect}).")
    database.dispose()


@app.command()
def mcp(
    agent_api_key: Annotated[
        str, typer.Option("--agent-api-key", envvar="MEMORYOS_AGENT_API_KEY", help="The agent's agent_sk_… key")
    ],
    uui_token: Annotated[
        str | None,
        typer.Option("--uui-token", envvar="MEMORYOS_UUI_TOKEN", help="The passport user's uui_… token for this agent"),
    ] = None,
    api_url: Annotated[
        str | None, typer.Option("--api-url", envvar="MEMORYOS_API_URL", help="MemoryOS API base URL [local server]")
    ] = None,
    consent_base_url: Annotated[
        str | None,
        typer.Option("--consent-base-url", envvar="MEMORYOS_CONSENT_BASE_URL", help="Consent app base URL [the API URL]"),
    ] = None,
    agent_id: Annotated[
        str | None, typer.Option("--agent-id", envvar="MEMORYOS_AGENT_ID", help="The agent's public id, for consent URLs")
    ] = None,
) -> None:
    """Serve one agent's universal memory as Model Context Protocol tools over stdio."""
    from memoryos_server.mcp.server import AgentConfig
    from memoryos_server.mcp.server import run_stdio

    base = api_url or settings_with().resolved_public_url
    run_stdio(
        AgentConfig(
            api_url=base,
            agent_api_key=agent_api_key,
            uui_token=uui_token,
            consent_base_url=consent_base_url,
            agent_id=agent_id,
        )
    )
