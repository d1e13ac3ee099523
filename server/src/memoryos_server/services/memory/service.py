"""The memory service: one owner's memories, for any family (tenant, workspace, universal).

Every method takes the session first and keyword-only arguments, flushes but never commits
(the caller owns the transaction), and works on exactly one ``MemoryOwner``: every query is
filtered by that owner, so an id of anyone else's memory is simply not found.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.engine.extraction import embedding_scope
from memoryos_server.engine.extraction.claims import as_statements
from memoryos_server.engine.retrieval.answerable import SearchFloor
from memoryos_server.engine.types import CATEGORIES, ChatMessage, Extractor
from memoryos_server.errors import BadRequest, JobNotFound, MemoryNotFound, WriteNotPermitted
from memoryos_server.services.memory import conflicts, jobs
from memoryos_server.services.memory.access import AccessLog
from memoryos_server.services.memory.usage_days import ADDS, RETRIEVALS, UsageDays
from memoryos_server.services.memory.claims import Claim
from memoryos_server.services.memory.codec import MemoryCodec
from memoryos_server.services.memory.idempotency import Idempotency
from memoryos_server.services.memory.ingest import (
    AddContext,
    Ingestor,
    candidate_texts,
    embed_candidates,
    embed_texts,
    select_candidates,
    verbatim,
)
from memoryos_server.services.identity import external_user_id_of
from memoryos_server.services.ids import decode_time_cursor, encode_time_cursor, is_plain_id, row_number_cursor
from memoryos_server.services.memory.owner import MemoryOwner, job_family
from memoryos_server.services.memory.query_vectors import PendingVector, QueryVectors
from memoryos_server.services.memory.retrieve import Retriever, new_retrieval_id, render
from memoryos_server.services.memory.scope import MemoryScope
from memoryos_server.services.memory.types import (
    AddOutcome,
    AnswerOutcome,
    ClarificationView,
    JobView,
    MemoryView,
    Page,
    PreparedAdd,
    PreparedText,
    RetrieveOutcome,
    VersionSource,
    VersionView,
)
from memoryos_server.services.memory.views import memory_view, version_view
from memoryos_server.services.memory.writer import MemoryWriter
from memoryos_server.services.runtime import Runtime
from memoryos_server.storable import has_visible_text
from memoryos_server.storage.index import build_search_index
from memoryos_server.storage.index.filters import mask_outside
from memoryos_server.storage.models import EMBEDDING_DIM
from memoryos_server.storage.repositories.agents import AgentRepository
from memoryos_server.storage.repositories.jobs import JobRepository
from memoryos_server.storage.repositories.identity import UserRepository
from memoryos_server.storage.repositories.memories import TENANT, MemoryRepository
from memoryos_server.storage.repositories.provenance import ServiceWriterRepository, SourceEventRepository
from memoryos_server.storage.types import utcnow

LISTED_STATUSES = ("active", "archived")
SORTS = ("newest", "oldest", "importance")


class MemoryService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.index = build_search_index(runtime.db.dialect, dim=EMBEDDING_DIM)
        self.ingestor = Ingestor(self.index)
        self.query_vectors = QueryVectors(lambda: runtime.embedder, EMBEDDING_DIM)
        self.retriever = Retriever(self.index, self.query_vectors)
        self.access = AccessLog()
        self.usage_days = UsageDays()
        self.idempotency = Idempotency(runtime)

    @property
    def queues_extraction(self) -> bool:
        """LLM extraction is configured: adds are queued for the worker."""
        return bool(self.rt.settings.llm_base_url)

    def codec(self, owner: MemoryOwner) -> MemoryCodec:
        return MemoryCodec(self.rt.vault.key(owner.row))

    # --- add --------------------------------------------------------------------------------------

    def prepare_add(
        self, messages: Sequence[ChatMessage], *, infer: bool = True, category: str | None = None
    ) -> PreparedAdd | None:
        """On SQLite, before an add's transaction: its extraction and its embeddings. SQLite has
        one writer at a time, and an add takes the write lock with
        its first statement: extracting and embedding inside it made concurrent adds queue
        behind each other's embeddings (``bench/load.py``). ``None`` where there is nothing to
        gain: on PostgreSQL (writers of different owners do not wait for each other) and for a
        queued add."""
        if not self.rt.db.is_sqlite or not messages or (infer and self.queues_extraction):
            return None
        if category is not None and category not in CATEGORIES:
            return None  # refused by ``add``
        now = utcnow()
        embedder = self.rt.embedder
        with embedding_scope(embedder):  # the classifier's vectors serve the embedding below
            extracted = self.rt.extractor.extract(messages, now=now) if infer else verbatim(messages, category or "fact")
            texts = candidate_texts(extracted)
            vectors = embed_texts(embedder, texts, EMBEDDING_DIM) if texts else []
        return PreparedAdd(tuple(messages), infer, category, now, tuple(extracted), dict(zip(texts, vectors, strict=True)))

    def prepare_text(self, text: str | None) -> PreparedText | None:
        """Before an edit's or a correction's transaction: the new text's embedding, for the
        write that follows. Embedding inside the transaction made every other writer wait for
        it (on SQLite, the whole database's writers; on PostgreSQL, whoever wants the memory's
        row)."""
        if text is None or not text.strip():
            return None
        return PreparedText(text.strip(), embed_texts(self.rt.embedder, [text.strip()], EMBEDDING_DIM)[0])

    def add(
        self,
        session: Session,
        scope: MemoryScope,
        *,
        messages: Sequence[ChatMessage],
        infer: bool = True,
        category: str | None = None,
        metadata: dict[str, Any] | None = None,
        source: dict[str, Any] | None = None,
        conversation_id: str | None = None,
        agent_id: str | None = None,
        claim: Claim | None = None,
        prepared: PreparedAdd | None = None,
    ) -> AddOutcome:
        """Extract, de-duplicate and store; or queue the extraction when an LLM does it.

        ``infer=False`` stores each message verbatim under ``category`` (default ``fact``).
        Memories in categories outside the scope's are dropped and counted in ``skipped``; a
        scope that may not write is refused (``WriteNotPermitted``). The scope's audit sink
        records what was written (a queued add: once the worker has written).

        ``claim``: the add is a service writer's (its source event, recorded by
        ``ProvenanceService``): every message is a claim about the owner, read as the owner's own
        statement whatever its role (``engine.extraction.claims``), and every memory written
        points to the event.

        ``prepared``: this add's extraction made by ``prepare_add`` before the transaction (used
        only for the same messages and options, and never for a claim, whose messages are read
        otherwise).
        """
        if not scope.can_write or scope.refusal is not None or scope.owner is None:
            raise WriteNotPermitted("this caller may not add to these memories")
        if not messages:
            raise BadRequest("messages_required", "give at least one message")
        if category is not None and category not in CATEGORIES:
            raise BadRequest("unknown_category", f"category must be one of {', '.join(CATEGORIES)}")
        owner = scope.owner
        allowed = list(scope.categories) if scope.categories is not None else None
        context = AddContext(
            actor=scope.actor,
            agent_id=agent_id or scope.agent_id,
            api_key_id=scope.api_key_id,
            conversation_id=conversation_id,
            metadata=metadata or None,
            source=source or scope.source or None,
            claim=claim,
        )
        if claim is not None and infer:
            messages = as_statements(messages)
        if prepared is not None and (claim is not None or prepared.request != (tuple(messages), infer, category)):
            prepared = None  # made for another add
        now = prepared.now if prepared is not None else utcnow()
        self.usage_days.note(scope.tenant_id, ADDS, now)
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
        # One scope for the add: the classifier's vectors (or those prepared before the
        # transaction) serve the add's own embedding; none outlive it.
        with embedding_scope(self.rt.embedder, prepared.vectors if prepared is not None else None):
            if prepared is not None:
                extracted: Sequence[Any] = prepared.extracted
            else:
                extracted = extractor.extract(messages, now=now) if infer else verbatim(messages, category or "fact")
            extractor_name = extractor.name if infer else "verbatim"
            outcome = self.store_extracted(
                session,
                owner=owner,
                extracted=extracted,
                context=context,
                allowed_categories=allowed,
                extractor=extractor_name,
                now=now,
                verbatim=not infer,
            )
        scope.audit.wrote(session, scope, outcome)
        return outcome

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
        verbatim: bool = False,
    ) -> AddOutcome:
        """Embed, decide and write candidates an extractor produced; record the completed job.

        ``verbatim``: the caller's own texts (``infer: false``), stored as given. ``nothing_to_extract``
        is true only when no memory was found at all: memories dropped for their category count
        in ``skipped`` instead (SPEC §5)."""
        codec = self.codec(owner)
        kept, skipped = select_candidates(extracted, allowed_categories)
        candidates = embed_candidates(self.rt.embedder, kept, EMBEDDING_DIM)
        applied = self.ingestor.apply(
            session, owner, codec, candidates, context=context, now=now, verbatim=verbatim, writable=allowed_categories
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
            nothing_to_extract=not applied.events and not skipped,
            results=applied.events,
            skipped=skipped,
            extractor=extractor,
            conflict_ids=applied.conflict_ids,
        )

    # --- jobs ----------------------------------------------------------------------------------------

    def job(self, session: Session, scope: MemoryScope, job_id: str) -> JobView:
        """One add job the scope may see: a tenant's (any of its end-users' or the workspace's,
        results not decrypted), or a passport owner's made by the scope's own agent (decrypted)."""
        owner = scope.owner
        if not is_plain_id(job_id):
            raise JobNotFound("no such job")
        if owner is None or owner.family is TENANT:
            if scope.tenant_id is None:
                raise JobNotFound("no such job")
            found = JobRepository(session).get(job_id, family="tenant", tenant_id=scope.tenant_id)
            codec = None
        else:
            found = JobRepository(session).get(job_id, family=job_family(owner), owner_id=owner.id)
            if found is not None and scope.agent_id is not None and found.agent_id != scope.agent_id:
                found = None
            codec = self.codec(owner)
        if found is None:
            raise JobNotFound("no such job")
        view = jobs.view(found, codec)
        if owner is not None and owner.family is not TENANT:
            view = self._shown_job(session, scope, owner, view)
        return view

    @staticmethod
    def _shown_job(session: Session, scope: MemoryScope, owner: MemoryOwner, view: JobView) -> JobView:
        """A passport job's results as its reader may see them *now*: a job outlives the grant
        that wrote it, and its results name memories (a NOOP's, an UPDATE's text is the stored
        memory's, not the agent's). A revoked or expired grant sees the job's state and counts
        and no memory; otherwise only memories its searches would return (not deleted, not
        flagged, within its categories and their doubt)."""
        ids = [*(event.id for event in view.results or []), *view.created_memory_ids]
        rows = MemoryRepository(session, owner.family).by_ids(owner.id, list(dict.fromkeys(ids)), with_vectors=False)
        shown = {memory_id for memory_id, row in rows.items() if scope.shows(row)}
        return dataclasses.replace(
            view,
            created_memory_ids=[memory_id for memory_id in view.created_memory_ids if memory_id in shown],
            results=None if view.results is None else [event for event in view.results if event.id in shown],
        )

    # --- retrieve -------------------------------------------------------------------------------------

    def retrieve(
        self,
        session: Session,
        scope: MemoryScope,
        *,
        query: str,
        limit: int = 10,
        categories: Sequence[str] | None = None,
        time_filter_days: int | None = None,
        as_of: datetime | None = None,
        format: str = "bullets",
        context_max_tokens: int = 500,
        min_relevance: float | None = None,
        query_vector: PendingVector | None = None,
    ) -> RetrieveOutcome:
        """Hybrid search with the rendered ``system_prompt_addition``.

        ``categories`` narrows the scope's categories (None or empty: all of them). A scope
        refused outright (no active grant) or asking only for categories it may not read gets
        nothing, with the reason in ``permission_error``; either way the audit sink sees the read.
        ``min_relevance``: when even the best match is less relevant, nothing is returned (0:
        the best ones however weak). None: ``Runtime.search_floor``, by default the embedder's
        answerability model. ``query_vector``: the query's embedding, started by the caller
        (``QueryVectors.start``); else computed here, when the search needs it.
        """
        allowed = scope.narrow(categories)
        available = list(scope.categories) if scope.categories is not None and scope.refusal is None else []
        if scope.refusal is not None or allowed == []:
            refused = RetrieveOutcome(
                new_retrieval_id(), [], "", 0, None,
                permission_error=scope.refusal or "categories_not_granted",
                categories_available=available,
                categories_searched=[],
            )
            scope.audit.read(session, scope, refused, requested=categories)
            return refused
        self.usage_days.note(scope.tenant_id, RETRIEVALS, utcnow())
        owner = scope.owner
        if owner is None:  # an end-user never seen: nothing to find, nothing created
            return RetrieveOutcome(new_retrieval_id(), [], "", 0, None)
        now = utcnow()
        codec = self.codec(owner)
        ranked = self.retriever.search(
            session,
            owner,
            codec,
            query=query,
            limit=limit,
            categories=allowed,
            time_filter_days=time_filter_days,
            as_of=as_of,
            now=now,
            floor=self.rt.search_floor if min_relevance is None else SearchFloor(min_relevance=min_relevance),
            vector=query_vector.result if query_vector is not None else None,
        )
        memories = ranked.memories
        text, tokens = render(ranked.context, format=format, max_tokens=context_max_tokens, consent_note=scope.for_agent)
        if scope.categories is not None and any(not scope.admits(m.category) for m in memories):
            # Never reached while the search filter holds; if it ever did not, show nothing
            # rather than text that may quote a category outside the caller's.
            memories, text, tokens = [], "", 0
        clarification = self.current_clarification(session, owner=owner, now=now) if scope.asks_clarifications else None
        if memories:
            self.access.note(owner.family, [m.id for m in memories], now)
        outcome = RetrieveOutcome(
            new_retrieval_id(), memories, text, tokens, clarification,
            categories_available=available,
            categories_searched=allowed if allowed is not None else list(CATEGORIES),
        )
        scope.audit.read(session, scope, outcome, requested=categories)
        return outcome

    def flush_access(self) -> int:
        """Write the batched read counts, and the day's counts of adds and retrievals (the
        background thread calls this)."""
        self.usage_days.flush(self.rt.db)
        return self.access.flush(self.rt.db)

    # --- one memory ------------------------------------------------------------------------------------

    def list(
        self,
        session: Session,
        scope: MemoryScope,
        *,
        categories: Sequence[str] | None = None,
        cursor: str | None = None,
        limit: int = 50,
        sort: str = "newest",
        statuses: Sequence[str] = LISTED_STATUSES,
    ) -> Page:
        """Active and archived memories (deleted ones never). ``newest`` pages by a keyset
        cursor; ``oldest`` and ``importance`` by position (``o<offset>``), fine for one
        owner's memories."""
        if sort not in SORTS:
            raise BadRequest("invalid_sort", f"sort must be one of {', '.join(SORTS)}")
        # The cursor is checked first: one that never came from this API is refused whoever asks,
        # not only when the owner has memories to page through.
        after = _decode_cursor(cursor) if sort == "newest" else None
        offset = 0 if sort == "newest" else (row_number_cursor(cursor, prefix="o") or 0)
        owner = scope.owner
        wanted = scope.narrow(categories)
        if owner is None or wanted == [] or scope.refusal is not None:
            return Page([], None, limit, 0)
        # An agent lists what it could find: active memories only, nothing the person flagged,
        # and nothing that may belong to a category outside its grant (the rule for doubt).
        for_agent = mask_outside(scope.categories) if scope.for_agent else None
        if scope.for_agent:
            statuses = ("active",)
        repo = MemoryRepository(session, owner.family)
        codec = self.codec(owner)
        if sort == "newest":
            rows = list(
                repo.page(owner.id, categories=wanted, statuses=statuses, after=after, limit=limit + 1, for_agent=for_agent)
            )
            next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        else:
            rows = list(
                repo.page_ordered(
                    owner.id, categories=wanted, statuses=statuses, order=sort, offset=offset, limit=limit + 1, for_agent=for_agent
                )
            )
            next_cursor = f"o{offset + limit}" if len(rows) > limit else None
        items = [memory_view(codec, row) for row in rows[:limit]]
        total = repo.count_for_owner(owner.id, categories=wanted, statuses=statuses, for_agent=for_agent)
        page = Page(items, next_cursor, limit, total)
        scope.audit.listed(session, scope, page, requested=categories)
        return page

    def get(self, session: Session, scope: MemoryScope, memory_id: str) -> MemoryView:
        owner = self._owner(scope)
        return memory_view(self.codec(owner), self._row(session, scope, memory_id))

    def update(
        self,
        session: Session,
        scope: MemoryScope,
        memory_id: str,
        *,
        content: str | None = None,
        category: str | None = None,
        importance: float | None = None,
        metadata: dict[str, Any] | None = None,
        flagged: bool | None = None,
        event: str = "EDIT",
        prepared: PreparedText | None = None,
    ) -> MemoryView:
        """An explicit edit (``event``: EDIT, or CORRECT from a passport user): no de-duplication.

        ``flagged`` sets or removes the owner's flag as ``flag`` does (a FLAG or UNFLAG version).
        ``prepared``: the new text's vector from ``prepare_text`` (used for that text only)."""
        owner = self.writable(scope)
        if category is not None and category not in CATEGORIES:
            raise BadRequest("unknown_category", f"category must be one of {', '.join(CATEGORIES)}")
        if content is not None and not has_visible_text(content):
            raise BadRequest("empty_content", "content must hold some visible text")
        row = self._row(session, scope, memory_id, for_update=True)
        codec = self.codec(owner)
        writer = MemoryWriter(session, owner, codec, now=utcnow())
        current = codec.open(row.id, row.content_ct)
        if content is not None and content.strip() != current:
            text = content.strip()
            vector = prepared.vector if prepared is not None and prepared.text == text else embed_texts(self.rt.embedder, [text], EMBEDDING_DIM)[0]
            writer.rewrite(
                row, content=text, vector=vector, event=event, actor=scope.actor, category=category, importance=importance
            )
            if metadata is not None:
                row.metadata_ct = codec.seal_json(row.id, metadata) if metadata else None
        elif category is not None or importance is not None or metadata is not None:
            writer.change(
                row,
                event=event,
                actor=scope.actor,
                content=current,
                category=category,
                importance=importance,
                metadata=metadata,
            )
        if flagged is not None and flagged != bool(row.flagged):
            writer.change(
                row,
                event="FLAG" if flagged else "UNFLAG",
                actor=scope.actor,
                content=codec.open(row.id, row.content_ct),
                flagged=flagged,
            )
        writer.finish()
        view = memory_view(codec, row)
        if event == "CORRECT":
            scope.audit.changed(session, scope, "memory.corrected", view)
        return view

    def correct(
        self, session: Session, scope: MemoryScope, memory_id: str, *, corrected_content: str, prepared: PreparedText | None = None
    ) -> MemoryView:
        """The owner's own correction: the old text stays in the history."""
        text = corrected_content.strip()
        if not has_visible_text(text):
            raise BadRequest("empty_correction", "corrected_content must hold some visible text")
        return self.update(session, scope, memory_id, content=text, event="CORRECT", prepared=prepared)

    def flag(self, session: Session, scope: MemoryScope, memory_id: str, *, flagged: bool) -> MemoryView:
        owner = self.writable(scope)
        row = self._row(session, scope, memory_id, for_update=True)
        codec = self.codec(owner)
        writer = MemoryWriter(session, owner, codec, now=utcnow())
        content = codec.open(row.id, row.content_ct)
        writer.change(row, event="FLAG" if flagged else "UNFLAG", actor=scope.actor, content=content, flagged=flagged)
        writer.finish()
        view = memory_view(codec, row, content=content)
        scope.audit.changed(session, scope, "memory.flagged" if flagged else "memory.unflagged", view)
        return view

    def delete(self, session: Session, scope: MemoryScope, memory_id: str, *, hard: bool = False) -> bool:
        """Soft: status ``deleted`` (kept with its history, never shown). Hard: rows gone."""
        owner = self.writable(scope)
        row = self._row(session, scope, memory_id, for_update=True)
        codec = self.codec(owner)
        now = utcnow()
        writer = MemoryWriter(session, owner, codec, now=now)
        conflicts.close_for_memories(session, writer, [row.id], actor=scope.actor, now=now)
        content = codec.open(row.id, row.content_ct)
        if hard:
            writer.purge([row])
        else:
            writer.change(row, event="DELETE", actor=scope.actor, content=content, status="deleted", disputed=False)
        writer.finish()
        scope.audit.changed(session, scope, "memory.deleted", memory_view(codec, row, content=content))
        return True

    def history(self, session: Session, scope: MemoryScope, memory_id: str) -> list[VersionView]:
        owner = self._owner(scope)
        row = self._row(session, scope, memory_id)
        codec = self.codec(owner)
        rows = MemoryRepository(session, owner.family).history(row.id)
        names = self.actor_names(session, rows)
        sources = self._version_sources(session, owner, rows)
        return [
            version_view(
                codec,
                row.id,
                v,
                actor_name=names.get(v.actor or ""),
                source=sources.get(getattr(v, "source_event_id", None) or ""),
            )
            for v in rows
        ]

    @staticmethod
    def _version_sources(session: Session, owner: MemoryOwner, versions: Sequence[Any]) -> dict[str, VersionSource]:
        """The service claims behind a memory's versions: which service said it, and when."""
        ids = sorted({v.source_event_id for v in versions if getattr(v, "source_event_id", None)})
        if not ids or owner.tenant_id is None:
            return {}
        events = SourceEventRepository(session).by_ids(owner.tenant_id, ids)
        writers = {w.service_key: w for w in ServiceWriterRepository(session).for_tenant(owner.tenant_id)}
        found: dict[str, VersionSource] = {}
        for event_id in ids:
            event = events.get(event_id)
            writer = writers.get(event.service_key) if event is not None else None
            found[event_id] = VersionSource(
                source_event_id=event_id,
                service=event.service_key if event is not None else None,
                service_name=writer.display_name if writer is not None else None,
                event_id=event.event_id if event is not None else None,
                observed_at=event.observed_at if event is not None else None,
                received_at=event.received_at if event is not None else None,
            )
        return found

    @staticmethod
    def actor_names(session: Session, versions: Sequence[Any]) -> dict[str, str]:
        """The agent's name for each ``agent:<id>`` actor among ``versions`` (deleted agents
        included), so a history says "By: Study Buddy" rather than "an agent"."""
        agent_of = {v.actor: v.actor.split(":", 1)[1].split(" ", 1)[0] for v in versions if v.actor and v.actor.startswith("agent:")}
        agents = AgentRepository(session).any_by_ids(sorted(set(agent_of.values())))
        return {actor: agents[agent_id].name for actor, agent_id in agent_of.items() if agent_id in agents}

    @staticmethod
    def _owner(scope: MemoryScope) -> MemoryOwner:
        if scope.owner is None:
            raise MemoryNotFound("no such memory")
        return scope.owner

    def writable(self, scope: MemoryScope) -> MemoryOwner:
        """The owner a write goes to; ``WriteNotPermitted`` for a scope that may not write."""
        if not scope.can_write or scope.refusal is not None:
            raise WriteNotPermitted("this caller may not change these memories")
        return self._owner(scope)

    def _row(self, session: Session, scope: MemoryScope, memory_id: str, *, for_update: bool = False) -> Any:
        owner = self._owner(scope)
        row = MemoryRepository(session, owner.family).get(owner.id, memory_id, for_update=for_update)
        if row is None or not scope.shows(row):  # its doubt too, as every read path
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
        scope: MemoryScope,
        *,
        status: str | None = "open",
        cursor: str | None = None,
        limit: int = 50,
    ) -> Page:
        """Clarifications, reviews or pending questions of the scope's owner, newest first; for
        a tenant-wide review scope, the tenant's reviews whoever they are about (the workspace's
        contradictions, and ties between two service writers on an end-user's memories)."""
        if scope.tenant_wide and scope.conflicts == "review":
            return self._tenant_reviews(session, scope, status=status, cursor=cursor, limit=limit)
        owner = scope.owner
        if owner is None:
            return Page([], None, limit, 0)
        repo = MemoryRepository(session, owner.family)
        where = _conflict_where(scope, owner)
        rows = list(repo.conflicts_page(owner.id, status=status, after=_decode_cursor(cursor), limit=limit + 1, **where))
        next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        items = conflicts.describe_many(session, owner, self.codec(owner), rows[:limit])
        total = repo.count_conflicts(owner.id, status=status, **where)
        return Page(items, next_cursor, limit, total)

    def _tenant_reviews(
        self, session: Session, scope: MemoryScope, *, status: str | None, cursor: str | None, limit: int
    ) -> Page:
        if scope.tenant_id is None:
            return Page([], None, limit, 0)
        repo = MemoryRepository(session, TENANT)
        rows = list(
            repo.tenant_conflicts_page(scope.tenant_id, kind="review", status=status, after=_decode_cursor(cursor), limit=limit + 1)
        )
        next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
        described: dict[str, ClarificationView] = {}
        by_owner: dict[int, list[Any]] = {}
        for row in rows[:limit]:
            by_owner.setdefault(row.owner_id, []).append(row)
        for owner_id, owned in by_owner.items():
            owner = self._review_owner(session, scope.tenant_id, owner_id)
            if owner is None:
                continue
            about = external_user_id_of(self.rt.vault, owner.row) if owner.scope == "tenant" else None
            for view in conflicts.describe_many(session, owner, self.codec(owner), owned):
                described[view.id] = dataclasses.replace(view, external_user_id=about)
        items = [described[row.id] for row in rows[:limit] if row.id in described]
        total = repo.count_tenant_conflicts(scope.tenant_id, kind="review", status=status)
        return Page(items, next_cursor, limit, total)

    @staticmethod
    def _review_owner(session: Session, tenant_id: int, owner_id: int) -> MemoryOwner | None:
        """Whose memories a tenant review is about: the workspace, or one end-user."""
        user = UserRepository(session).by_id(owner_id)
        if user is None or user.tenant_id != tenant_id:
            return None
        if user.kind == "workspace":
            return MemoryOwner.workspace(user)
        return MemoryOwner.end_user(user, tenant_id=tenant_id)

    def review_scope(self, session: Session, scope: MemoryScope, review_id: str) -> MemoryScope:
        """A tenant-wide review scope narrowed to the owner the review is about."""
        conflict = (
            MemoryRepository(session, TENANT).tenant_conflict(scope.tenant_id, review_id, kind="review")
            if scope.tenant_id is not None and is_plain_id(review_id)
            else None
        )
        owner = self._review_owner(session, scope.tenant_id, conflict.owner_id) if conflict is not None else None  # type: ignore[arg-type]
        if owner is None:
            raise conflicts.not_found("review")
        return dataclasses.replace(scope, owner=owner, tenant_wide=False)

    def question(self, session: Session, scope: MemoryScope, conflict_id: str) -> ClarificationView:
        if scope.tenant_wide and scope.conflicts == "review":
            scope = self.review_scope(session, scope, conflict_id)
        owner = scope.owner
        conflict = (
            MemoryRepository(session, owner.family).conflict(owner.id, conflict_id, **_conflict_where(scope, owner))
            if owner is not None and is_plain_id(conflict_id)
            else None
        )
        if conflict is None:
            raise conflicts.not_found(scope.conflicts)
        return conflicts.describe_many(session, owner, self.codec(owner), [conflict])[0]

    def answer(
        self,
        session: Session,
        scope: MemoryScope,
        conflict_id: str,
        *,
        answer: str,
        free_text: str | None = None,
    ) -> AnswerOutcome:
        if answer not in ("A", "B", "both", "neither"):
            raise BadRequest("invalid_answer", "answer must be A, B, both or neither")
        if scope.tenant_wide and scope.conflicts == "review":
            scope = self.review_scope(session, scope, conflict_id)
        owner = scope.owner
        if owner is None or not is_plain_id(conflict_id):
            raise conflicts.not_found(scope.conflicts)
        self.writable(scope)
        outcome = conflicts.answer(
            session,
            owner,
            self.codec(owner),
            conflict_id,
            resolution=answer,
            free_text=free_text,
            actor=scope.actor,
            now=utcnow(),
            kind=scope.conflicts if owner.is_tenant_family else None,
        )
        scope.audit.answered(session, scope, outcome)
        return outcome

    # --- owners ------------------------------------------------------------------------------------------

    def forget_owner(self, owner: MemoryOwner) -> None:
        """Drop what this worker caches about an owner (after the owner is deleted)."""
        forget = getattr(self.index, "forget", None)
        if forget is not None:
            forget(owner.family, owner.key_label)

    def job_family(self, owner: MemoryOwner) -> str:
        return job_family(owner)


def _conflict_where(scope: MemoryScope, owner: MemoryOwner) -> dict[str, Any]:
    """The conflict rows a scope answers for: its kind of question (tenant rows carry one)."""
    return {"kind": scope.conflicts} if owner.is_tenant_family else {}


def _encode_cursor(row: Any) -> str:
    return encode_time_cursor(row.created_at, row.id)


def _decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    return decode_time_cursor(cursor)
