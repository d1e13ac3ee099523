"""Every write to one owner's memories in one transaction: rows, versions, postings, index state.

Opening a writer locks the owner's index state row, so one owner's writers take turns (on
SQLite the single writer lock already does this): de-duplication decisions never race.
Rows are ORM objects; versions and postings go in as two bulk inserts at ``finish``.
"""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import insert
from sqlalchemy.orm import Session

from memoryos_server.services.memory.codec import MemoryCodec
from memoryos_server.services.memory.owner import MemoryOwner
from memoryos_server.storage.db import after_commit
from memoryos_server.storage.index import graph, postings, state
from memoryos_server.storage.repositories.memories import MemoryRepository


def new_memory_id() -> str:
    """A time-ordered UUID (version 7, RFC 9562): 48 bits of the Unix time in milliseconds,
    then 74 random bits. The memory tables and every table keyed by a memory's id (versions,
    postings) index that id, so ids that grow with time put a new memory's entries at the end
    of each index rather than on a random page of it: an add of 64 writes a few pages per
    index, not 64. The time in the id says no more than the memory's ``created_at``; the 74
    random bits keep ids unguessable. (Python 3.14's ``uuid.uuid7`` spends 42 of them on a
    counter, so it is not used.)"""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(secrets.token_bytes(10))  # 80 bits, of which 74 are kept
    value = (millis << 80) | (0x7 << 76) | ((rand >> 68) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))



