"""memoryos admin …: operator tasks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from memoryos_server.cli.options import DataDirOpt, settings_with

admin_app = typer.Typer(help="Operator tasks.", no_args_is_help=True)


def runtime_for_cli(data_dir: Path | None = None):  # type: ignore[no-untyped-def]
    """A runtime on the configured database (the server's: same --data-dir or
    MEMORYOS_DATABASE_URL), migrated, for one command."""
    from memoryos_server.services.runtime import build_runtime
    from memoryos_server.storage.migrate import upgrade

    runtime = build_runtime(settings_with(data_dir=data_dir))
    upgrade(runtime.db, master_key=runtime.master.key)
    return runtime


@admin_app.command("create-operator")
def create_operator(
    email: Annotated[str, typer.Option(help="The operator's email (their login)")],
    password: Annotated[str, typer.Option(help="Initial password (asked for when not given)", prompt=True, hide_input=True)],
    data_dir: DataDirOpt = None,
) -> None:
    """Create a platform operator account (can verify agents at /admin and /v1/admin/*)."""
    from memoryos_server.errors import AlreadyExists
    from memoryos_server.services.container import build_services

    if len(password) < 8:
        raise typer.BadParameter("the password needs at least 8 characters")
    runtime = runtime_for_cli(data_dir)
    try:
        with runtime.db.session() as session:
            user = build_services(runtime).identity.create_dashboard_user(
                session, email=email, password=password, tenant=None, platform_role="admin"
            )
            public_id = user.public_id
    except AlreadyExists as exc:
        raise typer.BadParameter(str(exc)) from exc
    finally:
        runtime.close()
    typer.echo(f"Operator {email} created ({public_id}). Sign in with POST /v1/auth/login.")


@admin_app.command("verify-agent")
def verify_agent(
    agent_id: Annotated[str, typer.Argument(help="The agent's public id (a UUID)")],
    reject: Annotated[bool, typer.Option("--reject", help="Reject the agent instead of verifying it")] = False,
    note: Annotated[str | None, typer.Option(help="A note for the agent's owner")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Verify (or --reject) a pending Memory Passport agent, as an operator would at /admin."""
    from memoryos_server.errors import AgentNotFound
    from memoryos_server.services.container import build_services

    decision = "rejected" if reject else "verified"
    runtime = runtime_for_cli(data_dir)
    try:
        with runtime.db.session() as session:
            agent = build_services(runtime).agents.set_verification(session, agent_id, decision, note, actor="cli")
            name = agent.name
    except AgentNotFound as exc:
        raise typer.BadParameter(f"no agent with id {agent_id}") from exc
    finally:
        runtime.close()
    typer.echo(f"Agent {name} ({agent_id}) is now {decision}.")
