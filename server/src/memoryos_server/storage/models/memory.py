"""Memories, their version history, keyword postings and conflicts.

Tenant memories (end-users and workspaces) and universal (Memory Passport) memories have the
same shape but live in separate tables: no query over one family can reach the other.
Text and metadata are stored only as ciphertext under the owner's data key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, LargeBinary, String, false, func, select
from sqlalchemy.orm import Mapped, column_property, mapped_column

from memoryos_server.storage.models.base import Base, Timestamped
from memoryos_server.storage.types import BigIntPK, Embedding, UTCDateTime

EMBEDDING_DIM = 384


class _MemoryColumns(Timestamped):
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    category: Mapped[str] = mapped_column(String(16))
    # The other categories the extractor found plausible, one bit each (index.base.category_mask):
    # a read limited to some categories admits the memory only when all of them are among those.
    doubt_mask: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    content_ct: Mapped[bytes] = mapped_column(LargeBinary)
    metadata_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    source_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    importance: Mapped[float] = mapped_column(Float)
    original_importance: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | archived | deleted
    disputed: Mapped[bool] = mapped_column(Boolean, default=False)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    unconfirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    agent_id: Mapped[str | None] = mapped_column(String(64))
    # The caller's conversation id, sealed like the text (MemoryCodec.seal_conversation).
    conversation_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    valid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Keyed per-owner hash of the normalised text: finds exact restatements without plaintext.
    content_hash: Mapped[str] = mapped_column(String(64))
    term_count: Mapped[int] = mapped_column(Integer, default=0)
    embedding: Mapped[np.ndarray | None] = mapped_column(Embedding(EMBEDDING_DIM))
    # The owner's index generation at this row's last indexed change (see _IndexStatsColumns):
    # an in-process index catches up by reading only the rows whose index_seq it has not seen.
    index_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # In PostgreSQL's HNSW graph (a partial index, WHERE graphed): the rows of owners large
    # enough to be searched through it (storage/index/graph.py). Unused on SQLite.
    graphed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TenantMemory(_MemoryColumns, Base):
    __tablename__ = "memories"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(12))  # tenant | workspace
    api_key_id: Mapped[int | None] = mapped_column(BigInteger)
    # The service writer's claim its text is (``source_events``), when a service wrote it.
    source_event_id: Mapped[str | None] = mapped_column(
        ForeignKey("source_events.id", ondelete="SET NULL"), index=True
    )


class UniversalMemory(_MemoryColumns, Base):
    __tablename__ = "universal_memories"

    owner_id: Mapped[int] = mapped_column(ForeignKey("universal_users.id", ondelete="CASCADE"))
    # The tenant that owns the writing agent, kept for the user's activity view.
    source_tenant_id: Mapped[int | None] = mapped_column(BigInteger)


Index("ix_memories_owner_status_category", TenantMemory.owner_id, TenantMemory.status, TenantMemory.category)
Index("ix_memories_owner_created", TenantMemory.owner_id, TenantMemory.created_at)
Index("ix_memories_owner_hash", TenantMemory.owner_id, TenantMemory.content_hash)
Index("ix_memories_owner_index_seq", TenantMemory.owner_id, TenantMemory.index_seq)
Index(
    "ix_universal_memories_owner_status_category",
    UniversalMemory.owner_id,
    UniversalMemory.status,
    UniversalMemory.category,
)
Index("ix_universal_memories_owner_created", UniversalMemory.owner_id, UniversalMemory.created_at)
Index("ix_universal_memories_owner_hash", UniversalMemory.owner_id, UniversalMemory.content_hash)
Index("ix_universal_memories_owner_index_seq", UniversalMemory.owner_id, UniversalMemory.index_seq)


class _ReadColumns:
    """How often and when a memory was last retrieved, in a narrow table of its own.

    Counting reads writes here, never to the memory's row: on PostgreSQL a row of the memory
    table (about 2 KB with its vector) fills its page, so an update cannot stay on the page
    (HOT) and writes a new entry in every index of the table, the HNSW graph included (about
    2 ms a row). Reads were counted that way at first, and under a steady stream of searches
    the counting cost as much as the searches themselves. A row here appears with a memory's
    first counted read; none means never read.
    """

    access_count: Mapped[int] = mapped_column(Integer, default=0)
    last_accessed: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TenantMemoryRead(_ReadColumns, Base):
    __tablename__ = "memory_reads"

    memory_id: Mapped[str] = mapped_column(ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True)


class UniversalMemoryRead(_ReadColumns, Base):
    __tablename__ = "universal_memory_reads"

    memory_id: Mapped[str] = mapped_column(ForeignKey("universal_memories.id", ondelete="CASCADE"), primary_key=True)


def _read_properties(memory: type[Any], reads: type[Any]) -> None:
    """``access_count`` and ``last_accessed`` as read-only attributes of the memory, loaded
    with it (one primary-key lookup in the reads table each)."""
    mine = reads.memory_id == memory.id
    memory.access_count = column_property(
        func.coalesce(select(reads.access_count).where(mine).correlate_except(reads).scalar_subquery(), 0)
    )
    memory.last_accessed = column_property(
        select(reads.last_accessed).where(mine).correlate_except(reads).scalar_subquery()
    )


_read_properties(TenantMemory, TenantMemoryRead)
_read_properties(UniversalMemory, UniversalMemoryRead)


class _VersionColumns:
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(16))  # ADD UPDATE CONFLICT CORRECT ARCHIVE RESOLVE FLAG DELETE …
    content_ct: Mapped[bytes] = mapped_column(LargeBinary)
    category: Mapped[str] = mapped_column(String(16))
    importance: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(12))
    actor: Mapped[str | None] = mapped_column(String(120))
    # Why, when the actor's name does not say it: the rule that archived a losing claim.
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TenantMemoryVersion(_VersionColumns, Base):
    __tablename__ = "memory_versions"

    memory_id: Mapped[str] = mapped_column(ForeignKey("memories.id", ondelete="CASCADE"), index=True)
    # The claim this version's text came from (the memory's source event at the time).
    source_event_id: Mapped[str | None] = mapped_column(String(40))


class UniversalMemoryVersion(_VersionColumns, Base):
    __tablename__ = "universal_memory_versions"

    memory_id: Mapped[str] = mapped_column(ForeignKey("universal_memories.id", ondelete="CASCADE"), index=True)


class _TermColumns:
    """One keyword posting: (owner, keyed term hash) → memory, with its term frequency.

    Keyword search holds each owner's postings in worker memory (``sqlite_postings``, on both
    backends) and reads them by owner, then by memory: so they are indexed by owner then memory
    and a memory's postings sit together, and on SQLite the table is stored by its key, with no
    row table of its own (migration 0015)."""

    __table_args__ = {"sqlite_with_rowid": False}

    term: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    tf: Mapped[int] = mapped_column(Integer)
    owner_id: Mapped[int] = mapped_column(BigInteger)


class TenantMemoryTerm(_TermColumns, Base):
    __tablename__ = "memory_terms"

    memory_id: Mapped[str] = mapped_column(ForeignKey("memories.id", ondelete="CASCADE"), primary_key=True)


class UniversalMemoryTerm(_TermColumns, Base):
    __tablename__ = "universal_memory_terms"

    memory_id: Mapped[str] = mapped_column(
        ForeignKey("universal_memories.id", ondelete="CASCADE"), primary_key=True
    )


# Covering (term and tf included): an owner's postings load from the index alone.
Index(
    "ix_memory_terms_owner_memory",
    TenantMemoryTerm.owner_id,
    TenantMemoryTerm.memory_id,
    TenantMemoryTerm.term,
    TenantMemoryTerm.tf,
)
Index(
    "ix_universal_memory_terms_owner_memory",
    UniversalMemoryTerm.owner_id,
    UniversalMemoryTerm.memory_id,
    UniversalMemoryTerm.term,
    UniversalMemoryTerm.tf,
)


class _IndexStatsColumns:
    """Per-owner index state: BM25 statistics and a change counter.

    ``generation`` goes up by one in every transaction that changes the owner's indexed rows
    (which then carry it in ``index_seq``); ``purges`` goes up when rows are removed for good.
    Caches in worker memory compare both with what they hold, so any worker sees every other
    worker's writes. Updating this row also serialises one owner's writers on PostgreSQL.
    """

    generation: Mapped[int] = mapped_column(BigInteger, default=0)
    purges: Mapped[int] = mapped_column(Integer, default=0)
    doc_count: Mapped[int] = mapped_column(Integer, default=0)  # memories with keyword postings
    total_terms: Mapped[int] = mapped_column(BigInteger, default=0)  # their summed term counts
    # Every row of the owner is in PostgreSQL's HNSW graph, and new ones go in as written
    # (storage/index/graph.py); until then its searches score exactly.
    graphed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class TenantMemoryIndexStats(_IndexStatsColumns, Base):
    __tablename__ = "memory_index_stats"

    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)


class UniversalMemoryIndexStats(_IndexStatsColumns, Base):
    __tablename__ = "universal_memory_index_stats"

    owner_id: Mapped[int] = mapped_column(ForeignKey("universal_users.id", ondelete="CASCADE"), primary_key=True)


class _ConflictColumns(Timestamped):
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    memory_a_id: Mapped[str] = mapped_column(String(36))  # the older memory
    memory_b_id: Mapped[str] = mapped_column(String(36))  # the newer, contradicting one
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | resolved
    answer: Mapped[str | None] = mapped_column(String(8))  # A | B | both | neither
    free_text_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TenantConflict(_ConflictColumns, Base):
    """An end-user clarification (kind=clarification) or a workspace review (kind=review, id rev_…)."""

    __tablename__ = "clarifications"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))


class UniversalQuestion(_ConflictColumns, Base):
    """A Pending Question for a passport user."""

    __tablename__ = "universal_questions"

    owner_id: Mapped[int] = mapped_column(ForeignKey("universal_users.id", ondelete="CASCADE"), index=True)


class Job(Timestamped, Base):
    """An add request whose extraction runs in a worker (or ran inline and is kept for status)."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    family: Mapped[str] = mapped_column(String(12))  # tenant | universal
    tenant_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    owner_id: Mapped[int] = mapped_column(BigInteger)
    agent_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))  # queued | running | completed | failed | dead
    payload_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    result_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    extractor: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(500))
    memories_created: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    created_memory_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    available_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


Index("ix_jobs_status_available", Job.status, Job.available_at)


class IdempotencyRecord(Base):
    """The first answer to a request with an Idempotency-Key, replayed for 24 hours."""

    __tablename__ = "idempotency_records"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    scope: Mapped[str] = mapped_column(String(120))  # who asked: tenant+end-user, or agent+passport user
    key_hash: Mapped[str] = mapped_column(String(64))
    response_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


Index("uq_idempotency_scope_key", IdempotencyRecord.scope, IdempotencyRecord.key_hash, unique=True)
