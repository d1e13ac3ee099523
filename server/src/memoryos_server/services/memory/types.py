"""What the memory service hands back: plain dataclasses, decrypted, ready to serialise."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Event = Literal["ADD", "UPDATE", "NOOP", "CONFLICT"]
Answer = Literal["A", "B", "both", "neither"]
ANSWERS: tuple[str, ...] = ("A", "B", "both", "neither")


@dataclass(frozen=True)
class Resolution:
    """How a service's claim fared against another service's claim it contradicts: ``won`` (the
    other is archived), ``lost`` (this one is archived), ``review`` (a tie, for a person)."""

    outcome: Literal["won", "lost", "review"]
    other_memory_id: str
    reason: str
    review_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "other_memory_id": self.other_memory_id,
            "reason": self.reason,
            "review_id": self.review_id,
        }


@dataclass(frozen=True)
class AddEvent:
    id: str
    event: Event
    memory: str
    category: str
    resolution: Resolution | None = None

    def as_dict(self) -> dict[str, Any]:
        found = {"id": self.id, "event": self.event, "memory": self.memory, "category": self.category}
        if self.resolution is not None:
            found["resolution"] = self.resolution.as_dict()
        return found


@dataclass(frozen=True)
class AddOutcome:
    job_id: str
    status: Literal["completed", "queued"]
    nothing_to_extract: bool
    results: list[AddEvent]
    skipped: int = 0
    extractor: str | None = None
    # Open conflicts this add created (clarification, review or question ids).
    conflict_ids: list[str] = field(default_factory=list)

    @property
    def created_memory_ids(self) -> list[str]:
        return [r.id for r in self.results if r.event in ("ADD", "CONFLICT")]

    @property
    def touched_memory_ids(self) -> list[str]:
        return [r.id for r in self.results if r.event != "NOOP"]


@dataclass(frozen=True)
class PreparedAdd:
    """An add's extraction and its embeddings, worked out before its transaction
    (``MemoryService.prepare_add``). Used only by the add it was made for."""

    messages: tuple[Any, ...]
    infer: bool
    category: str | None
    now: datetime
    extracted: tuple[Any, ...]
    vectors: Mapping[str, Any] = field(default_factory=dict)  # text → its vector

    @property
    def request(self) -> tuple[tuple[Any, ...], bool, str | None]:
        return self.messages, self.infer, self.category


@dataclass(frozen=True)
class PreparedText:
    """An edit's or a correction's new text and its vector, embedded before the transaction
    (``MemoryService.prepare_text``)."""

    text: str
    vector: Any


@dataclass(frozen=True)
class MemoryView:
    id: str
    content: str
    category: str
    importance: float
    original_importance: float
    confidence: float
    status: str
    disputed: bool
    flagged: bool
    unconfirmed: bool
    metadata: dict[str, Any]
    source: dict[str, Any] | None
    agent_id: str | None
    conversation_id: str | None
    version: int
    access_count: int
    created_at: datetime
    updated_at: datetime
    last_accessed: datetime | None
    valid_at: datetime | None
    archived_at: datetime | None
    # The other categories the engine found plausible: a reader must be allowed these too.
    also_categories: tuple[str, ...] = ()
    # The service writer's claim this memory's text is (its source event), if a service wrote it.
    source_event_id: str | None = None

    @property
    def is_archived(self) -> bool:
        return self.status == "archived"


@dataclass(frozen=True)
class VersionView:
    version: int
    event: str
    content: str
    category: str
    importance: float
    status: str
    actor: str | None
    created_at: datetime
    # Who ``actor`` is, where it can be named: the agent's name for ``agent:<id>`` (deleted
    # agents included), so a history says "By: Study Buddy" rather than "an agent".
    actor_name: str | None = None
    # Why, where the actor does not say it (the rule that archived a losing claim).
    note: str | None = None
    # The service claim this version's text came from: which service said it, and when.
    source: VersionSource | None = None


@dataclass(frozen=True)
class VersionSource:
    source_event_id: str
    service: str | None  # None once the event is gone
    service_name: str | None  # the writer's display name, while it is registered
    event_id: str | None
    observed_at: datetime | None
    received_at: datetime | None


@dataclass(frozen=True)
class RetrievedMemory:
    id: str
    content: str
    category: str
    importance: float
    original_importance: float
    relevance: float
    snippet: str
    disputed: bool
    unconfirmed: bool
    access_count: int
    last_accessed: datetime | None
    created_at: datetime
    updated_at: datetime
    agent_id: str | None
    source_event_id: str | None = None
    provenance: dict[str, Any] | None = None


@dataclass(frozen=True)
class ClarificationOption:
    answer: Answer
    label: str
    memory_id: str | None


@dataclass(frozen=True)
class ClarificationView:
    """An open conflict as its owner (or the agent asking them) sees it."""

    id: str
    conflict_id: str
    kind: str
    question: str
    options: list[ClarificationOption]
    memory_a: MemoryView | None
    memory_b: MemoryView | None
    status: str
    answer: str | None
    created_at: datetime
    expires_at: datetime | None
    resolved_at: datetime | None
    # A tenant review about one end-user's memories: the tenant's id for them.
    external_user_id: str | None = None


@dataclass(frozen=True)
class RetrieveOutcome:
    retrieval_id: str
    memories: list[RetrievedMemory]
    system_prompt_addition: str
    context_token_count: int
    clarification: ClarificationView | None
    # Why nothing was searched (a passport agent without an active grant, or asking only for
    # categories outside it); None when the search ran.
    permission_error: str | None = None
    # The categories the caller may read (a passport grant's); empty for callers without one.
    categories_available: list[str] = field(default_factory=list)
    categories_searched: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AnswerOutcome:
    resolved: bool
    clarification_id: str
    conflict_id: str
    resolution: Answer
    kept_memory_ids: list[str]
    archived_memory_ids: list[str]


@dataclass(frozen=True)
class JobView:
    job_id: str
    family: str
    status: str
    extractor: str | None
    attempts: int
    memories_created: int
    created_memory_ids: list[str]
    skipped: int
    error: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    results: list[AddEvent] | None  # decrypted, once the job has run


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None
    limit: int
    total: int
