"""The ``memoryos`` command: a Typer root with a sub-app per noun."""

from __future__ import annotations

import sys

from memoryos_server.cli.root import app
from memoryos_server.errors import DatabaseNotReady


def main() -> None:
    """The command; a database that lacks what the schema needs is one line and exit code 1
    (what is missing and how to install it), not a traceback."""
    try:
        app()
    except DatabaseNotReady as exc:
        print(f"memoryos: {exc}", file=sys.stderr)
        sys.exit(1)


__all__ = ["app", "main"]
