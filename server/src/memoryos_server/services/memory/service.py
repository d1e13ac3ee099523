"""The memory service: one owner's memories, for any family (tenant, workspace, universal).

Every method takes the session first and keyword-only arguments, flushes but never commits
(the caller owns the transaction), and works on exactly one ``MemoryOwner``: every query is
filtered by that owner, so an id of anyone else's memory is simply not found.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.engine.types import CATEGORIES, ChatMessage, Extractor
from memoryos_server.errors import BadRequest, JobNotFound, MemoryNotFound
from memoryos_server.services.memory import conflicts, jobs
from memoryos_server.services.memory.access import AccessLog
from memoryos_server.services.memory.codec import MemoryCodec
from memoryos_server.services.memory.idempotency import Idempotency
from memoryos_server.services.memory.ingest import (
    AddContext,
    Ingestor,
    embed_candidates,
    select_candidates,
    verbatim,
)
from memoryos_server.services.memory.owner import MemoryOwner, job_family
from memoryos_server.services.memory.retrieve import Retriever, new_retrieval_id, render
from memoryos_server.services.memory.types import (
    AddOutcome,
    AnswerOutcome,
    ClarificationView,
    JobView,
    MemoryView,
    Page,
    RetrieveOutcome,
    VersionView,
)
from memoryos_server.services.memory.views import memory_view, version_view
from memoryos_server.services.memory.writer import MemoryWriter
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.index import build_search_index
from memoryos_server.storage.models import EMBEDDING_DIM
from memoryos_server.storage.repositories.jobs import JobRepository
from memoryos_server.storage.repositories.memories import MemoryRepository
from memoryos_server.storage.types import utcnow

LISTED_STATUSES = ("active", "archived")


class MemoryService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.index = build_search_index(runtime.db.dialect, dim=EMBEDDING_DIM)
        self.ingestor = Ingestor(self.index)
        self.retriever = Retriever(self.index, lambda: runtime.embedder)
        self.access = AccessLog()
        self.idempotency = Idempotency(runtime)

    @property
    def queues_extraction(self) -> bool:
        """LLM extraction is configured: adds are queued for the worker."""
        return bool(self.rt.settings.llm_base_url)

    def codec(self, owner: MemoryOwner) -> MemoryCodec:
        return MemoryCodec(self.rt.vault.key(owner.row))

    # --- add --------------------------------------------------------------------------------------

    def add(
        self,
        session: Session,
        *,
        owner: MemoryOwner,
        messages: Sequence[ChatMessage],
        actor: str,
        infer: bool = True,
        category: str | None = None,
        metadata: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
        conversation_id: str | None = None,
        agent_id: str | None = None,
        api_key_id: int | None = None,
        allowed_categories: Sequence[str] | None = None,
    ) -> AddOutcome:
        """Extract, de-duplicate and store; or queue the extraction when an LLM does it.

        ``infer=False`` stores each message verbatim under ``category`` (default ``fact``).
        ``allowed_categories``: memories in other categories are dropped and counted in
        ``skipped`` (a passport grant). ``actor`` goes into every version written.
        """
        if not messages:
            raise BadRequest("messages_required", "give at least one message")
        if category is not None and category not in CATEGORIES:
            raise BadRequest("unknown_category", f"category must be one of {', '.join(CATEGORIES)}")
        allowed = list(allowed_categories) if allowed_categories is not None else None
        context = AddContext(
            actor=actor,
            agent_id=agent_id,
            api_key_id=api_key_id,
            conversation_id=conversation_id,
            metadata=metadata or None,
            source=source or None,
        )
        now = utcnow()
        codec = self.codec(owner)
        if infer and self.queues_extraction:
            job = jobs.enqueue(
                session,
                owner,
                codec,
                messages=list(messages),
                infer=infer,
                category=category,
                allowed_categories=allowed,
                context=context,
                now=now,
            )
            session.flush()
            return AddOutcome(job.id, "queued", False, [])
        extractor: Extractor = self.rt.extractor
        extracted = extractor.extract(messages, now=now) if infer else verbatim(messages, category or "fact")
        extractor_name = extractor.name if infer else "verbatim"
        return self.store_extracted(
            session,
            owner=owner,
            extracted=extracted,
            context=context,
            allowed_categories=allowed,
            extractor=extractor_name,
            now=now,
        )

    def store_extracted(
        self,
        session: Session,
        *,
        owner: MemoryOwner,
        extracted: Sequence[Any],
        context: AddContext,
        allowed_categories: Sequence[str] | None,
        extractor: str,
        now: datetime,
    ) -> AddOutcome:
        """Embed, decide and write candidates an extractor produced; record the completed job."""
        codec = self.codec(owner)
        kept, skipped = select_candidates(extracted, allowed_categories)
        candidates = embed_candidates(self.rt.embedder, kept, EMBEDDING_DIM)
        applied = self.ingestor.apply(
            session, owner, codec, candidates, context=context, now=now, writable=allowed_categories
        )
        job = jobs.record_completed(
            session,
            owner,
            codec,
            events=applied.events,
            skipped=skipped,
            extractor=extractor,
            agent_id=context.agent_id,
            now=now,
        )
        session.flush()
        return AddOutcome(
            job_id=job.id,
            status="completed",
            nothing_to_extract=not applied.events,
            results=applied.events,
            skipped=skipped,
            extractor=extractor,
            conflict_ids=applied.conflict_ids,
        )

    # --- jobs ----------------------------------------------------------------------------------------

    def job(
        self,
        session: Session,
        *,
        job_id: str,
        family: str,
        tenant_id: int | None = None,
        owner: MemoryOwner | None = None,
        agent_id: str | None = None,
    ) -> JobView:
        """A job of this family, seen by its tenant (``tenant_id``) or by its owner (``owner``),
        and, with ``agent_id``, only if that agent's add made it. Results are decrypted only
        for an owner."""
        if tenant_id is None and owner is None:
            raise JobNotFound("no such job")
        found = JobRepository(session).get(
            job_id, family=family, tenant_id=tenant_id, owner_id=owner.id if owner is not None else None
        )
        if found is None or (agent_id is not None and found.agent_id != agent_id):
            raise JobNotFound("no such job")
        codec = self.codec(owner) if owner is not None else None
        return jobs.view(found, codec)

    # --- retrieve -------------------------------------------------------------------------------------

    def retrieve(
        self,
        session: Session,
        *,
        owner: MemoryOwner,
        query: str,
        limit: int = 10,
        categories: Sequence[str] | None = None,
        time_filter_days: int | None = None,
        as_of: datetime | None = None,
        format: str = "bullets",
        context_max_tokens: int = 500,
        consent_note: bool | None = None,
        with_clarification: bool | None = None,
    ) -> RetrieveOutcome:
        """Hybrid search with the rendered ``system_prompt_addition``.

        ``categories``: None or empty means all. ``consent_note`` (default: universal owners)
        words the block as shared with consent. ``with_clarification`` (default: tenant
        end-users) returns the owner's oldest open clarification so the agent can ask.
        """
        now = utcnow()
        codec = self.codec(owner)
        ranked = self.retriever.search(
            session,
            owner,
            codec,
            query=query,
            limit=limit,
            categories=categories,
            time_filter_days=time_filter_days,
            as_of=as_of,
            now=now,
        )
        note = owner.scope == "universal" if consent_note is None else consent_note
        text, tokens = render(ranked.context, format=format, max_tokens=context_max_tokens, consent_note=note)
        clarification = None
        if with_clarification if with_clarification is not None else owner.conflict_kind == "clarification":
            clarification = self.current_clarification(session, owner=owner, now=now)
        if ranked.memories:
            self.access.note(owner.family, [m.id for m in ranked.memories], now)
        return RetrieveOutcome(new_retrieval_id(), ranked.memories, text, tokens, clarification)

    def flush_access(self) -> int:
        """Write the batched read counts (the background thread calls this)."""
        return self.access.flush(self.rt.db)

    # --- one memory ------------------------------------------------------------------------------------

    def list(
        self,
        session: Session,
        *,
        owner: MemoryOwner,
        categories: Sequence[str] | None = None,
        cursor: str | None = None,
        limit: int = 50,
        statuses: Sequence[str] = LISTED_STATUSES,
    ) -> Page:
        """Newest first, active and archived (deleted ones never)."""
        repo = MemoryRepository(session, owner.family)
        codec = self.codec(owner)
        rows = list(
            repo.page(owner.id, categories=categories, statuses=statuses, after=_decode_cursor(cursor), limit=limit + 1)
        )
        next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        items = [memory_view(codec, row) for row in rows[:limit]]
        total = repo.count_for_owner(owner.id, categories=categories, statuses=statuses)
        return Page(items, next_cursor, limit, total)

    def get(self, session: Session, *, owner: MemoryOwner, memory_id: str) -> MemoryView:
        return memory_view(self.codec(owner), self._row(session, owner, memory_id))

    def update(
        self,
        session: Session,
        *,
        owner: MemoryOwner,
        memory_id: str,
        actor: str,
        content: str | None = None,
        category: str | None = None,
        importance: float | None = None,
        metadata: dict[str, Any] | None = None,
        event: str = "EDIT",
    ) -> MemoryView:
        """An explicit edit (``event``: EDIT, or CORRECT from a passport user): no de-duplication."""
        if category is not None and category not in CATEGORIES:
            raise BadRequest("unknown_category", f"category must be one of {', '.join(CATEGORIES)}")
        row = self._row(session, owner, memory_id, for_update=True)
        codec = self.codec(owner)
        writer = MemoryWriter(session, owner, codec, now=utcnow())
        current = codec.open(row.id, row.content_ct)
        if content is not None and content.strip() and content.strip() != current:
            text = content.strip()
            vector = self.rt.embedder.embed([text])[0]
            writer.rewrite(
                row, content=text, vector=vector, event=event, actor=actor, category=category, importance=importance
            )
            if metadata is not None:
                row.metadata_ct = codec.seal_json(row.id, metadata) if metadata else None
        elif category is not None or importance is not None or metadata is not None:
            writer.change(
                row,
                event=event,
                actor=actor,
                content=current,
                category=category,
                importance=importance,
                metadata=metadata,
            )
        writer.finish()
        return memory_view(codec, row)

    def flag(self, session: Session, *, owner: MemoryOwner, memory_id: str, flagged: bool, actor: str) -> MemoryView:
        row = self._row(session, owner, memory_id, for_update=True)
        codec = self.codec(owner)
        writer = MemoryWriter(session, owner, codec, now=utcnow())
        content = codec.open(row.id, row.content_ct)
        writer.change(row, event="FLAG" if flagged else "UNFLAG", actor=actor, content=content, flagged=flagged)
        writer.finish()
        return memory_view(codec, row, content=content)

    def delete(self, session: Session, *, owner: MemoryOwner, memory_id: str, actor: str, hard: bool = False) -> bool:
        """Soft: status ``deleted`` (kept with its history, never shown). Hard: rows gone."""
        row = self._row(session, owner, memory_id, for_update=True)
        codec = self.codec(owner)
        now = utcnow()
        writer = MemoryWriter(session, owner, codec, now=now)
        conflicts.close_for_memories(session, writer, [row.id], actor=actor, now=now)
        if hard:
            writer.purge([row])
        else:
            content = codec.open(row.id, row.content_ct)
            writer.change(row, event="DELETE", actor=actor, content=content, status="deleted", disputed=False)
        writer.finish()
        return True

    def history(self, session: Session, *, owner: MemoryOwner, memory_id: str) -> list[VersionView]:
        row = self._row(session, owner, memory_id)
        codec = self.codec(owner)
        return [version_view(codec, row.id, v) for v in MemoryRepository(session, owner.family).history(row.id)]

    def _row(self, session: Session, owner: MemoryOwner, memory_id: str, *, for_update: bool = False) -> Any:
        row = MemoryRepository(session, owner.family).get(owner.id, memory_id, for_update=for_update)
        if row is None:
            raise MemoryNotFound("no such memory")
        return row

    # --- conflicts ---------------------------------------------------------------------------------------

    def current_clarification(
        self, session: Session, *, owner: MemoryOwner, now: datetime | None = None
    ) -> ClarificationView | None:
        """The owner's oldest open, unexpired conflict, as a question."""
        open_ = MemoryRepository(session, owner.family).open_conflicts(
            owner.id, now=now or utcnow(), limit=1, **owner.conflict_where()
        )
        if not open_:
            return None
        return conflicts.describe_many(session, owner, self.codec(owner), list(open_))[0]

    def questions(
        self,
        session: Session,
        *,
        owner: MemoryOwner,
        status: str | None = "open",
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        """Clarifications, reviews or pending questions of this owner, newest first."""
        repo = MemoryRepository(session, owner.family)
        rows = list(
            repo.conflicts_page(
                owner.id, status=status, after=_decode_cursor(cursor), limit=limit + 1, **owner.conflict_where()
            )
        )
        next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        items = conflicts.describe_many(session, owner, self.codec(owner), rows[:limit])
        total = repo.count_conflicts(owner.id, status=status, **owner.conflict_where())
        return Page(items, next_cursor, limit, total)

    def question(self, session: Session, *, owner: MemoryOwner, conflict_id: str) -> ClarificationView:
        conflict = MemoryRepository(session, owner.family).conflict(owner.id, conflict_id, **owner.conflict_where())
        if conflict is None:
            raise conflicts.not_found(owner)
        return conflicts.describe_many(session, owner, self.codec(owner), [conflict])[0]

    def answer(
        self,
        session: Session,
        *,
        owner: MemoryOwner,
        conflict_id: str,
        answer: str,
        actor: str,
        free_text: str | None = None,
    ) -> AnswerOutcome:
        if answer not in ("A", "B", "both", "neither"):
            raise BadRequest("invalid_answer", "answer must be A, B, both or neither")
        return conflicts.answer(
            session,
            owner,
            self.codec(owner),
            conflict_id,
            resolution=answer,
            free_text=free_text,
            actor=actor,
            now=utcnow(),
        )

    # --- owners ------------------------------------------------------------------------------------------

    def forget_owner(self, owner: MemoryOwner) -> None:
        """Drop what this worker caches about an owner (after the owner is deleted)."""
        forget = getattr(self.index, "forget", None)
        if forget is not None:
            forget(owner.family, owner.key_label)

    def job_family(self, owner: MemoryOwner) -> str:
        return job_family(owner)


def _encode_cursor(row: Any) -> str:
    raw = f"{row.created_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, row_id = raw.partition("|")
        moment = datetime.fromisoformat(created)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("invalid_cursor", "the cursor is not one this API returned") from exc
    # Row ids are short printable ASCII; anything else (a NUL, say) never came from this API
    # and must not reach the database, which would refuse it with a 500.
    if not row_id or len(row_id) > 64 or not (row_id.isascii() and row_id.isprintable()) or moment.tzinfo is None:
        raise BadRequest("invalid_cursor", "the cursor is not one this API returned")
    return moment, row_id
