"""The MCP server: three tools over one agent's view of one passport user's memory.

- ``get_context``: what the user shared with this agent, ready to put in a prompt;
- ``add_memory``: remember something from the conversation (needs a read-write grant);
- ``create_consent_url``: where to send the user to grant (or change) access.
"""

from __future__ import annotations

from typing import Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from memoryos_server.mcp.client import AgentClient, AgentConfig, MemoryOSCallFailed

Category = Literal["preference", "fact", "goal", "procedure", "relationship", "expertise"]

INSTRUCTIONS = (
    "MemoryOS Memory Passport: memory the user chose to share with this agent. Call get_context "
    "before answering to personalise the reply; call add_memory when the user states a lasting "
    "preference, fact, goal, procedure, relationship or expertise. If get_context reports a "
    "permission_status, offer the user the link from create_consent_url."
)


class Message(BaseModel):
    role: Literal["user", "assistant", "system"] = "user"
    content: str = Field(min_length=1, max_length=16_000)


def build_server(config: AgentConfig, *, client: AgentClient | None = None) -> MCPServer:
    api = client or AgentClient(config)
    # WARNING: stdout is the protocol channel and stderr the host's log; keep the noise down.
    server: MCPServer = MCPServer(name="memoryos", instructions=INSTRUCTIONS, version="0.1.0", log_level="WARNING")

    @server.tool(
        name="get_context",
        description="Memories the user shared with this agent that are relevant to a query, "
        "and a block of text to add to the system prompt.",
    )
    async def get_context(query: str, limit: int = 5) -> dict[str, Any]:
        body = await _guard(api.retrieve(query, limit=max(1, min(limit, 50))))
        return {
            "system_prompt_addition": body.get("system_prompt_addition", ""),
            "memories": [
                {
                    "id": m["id"],
                    "content": m["content"],
                    "category": m["category"],
                    "relevance": m.get("relevance_score"),
                    # The user's own marks: check with them before relying on such a memory.
                    "disputed": bool(m.get("disputed", False)),
                    "unconfirmed": bool(m.get("unconfirmed", False)),
                }
                for m in body.get("data", [])
            ],
            "permission_status": body.get("permission_error"),
            "categories_available": body.get("categories_available", []),
        }

    @server.tool(
        name="add_memory",
        description="Remember what the user said (lasting preferences, facts, goals…). Only the "
        "categories the user granted for writing are kept.",
    )
    async def add_memory(messages: list[Message]) -> dict[str, Any]:
        body = await _guard(api.add([m.model_dump() for m in messages], {"source": "mcp"}))
        return {
            "status": body.get("status"),
            "job_id": body.get("job_id"),
            "nothing_to_extract": body.get("nothing_to_extract", False),
            "stored": [
                {"id": r["id"], "event": r["event"], "memory": r["memory"], "category": r["category"]}
                for r in body.get("results", [])
            ],
            "skipped": body.get("skipped", 0),
        }

    @server.tool(
        name="create_consent_url",
        description="A link where the user can let this agent use (or stop using) their memory, "
        "category by category.",
    )
    async def create_consent_url(
        categories: list[Category] | None = None, state: str | None = None, redirect_uri: str | None = None
    ) -> dict[str, Any]:
        agent_id = await _guard(api.agent_id())
        return {"consent_url": api.consent_url(agent_id, categories=list(categories or []), state=state, redirect_uri=redirect_uri)}

    return server


async def _guard(call: Any) -> Any:
    try:
        return await call
    except MemoryOSCallFailed as exc:
        raise ToolError(str(exc)) from exc


def run_stdio(config: AgentConfig) -> None:
    build_server(config).run("stdio")
