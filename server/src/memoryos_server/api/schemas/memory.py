"""Schemas of the tenant and workspace memory routes, and the serialisers of their answers.

Request bodies accept the fields the published SDK sends even where we do not use them
(``agent_id`` on retrieve, a message's ``external_turn_id``/``source_kind``/…), so code
written for that SDK runs unchanged.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from memoryos_server.api.envelope import Envelope, Out, Timestamp, now_iso
from memoryos_server.request_context import current_request_id
from memoryos_server.api.schemas.common import Lenient, Moment, Strict
from memoryos_server.api.schemas.provenance import SourceIn
from memoryos_server.engine.types import CATEGORIES, Category, ChatMessage
from memoryos_server.services.memory.idempotency import add_request
from memoryos_server.services.memory import (
    AddOutcome,
    AnswerOutcome,
    ClarificationView,
    JobView,
    MemoryView,
    RetrievedMemory,
    RetrieveOutcome,
    VersionView,
)
from memoryos_server.services.memory.types import Resolution, VersionSource
from memoryos_server.services.provenance import SourceBlock

Format = Literal["bullets", "json", "xml"]
AnswerChoice = Literal["A", "B", "both", "neither"]

MAX_CONTENT = 16_000
MAX_METADATA_BYTES = 16_384


def _bounded_json(value: dict[str, Any] | None, what: str) -> dict[str, Any] | None:
    if value is not None and len(json.dumps(value, default=str)) > MAX_METADATA_BYTES:
        raise ValueError(f"{what} is larger than {MAX_METADATA_BYTES} bytes of JSON")
    return value


class MessageIn(Lenient):
    role: Literal["user", "assistant", "system"]
    content: str = Field(min_length=1, max_length=MAX_CONTENT)
    occurred_at: Moment | None = None

    def to_chat(self) -> ChatMessage:
        return ChatMessage(role=self.role, content=self.content, occurred_at=self.occurred_at)


class AddIn(Lenient):
    external_user_id: str | None = Field(default=None, min_length=1, max_length=255)
    messages: list[MessageIn] = Field(min_length=1, max_length=64)
    agent_id: str | None = Field(default=None, max_length=64)
    metadata: dict[str, Any] = Field(default_factory=dict)
    source: SourceIn | None = Field(
        default=None,
        description=(
            "The add is a claim of a registered service writer (POST /v1/tenant/service-writers): "
            "every message is read as a statement about the end-user, whatever its role"
        ),
    )
    conversation_id: str | None = Field(default=None, min_length=1, max_length=255)
    infer: bool = True
    # For infer: false — the category of the verbatim memories (else metadata.category, else fact).
    category: Category | None = None

    @field_validator("metadata")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _bounded_json(value, "metadata")

    @model_validator(mode="after")
    def _category_from_metadata(self) -> AddIn:
        if self.category is None and "category" in self.metadata:
            given = self.metadata["category"]
            if given not in CATEGORIES:
                raise ValueError("metadata.category must be one of the six categories")
            self.category = given
        return self

    def chat_messages(self) -> list[ChatMessage]:
        return [m.to_chat() for m in self.messages]

    def service_arguments(self) -> dict[str, Any]:
        """How to read the messages and what to stamp on what they yield."""
        return {
            "infer": self.infer,
            "category": self.category,
            "metadata": self.metadata,
            "conversation_id": self.conversation_id,
            "agent_id": self.agent_id,
        }

    def source_block(self) -> SourceBlock | None:
        return self.source.block() if self.source is not None else None

    def fingerprint(self) -> dict[str, Any]:
        """What a repeat with the same idempotency key (or source event id) must ask again."""
        return add_request(self.chat_messages(), infer=self.infer, category=self.category)


class WorkspaceAddIn(AddIn):
    """A source is refused here: service writers make claims about end-users (``PROV_422``)."""


# The relevance floor a retrieve may set, tenant and universal alike.
MinRelevance = Annotated[
    float | None,
    Field(
        ge=0.0,
        le=1.0,
        description=(
            "The relevance floor: when even the best match's relevance_score is below it, nothing is "
            "returned (no memories, an empty system_prompt_addition). Absent: the server's default "
            "(MEMORYOS_RETRIEVAL_MIN_RELEVANCE when set; else, with the default embedder, a calibrated "
            "answerability check that returns nothing when nothing stored is about the query). 0 "
            "returns the best matches however weak."
        ),
    ),
]


class RetrieveIn(Lenient):
    external_user_id: str | None = Field(default=None, min_length=1, max_length=255)
    query: str = Field(min_length=1, max_length=MAX_CONTENT)
    limit: int = Field(default=10, ge=1, le=50)
    categories: list[Category] | None = Field(default=None, max_length=6, description="Empty or absent: all.")
    time_filter_days: int | None = Field(default=None, ge=1, le=36_500)
    format: Format = "bullets"
    context_max_tokens: int = Field(default=500, ge=50, le=4000)
    as_of: Moment | None = None
    agent_id: str | None = Field(default=None, max_length=64)
    min_relevance: MinRelevance = None


class MemoryPatch(Strict):
    external_user_id: str | None = Field(default=None, min_length=1, max_length=255)
    content: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT)
    category: Category | None = None
    importance_score: float | None = Field(default=None, ge=1, le=10)
    metadata: dict[str, Any] | None = None
    flagged: bool | None = Field(
        default=None, description="true: withheld from every retrieve until set back to false; still listed."
    )

    @field_validator("metadata")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _bounded_json(value, "metadata")

    @model_validator(mode="after")
    def _something_to_change(self) -> MemoryPatch:
        fields = (self.content, self.category, self.importance_score, self.metadata, self.flagged)
        if all(value is None for value in fields):
            raise ValueError("give at least one of content, category, importance_score, metadata, flagged")
        return self

    def changes(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "category": self.category,
            "importance": self.importance_score,
            "metadata": self.metadata,
            "flagged": self.flagged,
        }


class ClarificationAnswerIn(Lenient):
    external_user_id: str | None = Field(default=None, min_length=1, max_length=255)
    answer: AnswerChoice
    free_text: str | None = Field(default=None, max_length=2000)


class ReviewAnswerIn(Strict):
    answer: AnswerChoice
    free_text: str | None = Field(default=None, max_length=2000)


# --- answers ------------------------------------------------------------------------------------


class ResolutionOut(Out):
    """How a service writer's claim fared against another service's claim it contradicts."""

    outcome: Literal["won", "lost", "review"] = Field(
        description="won: the other claim is archived; lost: this one is archived; review: a tie, for the tenant to decide"
    )
    other_memory_id: str
    reason: str
    review_id: str | None = Field(default=None, description="The tenant review opened for a tie (GET /v1/tenant/reviews)")

    @classmethod
    def of(cls, resolution: Resolution) -> ResolutionOut:
        return cls(**resolution.as_dict())


class AddEventOut(Out):
    id: str
    event: Literal["ADD", "UPDATE", "NOOP", "CONFLICT"]
    memory: str
    category: Category
    resolution: ResolutionOut | None = Field(
        default=None, description="Present when a service writer's claim contradicted another service's claim"
    )


class AddOut(Out):
    """The two add routes' answer: its fields top-level, not under ``data``."""

    request_id: str
    timestamp: str
    job_id: str
    status: Literal["completed", "queued"] = Field(description="completed: extracted inline; queued: a worker will")
    nothing_to_extract: bool = Field(description="True only when nothing worth remembering was found at all")
    processing_status: Literal["normal", "delayed"]
    results: list[AddEventOut]
    memories_created: int
    skipped: int = Field(description="Memories dropped because their category is outside the caller's")

    @classmethod
    def of(cls, outcome: AddOutcome) -> AddOut:
        return cls(
            request_id=current_request_id(),
            timestamp=now_iso(),
            job_id=outcome.job_id,
            status=outcome.status,
            nothing_to_extract=outcome.nothing_to_extract,
            processing_status="normal",
            results=[
                AddEventOut(
                    id=event.id,
                    event=event.event,
                    memory=event.memory,
                    category=event.category,  # type: ignore[arg-type]
                    resolution=ResolutionOut.of(event.resolution) if event.resolution is not None else None,
                )
                for event in outcome.results
            ],
            memories_created=len(outcome.created_memory_ids),
            skipped=outcome.skipped,
        )


