"""The MCP server: three tools over one agent's view of one passport user's memory.

- ``get_context``: what the user shared with this agent, ready to put in a prompt;
- ``add_memory``: remember something from the conversation (needs a read-write grant);
- ``create_consent_url``: where to send the user to grant (or change) access.

The server is a client of a running MemoryOS (local or remote), like any agent backend: it
calls the agent side of the API through our SDK's ``AsyncUniversalMemory`` with an agent key
and one UUI, and never touches a database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel, Field

from memoryos import APIConnectionError, MemoryOSError
from memoryos.universal import AsyncUniversalMemory
from memoryos_server.api.schemas.common import StorableStr
from memoryos_server.engine.types import Category

T = TypeVar("T")

INSTRUCTIONS = (
    "MemoryOS Memory Passport: memory the user chose to share with this agent. Call get_context "
    "before answering to personalise the reply; call add_memory when the user states a lasting "
    "preference, fact, goal, procedure, relationship or expertise. If get_context reports a "
    "permission_status, offer the user the link from create_consent_url."
)


@dataclass(frozen=True)
class AgentConfig:
    api_url: str
    agent_api_key: str
    uui_token: str | None = None
    consent_base_url: str | None = None
    agent_id: str | None = None
    timeout_seconds: float = 30.0

    @property
    def resolved_consent_base_url(self) -> str:
        return (self.consent_base_url or self.api_url).rstrip("/")


class Message(BaseModel):
    role: Literal["user", "assistant", "system"] = "user"
    # No NUL or unpaired surrogate, as at every other door (memoryos_server/storable.py).
    content: StorableStr = Field(min_length=1, max_length=16_000)


def build_server(config: AgentConfig) -> MCPServer:
    # WARNING: stdout is the protocol channel and stderr the host's log; keep the noise down.
    server: MCPServer = MCPServer(name="memoryos", instructions=INSTRUCTIONS, version="0.1.0", log_level="WARNING")

    async def call(use: Callable[[AsyncUniversalMemory], Awaitable[T]]) -> T:
        """One API call with a fresh client, its failure turned into a tool error a model can read."""
        if not config.uui_token:
            raise ToolError(
                "no passport user configured: set MEMORYOS_UUI_TOKEN (or --uui-token) to the UUI this agent "
                "received through the consent exchange"
            )
        try:
            async with AsyncUniversalMemory(
                agent_api_key=config.agent_api_key,
                uui_token=config.uui_token,
                base_url=config.api_url,
                timeout=config.timeout_seconds,
            ) as memory:
                return await use(memory)
        except APIConnectionError as exc:
            raise ToolError(f"MemoryOS at {config.api_url} did not answer ({type(exc).__name__})") from exc
        except MemoryOSError as exc:
            raise ToolError(
                f"MemoryOS refused the call: {exc.error or 'request_failed'} ({exc.code or exc.status_code})"
            ) from exc

    @server.tool(
        name="get_context",
        description="Memories the user shared with this agent that are relevant to a query, "
        "and a block of text to add to the system prompt.",
    )
    async def get_context(query: str, limit: int = 5) -> dict[str, Any]:
        result = await call(lambda memory: memory.get(query=query, limit=max(1, min(limit, 50))))
        return {
            "system_prompt_addition": result.system_prompt_addition,
            "memories": [
                {
                    "id": m.id,
                    "content": m.content,
                    "category": m.category,
                    "relevance": m.relevance_score,
                    # The user's own marks: check with them before relying on such a memory.
                    "disputed": m.disputed,
                    "unconfirmed": m.unconfirmed,
                }
                for m in result.items
            ],
            "permission_status": result.permission_status,
            "categories_available": result.categories_available,
        }

    @server.tool(
        name="add_memory",
        description="Remember what the user said (lasting preferences, facts, goals…). Only the "
        "categories the user granted for writing are kept.",
    )
    async def add_memory(messages: list[Message]) -> dict[str, Any]:
        result = await call(
            lambda memory: memory.add(messages=[m.model_dump() for m in messages], metadata={"source": "mcp"})
        )
        return {
            "status": result.status,
            "job_id": result.job_id,
            "nothing_to_extract": result.nothing_to_extract,
            "stored": [{"id": r.id, "event": r.event, "memory": r.memory, "category": r.category} for r in result.results],
            "skipped": result.skipped,
        }

    @server.tool(
        name="create_consent_url",
        description="A link where the user can let this agent use (or stop using) their memory, "
        "category by category.",
    )
    async def create_consent_url(
        categories: list[Category] | None = None, state: str | None = None, redirect_uri: str | None = None
    ) -> dict[str, Any]:
        agent_id = config.agent_id or await _agent_id_from_grant()
        url = AsyncUniversalMemory.consent_url(
            agent_id,
            redirect_uri=redirect_uri,
            state=state,
            categories=list(categories or []),
            base_url=config.resolved_consent_base_url,
        )
        return {"consent_url": url}

    async def _agent_id_from_grant() -> str:
        """The configured agent id, else the one this agent's grant names."""
        grant = await call(lambda memory: memory.grant()) if config.uui_token else None
        if grant is None or not grant.agent_id:
            raise ToolError("set MEMORYOS_AGENT_ID (or --agent-id) to build consent URLs")
        return grant.agent_id

    return server


def run_stdio(config: AgentConfig) -> None:
    build_server(config).run("stdio")
