"""Adding memories: extraction → one batch of embeddings → a decision per candidate → writes.

An exact restatement (same keyed hash of the normalised text, same category) of an active
memory, or of one this same add wrote before it, is a NOOP without asking the index.

Otherwise, for an extracted candidate (``infer: true``), its nearest active memories of the
same owner and category (the dense index, one query per category present in the batch, all
before this transaction writes anything) plus the memories this same add wrote before it are
compared with it by ``engine.conflicts.detect``. The first neighbour, by similarity, that is
not an ADD decides:

- NOOP: a restatement; nothing is written and the existing memory is reported.
- UPDATE: the existing memory takes the new text (a version is appended).
- CONFLICT: the new memory is stored, both are marked disputed, and a clarification (tenant
  end-user), review (workspace) or pending question (passport user) is opened.
- ADD: stored alongside.

A candidate from a service writer (``AddContext.claim``) that contradicts other services'
claims is settled by ``ClaimJudge`` instead (``claims.py``), against each of them: outranked by
any, it is stored and archived at once (the claim was made); else the claims it outranks are
archived, with the reason in their history, and a tie opens a tenant review. A claim
contradicting the owner's own words is a CONFLICT like any other.

A verbatim candidate (``infer: false``) is the caller's own text, kept as written: past the
exact restatement it is always an ADD. Similar texts that differ by a number or an identifier
are different records, so a verbatim add never rewrites another memory and never opens a
conflict (SPEC §7).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from memoryos_server.engine.conflicts import DEFAULT_THRESHOLDS, Decision, detect
from memoryos_server.engine.conflicts.authority import Verdict
from memoryos_server.engine.types import CATEGORIES, ChatMessage, Embedder, ExtractedMemory
from memoryos_server.errors import ServiceUnavailable
from memoryos_server.services.memory import conflicts
from memoryos_server.services.memory.claims import Claim, ClaimJudge
from memoryos_server.services.memory.codec import MemoryCodec
from memoryos_server.services.memory.owner import MemoryOwner
from memoryos_server.services.memory.types import AddEvent, Resolution
from memoryos_server.services.memory.writer import MemoryWriter
from memoryos_server.storage.index import SearchIndex, category_mask
from memoryos_server.storage.index.filters import mask_outside
from memoryos_server.storage.repositories.memories import MemoryRepository

NEIGHBOURS = 5  # fetched from the index per candidate
# Compared with ``detect`` per candidate, nearest first: the nearest decides nearly always, and
# each comparison costs about half a millisecond.
COMPARED = 3
# Below this cosine ``detect`` calls two memories unrelated: no need to ask it.
RELATED = DEFAULT_THRESHOLDS.related
CLARIFICATION_TTL = timedelta(days=30)
VERBATIM_IMPORTANCE = 5
# A verbatim message of a dialogue is indexed for keyword search with this many messages of the
# same add before and after it, at half the weight of its own words (``MemoryCodec.terms``;
# measured on LoCoMo's development half: docs/benchmarks.md).
CONTEXT_BEFORE = 2
CONTEXT_AFTER = 2
MAX_MEMORY_CHARS = 16_000


@dataclass(frozen=True)
class AddContext:
    """Who is adding, and the provenance each new memory keeps."""

    actor: str
    agent_id: str | None = None
    api_key_id: int | None = None
    conversation_id: str | None = None
    metadata: dict[str, Any] | None = None
    source: dict[str, Any] | None = None
    claim: Claim | None = None  # an add from a service writer: its source event

    @property
    def provenance(self) -> dict[str, Any] | None:
        """What each new memory keeps as its source: the claim's provenance, else the caller's."""
        return self.claim.provenance if self.claim is not None else self.source


@dataclass
class Candidate:
    content: str
    category: str
    importance: float
    confidence: float
    valid_at: datetime | None
    vector: np.ndarray
    keyword_context: str = ""
    doubt: tuple[str, ...] = ()  # other plausible categories (ExtractedMemory.also_categories)

    @property
    def required(self) -> set[str]:
        """Every category a reader (or writer) must be allowed to touch this memory."""
        return {self.category, *self.doubt}


@dataclass
class ApplyResult:
    events: list[AddEvent] = field(default_factory=list)
    conflict_ids: list[str] = field(default_factory=list)


def verbatim(messages: Sequence[ChatMessage], category: str) -> list[ExtractedMemory]:
    """``infer: false``: every message as it was written, one memory each, dated by its
    ``occurred_at``.

    When the add is a dialogue (messages of more than one role), each message is indexed for
    keyword search with the two messages before it and the two after it (``CONTEXT_BEFORE``,
    ``CONTEXT_AFTER``), its own words counting twice as much: a reply ("Toronto Waterfront,
    October 19") is found by the words of the question it answers, and the question itself still
    ranks first for them. A list of separate facts (one role) is indexed message by message.
    The context changes only the keyword index: the memory's text and its embedding are the
    message's own.
    """
    texts = [message.content.strip() for message in messages]
    dialogue = len({message.role for message in messages}) > 1
    memories = []
    for index, message in enumerate(messages):
        if not texts[index]:
            continue
        context = ""
        if dialogue:
            around = texts[max(0, index - CONTEXT_BEFORE) : index] + texts[index + 1 : index + 1 + CONTEXT_AFTER]
            context = "\n".join(t for t in around if t)
        memories.append(
            ExtractedMemory(
                content=texts[index],
                category=category,
                importance=VERBATIM_IMPORTANCE,
                confidence=1.0,
                valid_at=message.occurred_at,
                source_index=index,
                keyword_context=context,
            )
        )
    return memories


def select_candidates(
    extracted: Sequence[ExtractedMemory], allowed_categories: Sequence[str] | None
) -> tuple[list[ExtractedMemory], int]:
    """Drop what no store may hold (unknown category, empty) and what the caller may not write.

    A memory in doubt is written only by a caller allowed every category it may belong to:
    an agent could not read it back otherwise, and must not file what it may not see.
    """
    allowed = set(allowed_categories) if allowed_categories is not None else None
    kept: list[ExtractedMemory] = []
    skipped = 0
    for memory in extracted:
        content = memory.content.strip()
        if not content or memory.category not in CATEGORIES:
            continue
        if allowed is not None and not {memory.category, *memory.also_categories} <= allowed:
            skipped += 1
            continue
        kept.append(memory)
    return kept, skipped


def candidate_texts(memories: Sequence[ExtractedMemory]) -> list[str]:
    """The text each extracted memory is stored, and embedded, as."""
    return [m.content.strip()[:MAX_MEMORY_CHARS] for m in memories]


def embed_texts(embedder: Embedder, texts: Sequence[str], dim: int) -> np.ndarray:
    """One vector per text, or ``ServiceUnavailable`` when the embedder answers otherwise."""
    vectors = np.asarray(embedder.embed(list(texts)), dtype=np.float32)
    if vectors.ndim != 2 or vectors.shape != (len(texts), dim):
        raise ServiceUnavailable(
            f"the embedder returned vectors of shape {vectors.shape}; storage holds {dim} dimensions"
        )
    return vectors


def embed_candidates(embedder: Embedder, memories: Sequence[ExtractedMemory], dim: int) -> list[Candidate]:
    if not memories:
        return []
    texts = candidate_texts(memories)
    vectors = embed_texts(embedder, texts, dim)
    return [
        Candidate(
            content=text,
            category=m.category,
            importance=float(min(max(m.importance, 1), 10)),
            confidence=float(min(max(m.confidence, 0.0), 1.0)),
            valid_at=m.valid_at,
            vector=vectors[i],
            keyword_context=m.keyword_context,
            doubt=tuple(c for c in dict.fromkeys(m.also_categories) if c in CATEGORIES and c != m.category),
        )
        for i, (m, text) in enumerate(zip(memories, texts, strict=True))
    ]


class Ingestor:
    def __init__(self, index: SearchIndex) -> None:
        self.index = index

    def apply(
        self,
        session: Session,
        owner: MemoryOwner,
        codec: MemoryCodec,
        candidates: Sequence[Candidate],
        *,
        context: AddContext,
        now: datetime,
        verbatim: bool = False,
        writable: Sequence[str] | None = None,
    ) -> ApplyResult:
        """Decide and write ``candidates``; ``verbatim``: exact restatements only (see above).
        ``writable`` (an agent's grant): the existing memories compared with are only those
        whose every plausible category it holds."""
        result = ApplyResult()
        if not candidates:
            return result
        writer = MemoryWriter(session, owner, codec, now=now)  # locks the owner's writers out
        claim = context.claim if owner.is_tenant_family else None
        judge = ClaimJudge(session, owner.tenant_id) if claim is not None and owner.tenant_id is not None else None
        repo = MemoryRepository(session, owner.family)
        hashes = [codec.content_hash(c.content) for c in candidates]
        exact = repo.active_by_hashes(owner.id, hashes)
        # An agent's add recognises only memories it could read back: filed under one of its
        # categories with every plausible category within them too (as ``_neighbours``).
        outside = mask_outside(writable or None)
        neighbours: list[list[str]] = (
            [[] for _ in candidates] if verbatim else self._neighbours(session, owner, candidates, writable)
        )
        rows = repo.by_ids(owner.id, [mid for hits in neighbours for mid in hits])
        texts: dict[str, str] = {}

        def text_of(row: Any) -> str:
            if row.id not in texts:
                texts[row.id] = codec.open(row.id, row.content_ct)
            return texts[row.id]

        pending: list[Any] = []  # the rows this add wrote, in order
        # A verbatim add changes no row it wrote, so its own rows are found by key, not by a
        # scan of all of them per candidate (64 messages: 2,000 comparisons).
        written: dict[tuple[str, str], Any] = {}
        for index, candidate in enumerate(candidates):
            key = (hashes[index], candidate.category)
            same = _restated(
                candidate, hashes[index], [exact.get(key), written.get(key)], [] if verbatim else pending, outside
            )
            if same is not None:
                result.events.append(AddEvent(same.id, "NOOP", _reported(same, text_of, candidate), same.category))
                continue
            if verbatim:
                row = self._insert(writer, candidate, context, disputed=False, event="ADD")
                texts[row.id] = candidate.content
                written[key] = row
                result.events.append(AddEvent(row.id, "ADD", candidate.content, row.category))
                continue
            options = self._options(candidate, [rows[m] for m in neighbours[index] if m in rows], pending)
            decision, target = Decision.ADD, None
            for row, similarity in options:
                verdict = detect(candidate.content, text_of(row), similarity)
                if verdict is not Decision.ADD:
                    decision, target = verdict, row
                    break
            if decision is Decision.NOOP and target is not None:
                result.events.append(AddEvent(target.id, "NOOP", _reported(target, text_of, candidate), target.category))
            elif decision is Decision.UPDATE and target is not None:
                # Doubt only grows: the new wording may be as ambiguous as the old one was.
                target.doubt_mask = (target.doubt_mask or 0) | category_mask(candidate.doubt)
                writer.rewrite(
                    target,
                    content=candidate.content,
                    vector=candidate.vector,
                    event="UPDATE",
                    actor=context.actor,
                    importance=max(float(target.importance), candidate.importance),
                    confidence=max(float(target.confidence), candidate.confidence),
                    # The text is now this claim's words: the memory points to its event.
                    source=(claim.source_event_id, claim.provenance) if claim is not None else None,
                )
                if candidate.valid_at is not None:
                    target.valid_at = candidate.valid_at
                texts[target.id] = candidate.content
                result.events.append(AddEvent(target.id, "UPDATE", candidate.content, target.category))
            elif decision is Decision.CONFLICT and target is not None and judge is not None and claim is not None:
                # Every claim it contradicts, not only the nearest: a claim stands alone only
                # if it outranks them all (two tied claims and a third, stronger one).
                contradicted = [target] + [
                    row
                    for row, similarity in options
                    if row is not target and detect(candidate.content, text_of(row), similarity) is Decision.CONFLICT
                ]
                verdicts = [
                    (row, judge.settle(claim, category=candidate.category, confidence=candidate.confidence, existing=row))
                    for row in contradicted
                ]
                settled = [(row, verdict) for row, verdict in verdicts if verdict is not None]
                if len(settled) < len(verdicts):
                    # A contradiction with the owner's own words: the owner is asked.
                    self._dispute(session, writer, owner, candidate, context, target, result, texts, pending, text_of)
                else:
                    self._settle(session, writer, owner, candidate, context, settled, result, texts, pending, text_of)
            elif decision is Decision.CONFLICT and target is not None:
                self._dispute(session, writer, owner, candidate, context, target, result, texts, pending, text_of)
            else:
                row = self._insert(writer, candidate, context, disputed=False, event="ADD")
                texts[row.id] = candidate.content
                pending.append(row)
                result.events.append(AddEvent(row.id, "ADD", candidate.content, row.category))
        writer.finish()
        return result

    def _dispute(
        self,
        session: Session,
        writer: MemoryWriter,
        owner: MemoryOwner,
        candidate: Candidate,
        context: AddContext,
        target: Any,
        result: ApplyResult,
        texts: dict[str, str],
        pending: list[Any],
        text_of: Any,
        *,
        tie: Verdict | None = None,
    ) -> Any:
        """CONFLICT: store the candidate, dispute both, open a question — the owner's usual one,
        or, for a ``tie`` between two services, a review (a person decides)."""
        kind = None if tie is None else ("review" if owner.is_tenant_family else "question")
        row = self._insert(writer, candidate, context, disputed=True, event="CONFLICT")
        writer.change(
            target, event="DISPUTE", actor=context.actor, content=text_of(target), disputed=True,
            note=tie.reason if tie is not None else None,
        )
        conflict_id = open_conflict(session, owner, target, row, now=writer.now, kind=kind)
        result.conflict_ids.append(conflict_id)
        texts[row.id] = candidate.content
        pending.append(row)
        resolution = Resolution("review", target.id, tie.reason, conflict_id) if tie is not None else None
        result.events.append(AddEvent(row.id, "CONFLICT", candidate.content, row.category, resolution))
        return row

    def _settle(
        self,
        session: Session,
        writer: MemoryWriter,
        owner: MemoryOwner,
        candidate: Candidate,
        context: AddContext,
        settled: list[tuple[Any, Verdict]],
        result: ApplyResult,
        texts: dict[str, str],
        pending: list[Any],
        text_of: Any,
    ) -> None:
        """A claim against the other services' claims it contradicts (``claims.ClaimJudge``):
        outranked by any of them, it is stored and archived at once; else each claim it outranks
        is archived, and each it ties with opens a review. Archived, never deleted: the history
        keeps the reason."""
        stronger = next(((row, v) for row, v in settled if v.winner == "existing"), None)
        if stronger is not None:
            winner, verdict = stronger
            row = self._insert(writer, candidate, context, disputed=False, event="ADD")
            texts[row.id] = candidate.content
            pending.append(row)
            self._archive(writer, row, context, verdict, text_of)
            result.events.append(
                AddEvent(row.id, "ADD", candidate.content, row.category, Resolution("lost", winner.id, verdict.reason))
            )
            return
        beaten = [(row, v) for row, v in settled if v.winner == "new"]
        ties = [(row, v) for row, v in settled if v.winner is None]
        for loser, verdict in beaten:
            conflicts.close_for_memories(session, writer, [loser.id], actor=context.actor, now=writer.now)
            self._archive(writer, loser, context, verdict, text_of)
        if not ties:
            row = self._insert(writer, candidate, context, disputed=False, event="ADD")
            texts[row.id] = candidate.content
            pending.append(row)
            other, verdict = beaten[0]
            result.events.append(
                AddEvent(row.id, "ADD", candidate.content, row.category, Resolution("won", other.id, verdict.reason))
            )
            return
        (first, verdict), *others = ties
        row = self._dispute(
            session, writer, owner, candidate, context, first, result, texts, pending, text_of, tie=verdict
        )
        for other, tied in others:
            writer.change(other, event="DISPUTE", actor=context.actor, content=text_of(other), disputed=True, note=tied.reason)
            result.conflict_ids.append(open_conflict(session, owner, other, row, now=writer.now, kind="review"))

    @staticmethod
    def _archive(writer: MemoryWriter, loser: Any, context: AddContext, verdict: Verdict, text_of: Any) -> None:
        writer.change(
            loser,
            event="ARCHIVE",
            actor=context.actor,
            content=text_of(loser),
            status="archived",
            disputed=False,
            note=f"superseded by a contradicting claim: {verdict.reason}",
        )

    def _neighbours(
        self, session: Session, owner: MemoryOwner, candidates: Sequence[Candidate], writable: Sequence[str] | None
    ) -> list[list[str]]:
        """Nearest active memories of the same category, per candidate (one query per category)."""
        found: list[list[str]] = [[] for _ in candidates]
        by_category: dict[str, list[int]] = {}
        for index, candidate in enumerate(candidates):
            by_category.setdefault(candidate.category, []).append(index)
        for category, indexes in by_category.items():
            vectors = np.stack([candidates[i].vector for i in indexes])
            hits = self.index.dense(
                session,
                owner.family,
                # A flagged memory is still the owner's: restating it must not slip a copy past the flag.
                owner.search_filter(categories=[category], include_flagged=True, doubt_within=writable or ()),
                vectors,
                NEIGHBOURS,
            )
            for position, index in enumerate(indexes):
                found[index] = [memory_id for memory_id, _ in hits[position]]
        return found

    @staticmethod
    def _options(candidate: Candidate, existing: list[Any], pending: list[Any]) -> list[tuple[Any, float]]:
        """The nearest of the existing neighbours and this add's earlier memories, by the
        similarity of their current vectors; below ``related`` the decision is ADD anyway."""
        rows = [r for r in dict.fromkeys([*existing, *pending]) if r.status == "active"]
        rows = [r for r in rows if r.category == candidate.category]
        if not rows:
            return []
        vectors = np.stack([np.asarray(r.embedding, dtype=np.float32) for r in rows])
        similarities = np.clip(np.einsum("ij,j->i", vectors, candidate.vector), -1.0, 1.0)
        options = [(row, float(sim)) for row, sim in zip(rows, similarities, strict=True) if sim >= RELATED]
        options.sort(key=lambda item: -item[1])
        return options[:COMPARED]

    @staticmethod
    def _insert(writer: MemoryWriter, candidate: Candidate, context: AddContext, *, disputed: bool, event: str) -> Any:
        return writer.insert(
            content=candidate.content,
            category=candidate.category,
            importance=candidate.importance,
            confidence=candidate.confidence,
            vector=candidate.vector,
            event=event,
            actor=context.actor,
            metadata=context.metadata,
            source=context.provenance,
            source_event_id=context.claim.source_event_id if context.claim is not None else None,
            agent_id=context.agent_id,
            conversation_id=context.conversation_id,
            valid_at=candidate.valid_at,
            api_key_id=context.api_key_id,
            disputed=disputed,
            keyword_context=candidate.keyword_context,
            doubt_mask=category_mask(candidate.doubt),
        )


def _restated(candidate: Candidate, content_hash: str, existing: list[Any], pending: list[Any], outside: int = 0) -> Any:
    """The active memory of the candidate's category holding its exact text, if any: one found
    before this add, else one this add wrote. Checked again on the row, since an earlier
    candidate of the same add may have rewritten it. ``outside``: categories the row's doubt
    must not touch (an agent's add: those outside its grant), else it is not this writer's to
    recognise, and the candidate is written as its own memory."""
    for row in [*existing, *pending]:
        if (
            row is not None
            and row.status == "active"
            and row.category == candidate.category
            and row.content_hash == content_hash
            and not (row.doubt_mask or 0) & outside
        ):
            return row
    return None


def _reported(row: Any, text_of: Any, candidate: Candidate) -> str:
    """The text a NOOP reports: the memory's own, unless its owner flagged it, which withholds
    it from agents; the writer then gets back only what it sent."""
    return candidate.content if row.flagged else str(text_of(row))


def open_conflict(
    session: Session, owner: MemoryOwner, older: Any, newer: Any, *, now: datetime, kind: str | None = None
) -> str:
    """Open the question about two contradicting memories: A is the older, B the newer.
    ``kind``: where it goes, when not the owner's usual place (a tie between two services on an
    end-user's memories is a tenant review)."""
    kind = kind or owner.conflict_kind
    conflict_id = f"rev_{secrets.token_hex(12)}" if kind == "review" else str(uuid.uuid4())
    fields: dict[str, Any] = dict(
        id=conflict_id,
        owner_id=owner.id,
        memory_a_id=older.id,
        memory_b_id=newer.id,
        status="open",
        created_at=now,
        updated_at=now,
        # An agent asks an end-user in chat: a stale question stops being surfaced after a while.
        expires_at=now + CLARIFICATION_TTL if kind == "clarification" else None,
    )
    if owner.is_tenant_family:
        fields.update(tenant_id=owner.tenant_id, kind=kind)
    session.add(owner.family.conflict(**fields))
    return conflict_id