def add_body(outcome: AddOutcome) -> bytes:
    """The add answer as bytes: what an idempotent repeat replays, byte for byte. A result
    carries ``resolution`` only when a service's claim met another's (SPEC §5 lists the rest)."""
    return AddOut.of(outcome).model_dump_json(exclude_none=True).encode()


class MemoryOut(Out):
    id: str
    content: str
    category: Category
    also_categories: list[Category] = Field(
        description="Other categories it may belong to: it reaches only readers allowed every one of them too"
    )
    importance_score: float
    original_importance_score: float
    confidence: float
    is_archived: bool
    status: Literal["active", "archived", "deleted"]
    disputed: bool = Field(description="It contradicts another memory and no one has said which is right")
    flagged: bool = Field(description="Flagged by its owner: listed, but withheld from every retrieve")
    unconfirmed: bool = Field(description="The owner answered that neither of two contradicting memories is right")
    created_at: Timestamp
    updated_at: Timestamp
    last_accessed_at: Timestamp | None
    access_count: int
    valid_at: Timestamp | None
    version: int
    agent_id: str | None
    source_conversation_id: str | None
    source_event_id: str | None = Field(
        description="sev_…: the source event of the service writer whose claim this memory is (GET /v1/tenant/source-events)"
    )
    provenance: dict[str, Any] | None = Field(
        description="Where it came from: for a service's claim its service, event_id, observed_at, received_at, scope, evidence"
    )
    metadata: dict[str, Any]

    @classmethod
    def of(cls, view: MemoryView) -> MemoryOut:
        return cls(
            id=view.id,
            content=view.content,
            category=view.category,  # type: ignore[arg-type]
            also_categories=list(view.also_categories),  # type: ignore[arg-type]
            importance_score=view.importance,
            original_importance_score=view.original_importance,
            confidence=view.confidence,
            is_archived=view.is_archived,
            status=view.status,  # type: ignore[arg-type]
            disputed=view.disputed,
            flagged=view.flagged,
            unconfirmed=view.unconfirmed,
            created_at=view.created_at,
            updated_at=view.updated_at,
            last_accessed_at=view.last_accessed,
            access_count=view.access_count,
            valid_at=view.valid_at,
            version=view.version,
            agent_id=view.agent_id,
            source_conversation_id=view.conversation_id,
            source_event_id=view.source_event_id,
            provenance=view.source,
            metadata=view.metadata,
        )


