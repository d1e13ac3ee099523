"""``/mcp``: the Memory Passport as a remote MCP server (Streamable HTTP), beside the API.

Any MCP client can connect with the person's consent: the endpoint is an OAuth 2.1 protected
resource (docs/mcp.md). Without a valid access token it answers ``401`` with
``WWW-Authenticate: Bearer resource_metadata="…"``, which sends a client through discovery,
registration and ``/authorize`` (the consent screen). With one, the official ``mcp`` SDK serves
four tools:

- ``get_context``: memories relevant to a query, and a block for the system prompt;
- ``add_memory``: remember what the person said (read-and-write grants only);
- ``list_memories``: what the client may read, a page at a time;
- ``my_access``: what this client may read and write, and until when.

The SDK runs statelessly (no session kept between requests, so any worker can answer any
request) and answers in JSON. Every tool call checks the token and the grant again, in its own
transaction (``McpMemoryAccess``), in a worker thread: the database is not touched from the event
loop. The SDK's DNS-rebinding check is off: it guards servers that trust whoever can reach them,
and this one trusts only a bearer token that no browser attaches by itself.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import anyio
from mcp.server.auth.middleware.auth_context import auth_context_var, get_access_token
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from mcp_types import ToolAnnotations
from pydantic import Field
from starlette.authentication import AuthCredentials
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from memoryos_server.api.schemas.common import StorableStr
from memoryos_server.engine.types import Category, ChatMessage
from memoryos_server.errors import BadRequest, MemoryOSError, ServiceUnavailable, ValidationFailed, WriteNotPermitted
from memoryos_server.mcp.server import Message
from memoryos_server.services.container import Services
from memoryos_server.services.passport.mcp_auth.memory_access import AccessEnded
from memoryos_server.services.passport.mcp_auth.scopes import DEFAULT_CHALLENGE_SCOPE, scope_string

T = TypeVar("T")

INSTRUCTIONS = (
    "MemoryOS Memory Passport: memory the person chose to share with this app, category by category. "
    "Call get_context before answering to personalise the reply; call add_memory when the person states "
    "a lasting preference, fact, goal, procedure, relationship or expertise (if they allowed writing); "
    "my_access tells what this app may read and write."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
ADDS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=False)


def build_remote_server(services: Services) -> MCPServer:
    server: MCPServer = MCPServer(name="memoryos-passport", instructions=INSTRUCTIONS, version="0.1.0", log_level="WARNING")
    access = services.mcp_memory
    manage_url = f"{services.runtime.settings.resolved_consent_base_url}/manage/agents"

    async def as_client(work: Callable[[str], T]) -> T:
        """One call for the token this request presented, in a worker thread; what the person's
        grant refuses becomes a tool error a model can read and pass on."""
        token = get_access_token()
        if token is None:  # the gate lets no request through without one
            raise ToolError("no access token")
        try:
            return await anyio.to_thread.run_sync(work, token.token)
        except AccessEnded as exc:
            raise ToolError(f"{exc}. The person can approve this app again from the app.") from exc
        except WriteNotPermitted as exc:
            raise ToolError(
                "The person gave this app read-only access: it cannot add memories. "
                f"They can change that in their permission center ({manage_url})."
            ) from exc
        except (BadRequest, ValidationFailed) as exc:
            raise ToolError(str(exc)) from exc
        except ServiceUnavailable as exc:
            raise ToolError(f"MemoryOS cannot do that right now: {exc}") from exc
        except MemoryOSError as exc:
            raise ToolError(f"MemoryOS refused the call: {exc}") from exc

    @server.tool(
        name="get_context",
        description="Memories the person shared with this app that are relevant to a query, and a block of text "
        "to add to the system prompt. Only the categories the person granted are searched.",
        annotations=READ_ONLY,
    )
    async def get_context(
        query: Annotated[StorableStr, Field(min_length=1, max_length=2000)],
        limit: Annotated[int, Field(ge=1, le=50)] = 5,
        categories: list[Category] | None = None,
    ) -> dict[str, Any]:
        outcome = await as_client(lambda raw: access.get_context(raw, query=query, limit=limit, categories=categories))
        return {
            "system_prompt_addition": outcome.system_prompt_addition,
            "memories": [
                {
                    "id": m.id,
                    "content": m.content,
                    "category": m.category,
                    "relevance": round(m.relevance, 4),
                    # The person's own marks: check with them before relying on such a memory.
                    "disputed": m.disputed,
                    "unconfirmed": m.unconfirmed,
                }
                for m in outcome.memories
            ],
            "permission_status": outcome.permission_error,
            "categories_available": outcome.categories_available,
        }

    @server.tool(
        name="add_memory",
        description="Remember what the person said: lasting preferences, facts, goals, procedures, relationships, "
        "expertise. Needs read-and-write access; only the categories the person granted are kept.",
        annotations=ADDS,
    )
    async def add_memory(messages: Annotated[list[Message], Field(min_length=1, max_length=64)]) -> dict[str, Any]:
        chat = [ChatMessage(role=m.role, content=m.content) for m in messages]
        outcome = await as_client(lambda raw: access.add_memory(raw, messages=chat))
        return {
            "status": outcome.status,
            "job_id": outcome.job_id,
            "nothing_to_extract": outcome.nothing_to_extract,
            "stored": [r.as_dict() for r in outcome.results],
            "skipped": outcome.skipped,
        }

    @server.tool(
        name="list_memories",
        description="The memories this app may read, newest first, a page at a time (pass next_cursor back for more).",
        annotations=READ_ONLY,
    )
    async def list_memories(
        category: Category | None = None,
        cursor: Annotated[StorableStr | None, Field(max_length=200)] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
    ) -> dict[str, Any]:
        page = await as_client(lambda raw: access.list_memories(raw, category=category, cursor=cursor, limit=limit))
        return {
            "memories": [
                {
                    "id": m.id,
                    "content": m.content,
                    "category": m.category,
                    "created_at": m.created_at.isoformat(),
                    "disputed": m.disputed,
                    "unconfirmed": m.unconfirmed,
                }
                for m in page.items
            ],
            "next_cursor": page.next_cursor,
            "total": page.total,
        }

    @server.tool(
        name="my_access",
        description="What this app may read and write in the person's Memory Passport, and until when.",
        annotations=READ_ONLY,
    )
    async def my_access() -> dict[str, Any]:
        summary = await as_client(access.my_access)
        return {
            "app": summary.client_name,
            "can_read": summary.can_read,
            "can_write": summary.can_write,
            "access_type": summary.access_type,
            "scope": scope_string(summary.can_read, summary.access_type),
            "until": summary.grant_expires_at.isoformat() if summary.grant_expires_at else None,
            "given_at": summary.given_at.isoformat(),
            "token_expires_at": summary.token_expires_at.isoformat(),
            "person_id": summary.person_id,
            "manage_url": manage_url,
        }

    return server


class RemoteMcp:
    """The ``/mcp`` endpoint: the OAuth gate in front of the SDK's Streamable HTTP transport."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.server = build_remote_server(services)
        self._manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """For the app's lifespan: a fresh session manager each time the app starts."""
        self.server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            max_request_body_size=self.services.runtime.settings.max_body_bytes,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        manager = self.server.session_manager
        async with manager.run():
            self._manager = manager
            try:
                yield
            finally:
                self._manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw = _bearer(Headers(scope=scope).get("authorization"))
        auth = self.services.mcp_auth
        caller = await anyio.to_thread.run_sync(auth.verify, raw) if raw else None
        manager = self._manager
        if caller is None or manager is None:
            await self._challenge(send, presented=raw is not None)
            return
        scopes = scope_string(caller.grant.categories, caller.grant.access_type).split()
        user = AuthenticatedUser(
            AccessToken(
                token=raw or "",
                client_id=caller.client.client_id,
                scopes=scopes,
                expires_at=int(caller.token_expires_at.timestamp()),
                resource=caller.family.resource,
            )
        )
        scope["user"], scope["auth"] = user, AuthCredentials(scopes)
        bound = auth_context_var.set(user)
        try:
            await manager.handle_request(scope, receive, send)
        finally:
            auth_context_var.reset(bound)

    async def _challenge(self, send: Send, *, presented: bool) -> None:
        """401 with where to find out how to get a token (RFC 9728 §5.1) and what to ask for."""
        auth = self.services.mcp_auth
        parts = [f'resource_metadata="{auth.resource_metadata_url}"', f'scope="{DEFAULT_CHALLENGE_SCOPE}"']
        error = {"error": "invalid_token", "error_description": "the access token is missing, expired or revoked"}
        if presented:
            parts = ['error="invalid_token"', *parts]
        body = json.dumps(error).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", ("Bearer " + ", ".join(parts)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _bearer(header: str | None) -> str | None:
    scheme, _, value = (header or "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
