"""Open conflicts as questions, and their answers (SPEC §7).

- ``A`` / ``B``: that memory stays, the other is archived.
- ``both``: both stay active and are no longer disputed.
- ``neither``: both stay but are marked unconfirmed; the question closes.

A memory stays ``disputed`` while any other open conflict still names it. A second answer is
refused (``ClarificationClosed``); an id the owner does not have is not found.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from memoryos_server.engine.conflicts import question_for
from memoryos_server.errors import ClarificationClosed, ClarificationNotFound, ReviewNotFound
from memoryos_server.services.memory.codec import MemoryCodec
from memoryos_server.services.memory.owner import MemoryOwner
from memoryos_server.services.memory.types import AnswerOutcome, ClarificationOption, ClarificationView
from memoryos_server.services.memory.views import memory_view
from memoryos_server.services.memory.writer import MemoryWriter
from memoryos_server.storage.repositories.memories import MemoryRepository

_LABEL_BOTH = "Both are correct"
_LABEL_NEITHER = "Neither is correct"


def describe(codec: MemoryCodec, conflict: Any, memories: dict[str, Any]) -> ClarificationView:
    a = memories.get(conflict.memory_a_id)
    b = memories.get(conflict.memory_b_id)
    view_a = memory_view(codec, a) if a is not None else None
    view_b = memory_view(codec, b) if b is not None else None
    text_a = view_a.content if view_a else "(deleted)"
    text_b = view_b.content if view_b else "(deleted)"
    return ClarificationView(
        id=conflict.id,
        conflict_id=conflict.id,
        kind=getattr(conflict, "kind", "question"),
        question=question_for(text_a, text_b),
        options=[
            ClarificationOption("A", text_a, conflict.memory_a_id),
            ClarificationOption("B", text_b, conflict.memory_b_id),
            ClarificationOption("both", _LABEL_BOTH, None),
            ClarificationOption("neither", _LABEL_NEITHER, None),
        ],
        memory_a=view_a,
        memory_b=view_b,
        status=conflict.status,
        answer=conflict.answer,
        created_at=conflict.created_at,
        expires_at=conflict.expires_at,
        resolved_at=conflict.resolved_at,
    )


def describe_many(
    session: Session, owner: MemoryOwner, codec: MemoryCodec, conflicts: list[Any]
) -> list[ClarificationView]:
    ids = [mid for c in conflicts for mid in (c.memory_a_id, c.memory_b_id)]
    memories = MemoryRepository(session, owner.family).by_ids(owner.id, ids)
    return [describe(codec, conflict, memories) for conflict in conflicts]


def not_found(kind: str) -> ClarificationNotFound:
    """The not-found error of a conflict kind (``MemoryOwner.conflict_kind``)."""
    if kind == "review":
        return ReviewNotFound("no such review")
    return ClarificationNotFound("no such clarification")


def answer(
    session: Session,
    owner: MemoryOwner,
    codec: MemoryCodec,
    conflict_id: str,
    *,
    resolution: str,
    free_text: str | None,
    actor: str,
    now: datetime,
    kind: str | None = None,
) -> AnswerOutcome:
    """``kind``: the kind of question answered, when not the owner's usual one (a tenant review
    about an end-user's memories)."""
    repo = MemoryRepository(session, owner.family)
    where = {"kind": kind} if kind is not None and owner.is_tenant_family else owner.conflict_where()
    conflict = repo.conflict(owner.id, conflict_id, for_update=True, **where)
    if conflict is None:
        raise not_found(kind or owner.conflict_kind)
    if conflict.status != "open":
        raise ClarificationClosed("this question has already been answered", details={"resolution": conflict.answer})
    writer = MemoryWriter(session, owner, codec, now=now)
    memories = repo.by_ids(owner.id, [conflict.memory_a_id, conflict.memory_b_id])
    a, b = memories.get(conflict.memory_a_id), memories.get(conflict.memory_b_id)
    conflict.status = "resolved"
    conflict.answer = resolution
    conflict.resolved_at = now
    conflict.resolved_by = actor[:120]
    conflict.updated_at = now
    if free_text:
        conflict.free_text_ct = codec.key.encrypt(free_text, aad=f"conflict:{conflict.id}".encode())
    session.flush()
    still_disputed = _still_disputed(repo, owner, [m.id for m in (a, b) if m is not None])
    kept: list[str] = []
    archived: list[str] = []
    actor_note = f"{actor} answered {resolution}"
    for label, row in (("A", a), ("B", b)):
        if row is None:
            continue
        content = codec.open(row.id, row.content_ct)
        disputed = row.id in still_disputed
        if resolution in ("A", "B") and label != resolution:
            writer.change(row, event="ARCHIVE", actor=actor_note, content=content, status="archived", disputed=disputed)
            archived.append(row.id)
        elif resolution == "neither":
            writer.change(
                row, event="UNCONFIRMED", actor=actor_note, content=content, disputed=disputed, unconfirmed=True
            )
            kept.append(row.id)
        else:
            writer.change(row, event="RESOLVE", actor=actor_note, content=content, disputed=disputed, unconfirmed=False)
            kept.append(row.id)
    writer.finish()
    return AnswerOutcome(True, conflict.id, conflict.id, resolution, kept, archived)  # type: ignore[arg-type]


def close_for_memories(
    session: Session, writer: MemoryWriter, memory_ids: list[str], *, actor: str, now: datetime
) -> list[str]:
    """Close the open conflicts that name memories being deleted or archived by hand; the other
    side of each is no longer disputed (a RESOLVE version says so), unless another names it."""
    owner = writer.owner
    repo = MemoryRepository(session, owner.family)
    closed = []
    for conflict in repo.open_conflicts_touching(owner.id, memory_ids):
        conflict.status = "resolved"
        conflict.resolved_at = now
        conflict.resolved_by = f"{actor} (memory removed)"[:120]
        conflict.updated_at = now
        closed.append(conflict)
    if not closed:
        return []
    session.flush()
    others = {mid for c in closed for mid in (c.memory_a_id, c.memory_b_id)} - set(memory_ids)
    still = _still_disputed(repo, owner, list(others))
    for row in repo.by_ids(owner.id, list(others)).values():
        if row.disputed and row.id not in still:
            content = writer.codec.open(row.id, row.content_ct)
            writer.change(row, event="RESOLVE", actor=f"{actor} (the other memory was removed)", content=content,
                          disputed=False)
    return [c.id for c in closed]


def _still_disputed(repo: MemoryRepository, owner: MemoryOwner, memory_ids: list[str]) -> set[str]:
    named: set[str] = set()
    for conflict in repo.open_conflicts_touching(owner.id, memory_ids):
        named.update((conflict.memory_a_id, conflict.memory_b_id))
    return named & set(memory_ids)
