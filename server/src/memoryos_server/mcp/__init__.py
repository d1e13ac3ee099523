"""``memoryos mcp``: one agent's universal memory as Model Context Protocol tools (stdio)."""

from memoryos_server.mcp.server import AgentConfig
from memoryos_server.mcp.server import build_server

__all__ = ["AgentConfig", "build_server"]
