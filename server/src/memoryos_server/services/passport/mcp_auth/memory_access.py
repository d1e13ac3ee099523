"""What an MCP client's tools do, each in one transaction of its own that checks the token and
the grant again first: a call after the grant was revoked, expired or the passport deleted finds
nothing to act for, and a call after the person changed the grant's categories sees the new ones.

The memory service does the work with the client's scope (``PassportScopes.mcp_client``: an
agent's scope within its grant), so flags, the rule for doubt and the audit the person reads in
their activity apply as for any agent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy.orm import Session

from memoryos_server.engine.types import ChatMessage
from memoryos_server.errors import MemoryOSError
from memoryos_server.services.memory import MemoryService
from memoryos_server.services.memory.query_vectors import PendingVector, mcp_asker
from memoryos_server.services.memory.scope import MemoryScope
from memoryos_server.services.memory.types import AddOutcome, Page, RetrieveOutcome
from memoryos_server.services.passport.mcp_auth.authorization import McpAuthorizationServer, McpCaller
from memoryos_server.services.passport.scopes import PassportScopes
from memoryos_server.services.runtime import Runtime

T = TypeVar("T")


class AccessEnded(MemoryOSError):
    """The token no longer stands for an active grant (revoked, expired, passport deleted)."""

    error = "access_ended"


@dataclass(frozen=True)
class AccessSummary:
    client_name: str
    can_read: list[str]
    can_write: list[str]
    access_type: str
    grant_expires_at: datetime | None
    given_at: datetime
    token_expires_at: datetime
    person_id: str  # the pairwise identifier this client knows the person by


class McpMemoryAccess:
    def __init__(self, runtime: Runtime, *, server: McpAuthorizationServer, scopes: PassportScopes, memory: MemoryService) -> None:
        self.rt = runtime
        self.server = server
        self.scopes = scopes
        self.memory = memory

    def get_context(self, raw_token: str, *, query: str, limit: int, categories: Sequence[str] | None) -> RetrieveOutcome:
        def work(session: Session, caller: McpCaller, scope: MemoryScope) -> RetrieveOutcome:
            # Embedded only if the search gets that far; remembered for this client and person.
            asker = mcp_asker(caller.agent.id, caller.user.public_id)
            vector = PendingVector(compute=lambda: self.memory.query_vectors.now(asker, query))
            return self.memory.retrieve(
                session, scope, query=query, limit=limit, categories=list(categories) if categories else None, query_vector=vector
            )

        return self._as_client(raw_token, work)

    def add_memory(self, raw_token: str, *, messages: Sequence[ChatMessage]) -> AddOutcome:
        return self._as_client(
            raw_token,
            lambda session, caller, scope: self.memory.add(
                session, scope, messages=list(messages), metadata={"source": "mcp", "client": caller.agent.name}
            ),
            holds=True,
        )

    def list_memories(self, raw_token: str, *, category: str | None, cursor: str | None, limit: int) -> Page:
        return self._as_client(
            raw_token,
            lambda session, _caller, scope: self.memory.list(
                session, scope, categories=[category] if category else None, cursor=cursor, limit=limit
            ),
        )

    def my_access(self, raw_token: str) -> AccessSummary:
        def work(session: Session, caller: McpCaller, scope: MemoryScope) -> AccessSummary:
            readable = list(scope.categories or ())
            grant = caller.grant
            return AccessSummary(
                client_name=caller.agent.name,
                can_read=readable,
                can_write=readable if scope.can_write else [],
                access_type="read_write" if scope.can_write else "read_only",
                grant_expires_at=grant.expires_at,
                given_at=grant.updated_at or grant.created_at,
                token_expires_at=caller.token_expires_at,
                person_id=self.scopes.access.pairwise.token(caller.user, caller.agent.id),
            )

        return self._as_client(raw_token, work, write=False)

    def _as_client(
        self, raw_token: str, work: Callable[[Session, McpCaller, MemoryScope], T], *, write: bool = True, holds: bool = False
    ) -> T:
        """``holds``: a write, for which the grant is held as read until the transaction ends."""
        with self.rt.db.session(write=write) as session:
            caller = self.server.authenticate(session, raw_token)
            if caller is None:
                raise AccessEnded("this app's access to the Memory Passport has ended (revoked, expired or deleted)")
            scope = self.scopes.mcp_client(session, caller.agent, caller.user, limit=caller.limit, writes=holds)
            return work(session, caller, scope)
