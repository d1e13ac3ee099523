"""Who is calling, on whose memories, with what rights: one value, resolved at the edge.

Every caller of the memory service — a tenant's backend acting for an end-user, a member on
the workspace, an agent holding a passport grant, a passport user on their own memories — is
turned into a ``MemoryScope`` once per request (``services/tenant_scopes.py``, ``services/passport/scopes.py``), and the memory service
applies it: the owner every query is filtered by, the categories the caller may read and write,
whether it may write at all, the actor written into versions, and the audit sink that records
what the caller read and wrote. Nothing below the scope asks who the caller is again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from memoryos_server.services.memory.owner import ConflictKind, MemoryOwner
from memoryos_server.storage.index.filters import mask_outside

if TYPE_CHECKING:
    from memoryos_server.services.memory.types import AddOutcome, AnswerOutcome, MemoryView, Page, RetrieveOutcome


class MemoryAudit(Protocol):
    """Where a scope's reads, writes and changes are recorded (the passport user's activity)."""

    def read(self, session: Session, scope: MemoryScope, outcome: RetrieveOutcome, *, requested: Sequence[str] | None) -> None: ...

    def wrote(self, session: Session, scope: MemoryScope, outcome: AddOutcome) -> None: ...

    def changed(self, session: Session, scope: MemoryScope, action: str, view: MemoryView) -> None: ...

    def answered(self, session: Session, scope: MemoryScope, outcome: AnswerOutcome) -> None: ...

    def listed(self, session: Session, scope: MemoryScope, page: Page, *, requested: Sequence[str] | None) -> None: ...


class NoAudit:
    """Tenant callers: the tenant's own systems keep their logs; versions name the actor."""

    def read(self, session: Session, scope: MemoryScope, outcome: RetrieveOutcome, *, requested: Sequence[str] | None) -> None:
        return None

    def wrote(self, session: Session, scope: MemoryScope, outcome: AddOutcome) -> None:
        return None

    def changed(self, session: Session, scope: MemoryScope, action: str, view: MemoryView) -> None:
        return None

    def answered(self, session: Session, scope: MemoryScope, outcome: AnswerOutcome) -> None:
        return None

    def listed(self, session: Session, scope: MemoryScope, page: Page, *, requested: Sequence[str] | None) -> None:
        return None


NO_AUDIT = NoAudit()


@dataclass(frozen=True)
class MemoryScope:
    """The memories a request may touch, and how.

    - ``owner``: whose memories; None for a reader whose end-user was never seen (reads find
      nothing, nothing is created) and for tenant-wide calls (job status, delete by id).
    - ``tenant_wide``: a tenant's backend that named no end-user, where a route allows it:
      job status, and deleting one of the tenant's end-user memories by id alone (what the
      published SDK does); narrowed to that memory's owner before anything is deleted.
    - ``tenant_id``: the organisation acted in (an agent's owning tenant for passport owners).
    - ``categories``: the only categories read or written (a passport grant); None: all six.
    - ``can_write``: adds and edits allowed (a read-only grant may only read).
    - ``refusal``: why this caller gets nothing at all (``no_grant_for_user``,
      ``grant_revoked``, ``grant_expired``); reads answer empty with it, writes are refused.
    - ``for_agent``: reads serve an agent on a person's behalf: the prompt block says it was
      shared with consent, and memories the person flagged are withheld.
    - ``conflicts``: where a contradiction goes — a ``clarification`` the agent asks the
      end-user, a workspace ``review`` for the tenant, a passport user's Pending ``question``.
    - ``asks_clarifications``: retrieve returns the owner's open clarification, so the agent
      can ask the end-user (tenant end-users).
    - ``caller``: the idempotency namespace (a tenant's backend whichever key it uses; one agent).
    - ``actor``: written into every version (``api_key:key_…``, ``agent:…``, ``passport_user:…``).
    - ``api_key_id``, ``agent_id``, ``source``: provenance stamped on what this caller writes.
    """

    owner: MemoryOwner | None
    actor: str
    caller: str
    conflicts: ConflictKind = "clarification"
    tenant_wide: bool = False
    tenant_id: int | None = None
    categories: tuple[str, ...] | None = None
    can_write: bool = True
    refusal: str | None = None
    for_agent: bool = False
    asks_clarifications: bool = False
    api_key_id: int | None = None
    agent_id: str | None = None
    source: dict[str, Any] | None = None
    audit: MemoryAudit = NO_AUDIT

    @classmethod
    def for_owner(cls, owner: MemoryOwner, *, actor: str) -> MemoryScope:
        """Every right on one owner's memories, recorded nowhere but in versions: for trusted
        callers inside the process (tests, benchmarks, maintenance), never for a request."""
        return cls(
            owner=owner,
            actor=actor,
            caller=actor,
            conflicts=owner.conflict_kind,
            tenant_id=owner.tenant_id,
            asks_clarifications=owner.conflict_kind == "clarification",
        )

    def narrow(self, requested: Sequence[str] | None) -> list[str] | None:
        """The categories a read searches: the caller's, narrowed to ``requested`` when given.
        None means all six; an empty list means none (the caller asked only for categories it
        may not read)."""
        if self.categories is None:
            return list(requested) if requested else None
        return [c for c in self.categories if not requested or c in requested]

    def admits(self, category: str) -> bool:
        return self.categories is None or category in self.categories

    def shows(self, row: Any) -> bool:
        """Whether this reader may see one memory row now, as its searches would: not deleted,
        filed under one of its categories with its doubt within them too, and for an agent not
        flagged by the person; nothing at all for a refused reader (revoked, expired)."""
        if self.refusal is not None or row.status == "deleted" or (self.for_agent and row.flagged):
            return False
        return self.admits(row.category) and not (row.doubt_mask or 0) & mask_outside(self.categories)