class RetrievedOut(Out):
    id: str
    content: str
    category: Category
    importance_score: float
    original_importance_score: float
    relevance_score: float
    context_snippet: str
    last_accessed: Timestamp | None
    access_count: int
    created_at: Timestamp
    disputed: bool
    unconfirmed: bool
    source_event_id: str | None = Field(description="sev_…: the source event, when a service writer's claim")
    provenance: dict[str, Any] | None = Field(description="The claim's service, event_id, observed_at, scope, evidence")

    @classmethod
    def of(cls, memory: RetrievedMemory) -> RetrievedOut:
        return cls(
            id=memory.id,
            content=memory.content,
            category=memory.category,  # type: ignore[arg-type]
            importance_score=memory.importance,
            original_importance_score=memory.original_importance,
            relevance_score=memory.relevance,
            context_snippet=memory.snippet,
            last_accessed=memory.last_accessed,
            access_count=memory.access_count,
            created_at=memory.created_at,
            disputed=memory.disputed,
            unconfirmed=memory.unconfirmed,
            source_event_id=memory.source_event_id,
            provenance=memory.provenance,
        )


class OptionOut(Out):
    answer: AnswerChoice
    label: str
    memory_id: str | None


class ClarificationOut(Out):
    """An open contradiction, as a question the agent can put to the end-user."""

    id: str
    conflict_id: str
    question: str
    options: list[OptionOut]
    expires_at: Timestamp | None

    @classmethod
    def fields_of(cls, view: ClarificationView) -> dict[str, Any]:
        return {
            "id": view.id,
            "conflict_id": view.conflict_id,
            "question": view.question,
            "options": [OptionOut(answer=o.answer, label=o.label, memory_id=o.memory_id) for o in view.options],
            "expires_at": view.expires_at,
        }

    @classmethod
    def of(cls, view: ClarificationView) -> ClarificationOut:
        return cls(**cls.fields_of(view))


class ReviewOut(ClarificationOut):
    """A contradiction with both memories and its state: tenant reviews, Pending Questions."""

    status: str
    answer: str | None
    memory_a: MemoryOut | None
    memory_b: MemoryOut | None
    created_at: Timestamp
    resolved_at: Timestamp | None

    @classmethod
    def of(cls, view: ClarificationView) -> ReviewOut:
        return cls(
            **ClarificationOut.fields_of(view),
            status=view.status,
            answer=view.answer,
            memory_a=MemoryOut.of(view.memory_a) if view.memory_a else None,
            memory_b=MemoryOut.of(view.memory_b) if view.memory_b else None,
            created_at=view.created_at,
            resolved_at=view.resolved_at,
        )


