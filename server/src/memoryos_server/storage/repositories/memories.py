"""Memory rows of one family (tenant or universal), always filtered by owner."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, func, or_, select, text
from sqlalchemy.orm import defer

from memoryos_server.storage.models import (
    IdempotencyRecord,
    Job,
    SourceEvent,
    TenantConflict,
    TenantMemory,
    TenantMemoryIndexStats,
    TenantMemoryRead,
    TenantMemoryTerm,
    TenantMemoryVersion,
    UniversalMemory,
    UniversalMemoryIndexStats,
    UniversalMemoryRead,
    UniversalMemoryTerm,
    UniversalMemoryVersion,
    UniversalQuestion,
)
from memoryos_server.storage.db import after_commit
from memoryos_server.storage.index.base import by_key_of, one_of, one_of_param
from memoryos_server.storage.index.state import mark_dirty
from memoryos_server.storage.repositories.base import Repository

# search_rows' statement per (family, dialect).
_SEARCH_ROWS: dict[tuple[str, str], Any] = {}
# open_conflicts' statement per (family, extra columns, expiry considered).
_OPEN_CONFLICTS: dict[tuple[str, tuple[str, ...], bool], Any] = {}


@dataclass(frozen=True)
class MemoryFamily:
    """The tables of one memory family. Tenant and universal memories never share a query."""

    name: str  # "tenant" | "universal"
    memory: type[Any]
    version: type[Any]
    term: type[Any]
    conflict: type[Any]
    stats: type[Any]
    reads: type[Any]


TENANT = MemoryFamily(
    "tenant",
    TenantMemory,
    TenantMemoryVersion,
    TenantMemoryTerm,
    TenantConflict,
    TenantMemoryIndexStats,
    TenantMemoryRead,
)
UNIVERSAL = MemoryFamily(
    "universal",
    UniversalMemory,
    UniversalMemoryVersion,
    UniversalMemoryTerm,
    UniversalQuestion,
    UniversalMemoryIndexStats,
    UniversalMemoryRead,
)
# Reads counted per statement of record_access (one multi-row upsert each).
_READS_PER_STATEMENT = 500
# (family, database) whose reads table this process has analysed (record_access).
_READS_ANALYZED: set[tuple[str, str]] = set()


class MemoryRepository(Repository):
    def __init__(self, session: Any, family: MemoryFamily) -> None:
        super().__init__(session)
        self.family = family

    def all_for_owner(self, owner_id: int, *, include_deleted: bool = False) -> Sequence[Any]:
        model = self.family.memory
        statement = select(model).where(model.owner_id == owner_id).order_by(model.created_at, model.id)
        if not include_deleted:
            statement = statement.where(model.status != "deleted")
        return self.all(statement)

    def versions_for(self, memory_ids: Sequence[str]) -> dict[str, list[Any]]:
        if not memory_ids:
            return {}
        version = self.family.version
        rows = self.all(
            select(version).where(one_of(self.session, version.memory_id, memory_ids)).order_by(version.memory_id, version.version)
        )
        grouped: dict[str, list[Any]] = {}
        for row in rows:
            grouped.setdefault(row.memory_id, []).append(row)
        return grouped

    def purge_owner(self, owner_id: int, *, job_family: str) -> None:
        """Delete every row an owner has in this family (memories cascade to versions and terms)."""
        family = self.family
        mark_dirty(self.session)  # the owner's index state goes too: nothing may be read from a memo
        self.session.execute(delete(family.term).where(family.term.owner_id == owner_id))
        self.session.execute(delete(family.conflict).where(family.conflict.owner_id == owner_id))
        self.session.execute(delete(family.memory).where(family.memory.owner_id == owner_id))
        if family is TENANT:
            self.session.execute(delete(SourceEvent).where(SourceEvent.owner_id == owner_id))
        self.session.execute(delete(family.stats).where(family.stats.owner_id == owner_id))
        self.session.execute(delete(Job).where(Job.family == job_family, Job.owner_id == owner_id))
        self.session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.scope.like(f"{job_family}:{owner_id}:%"))
        )

    # --- one owner's memories -------------------------------------------------------------------

    def get(self, owner_id: int, memory_id: str, *, include_deleted: bool = False, for_update: bool = False) -> Any:
        model = self.family.memory
        statement = select(model).where(by_key_of(model.owner_id, owner_id), model.id == memory_id)
        if not include_deleted:
            statement = statement.where(model.status != "deleted")
        if for_update:
            statement = statement.with_for_update()
        return self.one_or_none(statement)

    def in_tenant(self, tenant_id: int, memory_id: str, *, scope: str) -> Any:
        """A tenant-family memory by id within one tenant (for callers that name no owner)."""
        model = self.family.memory
        return self.one_or_none(
            select(model).where(
                by_key_of(model.tenant_id, tenant_id),
                model.scope == scope,
                model.id == memory_id,
                model.status != "deleted",
            )
        )

    def by_ids(
        self, owner_id: int, memory_ids: Sequence[str], *, include_deleted: bool = False, with_vectors: bool = True
    ) -> dict[str, Any]:
        """``with_vectors=False`` leaves the embedding unloaded (until touched): reading a
        vector costs more than the rest of a row, and a search needs none of them."""
        if not memory_ids:
            return {}
        model = self.family.memory
        statement = select(model).where(by_key_of(model.owner_id, owner_id), one_of(self.session, model.id, memory_ids))
        if not with_vectors:
            statement = statement.options(defer(model.embedding))
        if not include_deleted:
            statement = statement.where(model.status != "deleted")
        return {row.id: row for row in self.all(statement)}

    def search_rows(self, owner_id: int, memory_ids: Sequence[str]) -> dict[str, Any]:
        """What a search shows and ranks of each memory, as plain rows (no ORM objects: a search
        reads up to ~80 candidates, and building entities for them cost more than the query)."""
        if not memory_ids:
            return {}
        key = (self.family.name, self.session.get_bind().dialect.name)
        statement = _SEARCH_ROWS.get(key)
        if statement is None:  # built once: a search runs it every time (see PostgresSearchIndex)
            model, reads = self.family.memory, self.family.reads
            columns = [
                model.id, model.content_ct, model.category, model.status, model.importance, model.original_importance,
                model.disputed, model.unconfirmed, model.flagged, func.coalesce(reads.access_count, 0).label("access_count"),
                model.created_at, model.updated_at, model.valid_at, model.archived_at, model.agent_id, model.source_ct,
            ]
            if self.family is TENANT:
                columns.append(model.source_event_id)
            # A join, not the model's per-row subquery: PostgreSQL's generic plan for the
            # prepared statement ran that subquery badly (13 ms against 0.6 ms at 100k memories).
            statement = (
                select(*columns)
                .select_from(model)
                .outerjoin(reads, reads.memory_id == model.id)
                .where(by_key_of(model.owner_id, bindparam("owner_id")), one_of_param(self.session, model.id, "ids"))
            )
            _SEARCH_ROWS[key] = statement
        rows = self.session.execute(statement, {"owner_id": owner_id, "ids": list(dict.fromkeys(memory_ids))})
        return {row.id: row for row in rows}

    def active_by_hashes(self, owner_id: int, hashes: Sequence[str]) -> dict[tuple[str, str], Any]:
        """The active memory holding each content hash, per category: ``(hash, category)`` →
        the oldest such memory (an equal text in another category is another memory)."""
        if not hashes:
            return {}
        model = self.family.memory
        # Status and order are applied here, not in SQL: given either, SQLite's planner reads
        # every row of the owner through (owner, status, category) or (owner, created_at) —
        # 150 ms at 100k rows — instead of looking the few hashes up in (owner, content_hash).
        statement = select(model).where(model.owner_id == owner_id, one_of(self.session, model.content_hash, hashes))
        rows = self.all(statement.options(defer(model.embedding)))
        found: dict[tuple[str, str], Any] = {}
        for row in sorted(rows, key=lambda r: (r.created_at, r.id)):
            if row.status == "active":
                found.setdefault((row.content_hash, row.category), row)
        return found

    def page(
        self,
        owner_id: int,
        *,
        categories: Sequence[str] | None,
        statuses: Sequence[str],
        after: tuple[datetime, str] | None,
        limit: int,
        for_agent: int | None = None,
    ) -> Sequence[Any]:
        """Newest first; ``after`` is the (created_at, id) of the last row of the previous page.
        ``for_agent``: see ``_listed``."""
        model = self.family.memory
        statement = self._listed(select(model), owner_id, categories, statuses, for_agent)
        if after is not None:
            created, memory_id = after
            statement = statement.where(
                or_(model.created_at < created, and_(model.created_at == created, model.id < memory_id))
            )
        return self.all(statement.order_by(model.created_at.desc(), model.id.desc()).limit(limit))

    def page_ordered(
        self,
        owner_id: int,
        *,
        categories: Sequence[str] | None,
        statuses: Sequence[str],
        order: str,
        offset: int,
        limit: int,
        for_agent: int | None = None,
    ) -> Sequence[Any]:
        """By position, oldest first or by importance (highest first, then newest)."""
        model = self.family.memory
        statement = self._listed(select(model), owner_id, categories, statuses, for_agent)
        if order == "importance":
            statement = statement.order_by(model.importance.desc(), model.created_at.desc(), model.id)
        else:
            statement = statement.order_by(model.created_at, model.id)
        return self.all(statement.offset(offset).limit(limit))

    def count_for_owner(
        self, owner_id: int, *, categories: Sequence[str] | None, statuses: Sequence[str], for_agent: int | None = None
    ) -> int:
        model = self.family.memory
        statement = self._listed(select(func.count()).select_from(model), owner_id, categories, statuses, for_agent)
        return int(self.session.execute(statement).scalar_one())

    def _listed(
        self, statement: Any, owner_id: int, categories: Sequence[str] | None, statuses: Sequence[str], for_agent: int | None
    ) -> Any:
        """One owner's rows in ``statuses`` and ``categories``. ``for_agent`` (a mask of the
        categories a memory's doubt must not touch, 0 for none) lists for an agent: memories the
        person flagged are withheld, and a memory that may belong to a category outside the
        reader's is left out, as every search does (``SearchFilter``)."""
        model = self.family.memory
        statement = statement.where(model.owner_id == owner_id, model.status.in_(list(statuses)))
        if categories:
            statement = statement.where(model.category.in_(list(categories)))
        if for_agent is not None:
            statement = statement.where(model.flagged.is_(False))
            if for_agent:
                statement = statement.where(model.doubt_mask.op("&")(for_agent) == 0)
        return statement

    def delete_rows(self, owner_id: int, memory_ids: Sequence[str]) -> None:
        """Remove memories for good (their versions and postings go with them)."""
        if not memory_ids:
            return
        family = self.family
        ids = list(memory_ids)
        self.session.execute(
            delete(family.term).where(by_key_of(family.term.owner_id, owner_id), family.term.memory_id.in_(ids))
        )
        self.session.execute(delete(family.version).where(family.version.memory_id.in_(ids)))
        self.session.execute(
            delete(family.memory).where(by_key_of(family.memory.owner_id, owner_id), family.memory.id.in_(ids))
        )

    def record_access(self, counts: Mapping[str, tuple[int, datetime]]) -> set[str]:
        """Add read counts and the last read time to the reads table (never the memory's row).

        Memories another transaction is deleting are skipped, not waited for (PostgreSQL; SQLite
        has one writer): counting reads must never block or deadlock a write. Returns the
        skipped ids, and those of memories that are gone.
        """
        if not counts:
            return set()
        model, reads = self.family.memory, self.family.reads
        # FOR KEY SHARE: what the reads row's foreign key would take anyway, taken up front so a
        # memory being deleted is skipped; an ordinary update of the memory does not conflict.
        free = sorted(
            self.session.execute(
                select(model.id)
                .where(model.id.in_(list(counts)))
                .order_by(model.id)
                .with_for_update(key_share=True, skip_locked=True)
            ).scalars()
        )
        for start in range(0, len(free), _READS_PER_STATEMENT):
            chunk = free[start : start + _READS_PER_STATEMENT]
            statement = self.upsert(reads).values(
                [{"memory_id": mid, "access_count": counts[mid][0], "last_accessed": counts[mid][1]} for mid in chunk]
            )
            fresh = statement.excluded
            statement = statement.on_conflict_do_update(
                index_elements=[reads.memory_id],
                set_={
                    "access_count": reads.access_count + fresh.access_count,
                    # Another worker may have counted a later read first.
                    "last_accessed": case(
                        (reads.last_accessed.is_(None), fresh.last_accessed),
                        (fresh.last_accessed > reads.last_accessed, fresh.last_accessed),
                        else_=reads.last_accessed,
                    ),
                },
            )
            self.session.execute(statement)
        if free:
            self._analyze_reads_once()
        return set(counts) - set(free)

    def _analyze_reads_once(self) -> None:
        """PostgreSQL: gather the reads table's statistics once per process, with its first rows.

        A statement prepared while the table was empty keeps a plan made for an empty table (a
        sequential scan of it for every memory a search shows: 13 ms against 0.6 ms once it held
        a few thousand rows) until statistics change; autovacuum would gather them only after a
        minute or so. Later growth is seen by the planner through the table's size.
        """
        bind = self.session.get_bind()
        key = (self.family.name, bind.url.render_as_string(hide_password=True))
        if bind.dialect.name != "postgresql" or key in _READS_ANALYZED:
            return
        _READS_ANALYZED.add(key)
        table = self.family.reads.__tablename__

        def analyze() -> None:  # in a transaction of its own: not while this one holds its locks
            with bind.connect() as connection:
                connection.execute(text(f"ANALYZE {table}"))
                connection.commit()

        after_commit(self.session, analyze)

    # --- version history ---------------------------------------------------------------------------

    def history(self, memory_id: str) -> Sequence[Any]:
        version = self.family.version
        return self.all(select(version).where(version.memory_id == memory_id).order_by(version.version, version.id))

    def versions_at(self, memory_ids: Sequence[str], moment: datetime) -> dict[str, Any]:
        """For each memory, its latest version recorded at or before ``moment``."""
        if not memory_ids:
            return {}
        version = self.family.version
        rows = self.all(
            select(version)
            .where(one_of(self.session, version.memory_id, memory_ids), version.created_at <= moment)
            .order_by(version.memory_id, version.version, version.id)
        )
        latest: dict[str, Any] = {}
        for row in rows:
            latest[row.memory_id] = row
        return latest

    # --- conflicts (clarifications, reviews, pending questions) --------------------------------------

    def conflict(self, owner_id: int, conflict_id: str, *, for_update: bool = False, **where: Any) -> Any:
        model = self.family.conflict
        statement = select(model).where(model.owner_id == owner_id, model.id == conflict_id)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        if for_update:
            statement = statement.with_for_update()
        return self.one_or_none(statement)

    def open_conflicts(
        self, owner_id: int, *, now: datetime | None = None, limit: int = 50, **where: Any
    ) -> Sequence[Any]:
        """Open conflicts, oldest first; with ``now``, only those not yet expired."""
        names = tuple(sorted(where))
        key = (self.family.name, names, now is not None)
        statement = _OPEN_CONFLICTS.get(key)
        if statement is None:  # built once: every search asks for the owner's open question
            model = self.family.conflict
            statement = select(model).where(model.owner_id == bindparam("owner_id"), model.status == "open")
            for name in names:
                statement = statement.where(getattr(model, name) == bindparam(f"where_{name}"))
            if now is not None:
                statement = statement.where(or_(model.expires_at.is_(None), model.expires_at > bindparam("now")))
            statement = statement.order_by(model.created_at, model.id).limit(bindparam("limit"))
            _OPEN_CONFLICTS[key] = statement
        values = {"owner_id": owner_id, "limit": limit, **{f"where_{name}": where[name] for name in names}}
        if now is not None:
            values["now"] = now
        return self.session.execute(statement, values).scalars().all()

    def conflicts_page(
        self, owner_id: int, *, status: str | None, after: tuple[datetime, str] | None, limit: int, **where: Any
    ) -> Sequence[Any]:
        model = self.family.conflict
        statement = select(model).where(model.owner_id == owner_id)
        if status is not None:
            statement = statement.where(model.status == status)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        if after is not None:
            created, conflict_id = after
            statement = statement.where(
                or_(model.created_at < created, and_(model.created_at == created, model.id < conflict_id))
            )
        return self.all(statement.order_by(model.created_at.desc(), model.id.desc()).limit(limit))

    def count_conflicts(self, owner_id: int, *, status: str | None, **where: Any) -> int:
        model = self.family.conflict
        statement = select(func.count()).select_from(model).where(model.owner_id == owner_id)
        if status is not None:
            statement = statement.where(model.status == status)
        for name, value in where.items():
            statement = statement.where(getattr(model, name) == value)
        return int(self.session.execute(statement).scalar_one())

    # --- a tenant's reviews, whichever owner they are about (tenant family) ----------------------------

    def tenant_conflict(self, tenant_id: int, conflict_id: str, *, kind: str) -> Any:
        model = self.family.conflict
        return self.one_or_none(
            select(model).where(model.tenant_id == tenant_id, model.id == conflict_id, model.kind == kind)
        )

    def tenant_conflicts_page(
        self, tenant_id: int, *, kind: str, status: str | None, after: tuple[datetime, str] | None, limit: int
    ) -> Sequence[Any]:
        model = self.family.conflict
        statement = select(model).where(model.tenant_id == tenant_id, model.kind == kind)
        if status is not None:
            statement = statement.where(model.status == status)
        if after is not None:
            created, conflict_id = after
            statement = statement.where(
                or_(model.created_at < created, and_(model.created_at == created, model.id < conflict_id))
            )
        return self.all(statement.order_by(model.created_at.desc(), model.id.desc()).limit(limit))

    def count_tenant_conflicts(self, tenant_id: int, *, kind: str, status: str | None) -> int:
        model = self.family.conflict
        statement = select(func.count()).select_from(model).where(model.tenant_id == tenant_id, model.kind == kind)
        if status is not None:
            statement = statement.where(model.status == status)
        return int(self.session.execute(statement).scalar_one())

    def open_conflicts_touching(self, owner_id: int, memory_ids: Sequence[str]) -> Sequence[Any]:
        if not memory_ids:
            return []
        model = self.family.conflict
        ids = list(memory_ids)
        return self.all(
            select(model).where(
                model.owner_id == owner_id,
                model.status == "open",
                or_(one_of(self.session, model.memory_a_id, ids), one_of(self.session, model.memory_b_id, ids)),
            )
        )
