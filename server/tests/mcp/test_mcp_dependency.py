"""The declared `mcp` requirement admits only releases that have the API the server imports."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def _mcp_requirement() -> Requirement:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    (requirement,) = [Requirement(d) for d in dependencies if Requirement(d).name == "mcp"]
    return requirement


def test_the_pin_excludes_the_1x_line_that_has_no_mcpserver_module() -> None:
    specifier = _mcp_requirement().specifier
    # mcp.server.mcpserver (MCPServer) appeared in 2.0; 1.x only has mcp.server.fastmcp.
    assert not specifier.contains(Version("1.26.0"))
    assert specifier.contains(Version("2.0.0"))
    assert not specifier.contains(Version("3.0.0"))


def test_the_installed_release_satisfies_the_pin_and_has_what_the_server_imports() -> None:
    installed = importlib.metadata.version("mcp")
    assert _mcp_requirement().specifier.contains(Version(installed)), installed

    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    assert callable(MCPServer.tool) and issubclass(ToolError, Exception)