class TenantReviewOut(ReviewOut):
    """A tenant review: a workspace contradiction, or a tie between two service writers' claims
    about an end-user (``external_user_id``)."""

    external_user_id: str | None = Field(description="The end-user whose memories disagree; null for the workspace")

    @classmethod
    def of(cls, view: ClarificationView) -> TenantReviewOut:
        return cls(**dict(ReviewOut.of(view)), external_user_id=view.external_user_id)


class RetrieveOut(Out):
    """A tenant or workspace retrieve: the ranked memories and the block for the agent's prompt."""

    request_id: str
    timestamp: str
    retrieval_id: str
    data: list[RetrievedOut]
    cached: bool
    system_prompt_addition: str
    context_token_count: int
    quota_mode: Literal["FULL"]
    is_degraded: bool
    is_passthrough: bool
    clarification: ClarificationOut | None = Field(description="The end-user's oldest open contradiction, for the agent to ask")
    clarification_question: str | None

    @classmethod
    def fields_of(cls, outcome: RetrieveOutcome) -> dict[str, Any]:
        return {
            "retrieval_id": outcome.retrieval_id,
            "data": [RetrievedOut.of(m) for m in outcome.memories],
            "cached": False,
            "system_prompt_addition": outcome.system_prompt_addition,
            "context_token_count": outcome.context_token_count,
            "quota_mode": "FULL",
            "is_degraded": False,
            "is_passthrough": False,
            "clarification": ClarificationOut.of(outcome.clarification) if outcome.clarification else None,
            "clarification_question": outcome.clarification.question if outcome.clarification else None,
        }


class ExtractionMetadataOut(Out):
    extractor: str | None
    skipped: int


class JobOut(Out):
    job_id: str
    status: str = Field(description="queued, running, completed, failed, dead, blocked or dropped (a dead job an operator gave up)")
    memories_created: int
    created_memory_ids: list[str]
    error: str | None
    attempts: int
    created_at: Timestamp
    started_at: Timestamp | None
    completed_at: Timestamp | None
    extraction_metadata: ExtractionMetadataOut

    @classmethod
    def of(cls, view: JobView) -> JobOut:
        return cls(
            job_id=view.job_id,
            status=view.status,
            memories_created=view.memories_created,
            created_memory_ids=view.created_memory_ids,
            error=view.error,
            attempts=view.attempts,
            created_at=view.created_at,
            started_at=view.started_at,
            completed_at=view.completed_at,
            extraction_metadata=ExtractionMetadataOut(extractor=view.extractor, skipped=view.skipped),
        )


class VersionSourceOut(Out):
    """The service writer's claim a version's text came from: who said it, and when."""

    source_event_id: str
    service: str | None
    service_name: str | None = Field(description="The writer's display name, while it is registered")
    event_id: str | None
    observed_at: Timestamp | None
    received_at: Timestamp | None

    @classmethod
    def of(cls, source: VersionSource) -> VersionSourceOut:
        return cls(
            source_event_id=source.source_event_id,
            service=source.service,
            service_name=source.service_name,
            event_id=source.event_id,
            observed_at=source.observed_at,
            received_at=source.received_at,
        )


class VersionOut(Out):
    version: int
    event: str
    content: str
    category: Category
    importance_score: float
    status: str
    actor: str | None
    actor_name: str | None = Field(description="The agent's name when an agent wrote this version")
    note: str | None = Field(description="Why, when the actor does not say it: the rule that archived a losing claim")
    source: VersionSourceOut | None = Field(description="The service writer's claim this text came from")
    created_at: Timestamp

    @classmethod
    def of(cls, view: VersionView) -> VersionOut:
        return cls(
            version=view.version,
            event=view.event,
            content=view.content,
            category=view.category,  # type: ignore[arg-type]
            importance_score=view.importance,
            status=view.status,
            actor=view.actor,
            actor_name=view.actor_name,
            note=view.note,
            source=VersionSourceOut.of(view.source) if view.source is not None else None,
            created_at=view.created_at,
        )


class HistoryOut(Envelope[list[VersionOut]]):
    memory_id: str


class AnswerOut(Out):
    resolved: bool
    clarification_id: str
    conflict_id: str
    resolution: AnswerChoice
    kept_memory_ids: list[str]
    archived_memory_ids: list[str]

    @classmethod
    def of(cls, outcome: AnswerOutcome) -> AnswerOut:
        return cls.model_validate(outcome)


class DeletedOut(Out):
    deleted: bool
    id: str


class TenantDeletedOut(DeletedOut):
    hard_delete: bool = Field(description="True: the rows are gone; false: kept as deleted, never shown")
