"""The ``memoryos`` command: a Typer root with a sub-app per noun."""

from __future__ import annotations

from memoryos_server.cli.root import app


def main() -> None:
    app()


__all__ = ["app", "main"]
