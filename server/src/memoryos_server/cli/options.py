"""Turning command-line flags into the one Settings object."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from memoryos_server.settings import Settings, get_settings

DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory for SQLite and the key file [env MEMORYOS_DATA_DIR; ./.memoryos]")
]


def settings_with(**flags: object) -> Settings:
    """Flags given on the command line win over MEMORYOS_* variables; the rest come from the environment."""
    given = {name: value for name, value in flags.items() if value is not None}
    if "data_dir" in given:
        given["data_dir"] = Path(str(given["data_dir"]))
    for name, value in given.items():
        os.environ[f"MEMORYOS_{name.upper()}"] = str(value)  # so worker processes see the same choice
    get_settings.cache_clear()
    return get_settings()
