"""Shared fixtures. Every test that touches storage runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

pytest_plugins = [
    "tests.fixtures.contract",
    "tests.fixtures.databases",
    "tests.fixtures.app",
    "tests.fixtures.factories",
    "tests.fixtures.published_sdk",
    "tests.fixtures.connectors",
]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    from tests.fixtures.databases import postgres_skip_banner

    banner = postgres_skip_banner()
    if banner:
        terminalreporter.write_line(banner, red=True, bold=True)
