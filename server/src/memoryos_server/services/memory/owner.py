"""Whose memories a call works on: the owner row, its family and scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from memoryos_server.storage.index import SearchFilter
from memoryos_server.storage.repositories.memories import TENANT, UNIVERSAL, MemoryFamily

Scope = Literal["tenant", "workspace", "universal"]
ConflictKind = Literal["clarification", "review", "question"]


@dataclass(frozen=True)
class MemoryOwner:
    """An owner row (``public_id`` + ``wrapped_key``) and where its memories live.

    - ``end_user(user)``: a tenant's end-user (or a dashboard human's own memories).
    - ``workspace(user)``: a tenant's workspace owner row.
    - ``universal(universal_user)``: a passport user; ``source_tenant_id`` is the tenant of the
      agent writing, kept for the user's activity view.
    """

    family: MemoryFamily
    row: Any  # User | UniversalUser
    scope: Scope
    tenant_id: int | None = None

    @classmethod
    def end_user(cls, user: Any, *, tenant_id: int | None = None) -> MemoryOwner:
        """``tenant_id``: the tenant acted in (a dashboard human may belong to several)."""
        return cls(TENANT, user, "tenant", tenant_id if tenant_id is not None else user.tenant_id)

    @classmethod
    def workspace(cls, user: Any) -> MemoryOwner:
        return cls(TENANT, user, "workspace", user.tenant_id)

    @classmethod
    def universal(cls, universal_user: Any, *, source_tenant_id: int | None = None) -> MemoryOwner:
        return cls(UNIVERSAL, universal_user, "universal", source_tenant_id)

    @property
    def id(self) -> int:
        return int(self.row.id)

    @property
    def key_label(self) -> str:
        return str(self.row.public_id)

    @property
    def is_tenant_family(self) -> bool:
        return self.family is TENANT

    @property
    def conflict_kind(self) -> ConflictKind:
        if self.scope == "workspace":
            return "review"
        if self.scope == "universal":
            return "question"
        return "clarification"

    def search_filter(
        self,
        *,
        categories: list[str] | tuple[str, ...] | None = None,
        created_since: datetime | None = None,
        as_of: datetime | None = None,
        include_flagged: bool = False,
        doubt_within: Sequence[str] | None = None,
    ) -> SearchFilter:
        """``categories`` limit what is read the way a grant does: a memory the engine was
        unsure of comes back only when all its plausible categories are among them
        (``SearchFilter``); ``doubt_within`` sets that second set apart."""
        return SearchFilter.for_owner(
            self.id,
            self.key_label,
            categories=categories,
            created_since=created_since,
            as_of=as_of,
            scope=self.scope if self.is_tenant_family else None,
            include_flagged=include_flagged,
            doubt_within=doubt_within,
        )

    def conflict_where(self) -> dict[str, Any]:
        """Extra columns that narrow this owner's conflict rows (tenant rows carry a kind)."""
        if self.is_tenant_family:
            return {"kind": self.conflict_kind}
        return {}


def job_family(owner: MemoryOwner) -> str:
    return "tenant" if owner.family is TENANT else "universal"


def family_named(name: str) -> MemoryFamily:
    return TENANT if name == "tenant" else UNIVERSAL