class MemoryWriter:
    def __init__(self, session: Session, owner: MemoryOwner, codec: MemoryCodec, *, now: datetime) -> None:
        self.session = session
        self.owner = owner
        self.family = owner.family
        self.codec = codec
        self.now = now
        self._state = state.lock(session, self.family, owner.id)
        self._doc_count = self._state.doc_count
        self._generation: int | None = None
        self._doc_delta = 0
        self._term_delta = 0
        self._purged = False
        self._versions: list[dict[str, Any]] = []
        self._new_postings: list[tuple[str, dict[int, int]]] = []
        self._stale_postings: list[str] = []

    @property
    def seq(self) -> int:
        """This transaction's index generation (taken on first use)."""
        if self._generation is None:
            self._generation = state.advance(self.session, self.family, self.owner.id)
        return self._generation

    # --- rows --------------------------------------------------------------------------------

    def insert(
        self,
        *,
        content: str,
        category: str,
        importance: float,
        confidence: float,
        vector: np.ndarray,
        event: str,
        actor: str | None,
        metadata: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
        agent_id: str | None = None,
        conversation_id: str | None = None,
        valid_at: datetime | None = None,
        api_key_id: int | None = None,
        disputed: bool = False,
        memory_id: str | None = None,
        keyword_context: str = "",
        doubt_mask: int = 0,
        source_event_id: str | None = None,
    ) -> Any:
        """``keyword_context``: more words the keyword index holds for this memory (not stored
        as text; a later rewrite indexes the new text alone). ``source_event_id``: the service
        writer's claim the text is (tenant memories)."""
        memory_id = memory_id or new_memory_id()
        terms, length = self.codec.terms(content, keyword_context)
        fields: dict[str, Any] = dict(
            id=memory_id,
            owner_id=self.owner.id,
            category=category,
            doubt_mask=doubt_mask,
            content_ct=self.codec.seal(memory_id, content),
            metadata_ct=self.codec.seal_json(memory_id, metadata) if metadata else None,
            source_ct=self.codec.seal_json(memory_id, source) if source else None,
            importance=float(importance),
            original_importance=float(importance),
            confidence=float(confidence),
            status="active",
            disputed=disputed,
            flagged=False,
            unconfirmed=False,
            agent_id=agent_id,
            conversation_ct=self.codec.seal_conversation(memory_id, conversation_id),
            valid_at=valid_at,
            version=1,
            content_hash=self.codec.content_hash(content),
            term_count=length,
            embedding=np.asarray(vector, dtype=np.float32),
            graphed=self._state.graphed,  # into PostgreSQL's graph at once if the owner's is built
            index_seq=self.seq,
            created_at=self.now,
            updated_at=self.now,
        )
        if self.owner.is_tenant_family:
            fields.update(
                tenant_id=self.owner.tenant_id, scope=self.owner.scope, api_key_id=api_key_id, source_event_id=source_event_id
            )
        else:
            fields.update(source_tenant_id=self.owner.tenant_id)
        row = self.family.memory(**fields)
        self.session.add(row)
        self._new_postings.append((memory_id, terms))
        self._doc_delta += 1
        self._term_delta += length
        # The first version holds the same text under the same key and context: one ciphertext.
        self._record(row, event, content, actor, sealed=fields["content_ct"])
        return row

    def rewrite(
        self,
        row: Any,
        *,
        content: str,
        vector: np.ndarray | None,
        event: str,
        actor: str | None,
        category: str | None = None,
        importance: float | None = None,
        confidence: float | None = None,
        source: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        """New text for an existing memory (an UPDATE from an add, or an edit). ``source``: the
        claim the new text is (its source event id and provenance), for a service's restatement."""
        terms, length = self.codec.terms(content)
        if row.status != "deleted":
            self._stale_postings.append(row.id)
            self._new_postings = [(mid, t) for mid, t in self._new_postings if mid != row.id]
            self._new_postings.append((row.id, terms))
            self._term_delta += length - (row.term_count or 0)
        row.content_ct = self.codec.seal(row.id, content)
        row.content_hash = self.codec.content_hash(content)
        row.term_count = length
        if vector is not None:
            row.embedding = np.asarray(vector, dtype=np.float32)
        if category is not None:
            row.category = category
            row.doubt_mask = 0  # a person chose the category: the engine's doubt is settled
        if importance is not None:
            row.importance = float(importance)
        if confidence is not None:
            row.confidence = float(confidence)
        if source is not None and self.owner.is_tenant_family:
            row.source_event_id, provenance = source
            row.source_ct = self.codec.seal_json(row.id, provenance)
        self._touch(row)
        self._record(row, event, content, actor)

    def change(
        self,
        row: Any,
        *,
        event: str,
        actor: str | None,
        content: str,
        status: str | None = None,
        disputed: bool | None = None,
        unconfirmed: bool | None = None,
        flagged: bool | None = None,
        metadata: dict[str, Any] | None = None,
        category: str | None = None,
        importance: float | None = None,
        note: str | None = None,
    ) -> None:
        """A change of state or attributes; ``content`` is the current text, for the history;
        ``note`` says why, where the actor does not (the rule that archived a losing claim)."""
        if status is not None and status != row.status:
            if status == "deleted":
                self._stale_postings.append(row.id)
                self._new_postings = [(mid, t) for mid, t in self._new_postings if mid != row.id]
                self._doc_delta -= 1
                self._term_delta -= row.term_count or 0
            if status in ("archived", "deleted") and row.archived_at is None:
                row.archived_at = self.now
            if status == "active":
                row.archived_at = None
            row.status = status
        if disputed is not None:
            row.disputed = disputed
        if unconfirmed is not None:
            row.unconfirmed = unconfirmed
        if flagged is not None:
            row.flagged = flagged
        if metadata is not None:
            row.metadata_ct = self.codec.seal_json(row.id, metadata) if metadata else None
        if category is not None:
            row.category = category
            row.doubt_mask = 0  # a person chose the category: the engine's doubt is settled
        if importance is not None:
            row.importance = float(importance)
        self._touch(row)
        self._record(row, event, content, actor, note=note)

    def purge(self, rows: list[Any]) -> None:
        """Remove memories for good, with their versions and postings."""
        if not rows:
            return
        for row in rows:
            if row.status != "deleted":
                self._doc_delta -= 1
                self._term_delta -= row.term_count or 0
        ids = [row.id for row in rows]
        self._new_postings = [(mid, t) for mid, t in self._new_postings if mid not in ids]
        self._versions = [v for v in self._versions if v["memory_id"] not in ids]
        self.session.flush()
        for row in rows:
            self.session.expunge(row)
        MemoryRepository(self.session, self.family).delete_rows(self.owner.id, ids)
        self._purged = True
        self.seq  # noqa: B018 — a purge is a change other workers must notice

    def _touch(self, row: Any) -> None:
        row.version = (row.version or 1) + 1
        row.updated_at = self.now
        row.index_seq = self.seq

    def _record(
        self, row: Any, event: str, content: str, actor: str | None, *, sealed: bytes | None = None, note: str | None = None
    ) -> None:
        version: dict[str, Any] = {
            "memory_id": row.id,
            "version": row.version or 1,
            "event": event,
            "content_ct": sealed if sealed is not None else self.codec.seal(row.id, content),
            "category": row.category,
            "importance": float(row.importance),
            "status": row.status,
            "actor": (actor or "")[:120] or None,
            "note": (note or "")[:500] or None,
            "created_at": self.now,
        }
        if self.owner.is_tenant_family:
            # Every version names the claim its text came from: the history says which service
            # said what, and when.
            version["source_event_id"] = row.source_event_id
        self._versions.append(version)

    # --- the end of the transaction's writes ------------------------------------------------------

    def finish(self) -> None:
        self.session.flush()
        if self._versions:
            # The table, not the mapped class: an ORM bulk insert builds a command per row.
            self.session.execute(insert(self.family.version.__table__), self._versions)
            self._versions = []
        if self._stale_postings:
            postings.delete_postings(
                self.session, self.family, self.owner.id, list(dict.fromkeys(self._stale_postings))
            )
            self._stale_postings = []
        if self._new_postings:
            postings.insert_postings(self.session, self.family, self.owner.id, self._new_postings)
            self._new_postings = []
        self._doc_count += self._doc_delta
        bind = self.session.get_bind()
        if graph.needs_graph(self._state, self._doc_count) and bind.dialect.name != "sqlite":
            database, owner_id, family = graph.database_key(bind), self.owner.id, self.family
            after_commit(self.session, lambda: graph.WANTED.want(database, family, owner_id))
        if self._doc_delta or self._term_delta or self._purged:
            state.adjust(
                self.session,
                self.family,
                self.owner.id,
                doc_delta=self._doc_delta,
                term_delta=self._term_delta,
                purged=self._purged,
            )
            self._doc_delta = self._term_delta = 0
            self._purged = False
