"""Request and result models.

Field names, types and defaults of every model the published SDK (``memoryo-sdk`` 0.1.1)
has are kept as they were, so code reading ``result.items`` or ``job.created_memory_ids``
keeps working; fields added here always have defaults. Models that parse server answers
ignore fields they do not know, so a newer server can say more without breaking an older
client.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, Field, field_validator, model_validator

MemoryCategory = Literal[
    "preference",
    "fact",
    "goal",
    "procedure",
    "relationship",
    "expertise",
]
MessageRole = Literal["user", "assistant", "system"]
MessageSourceKind = Literal[
    "direct_user_input",
    "assistant_output",
    "tool_output",
    "fetched_document",
    "system_instruction",
    "client_assertion",
]
QuotaMode = Literal["FULL", "PASSTHROUGH", "DEGRADED_RETRIEVE", "BLOCKED"]
CircuitStatus = Literal["HEALTHY", "DEGRADED", "CRITICAL"]
ProcessingStatus = Literal["normal", "delayed"]
RetrievalFeedbackOutcome = Literal[
    "used_successfully",
    "used_partially",
    "ignored",
    "not_useful",
    "user_corrected",
    "clarification_needed",
]
ClarificationAnswer = Literal["A", "B", "both", "neither"]
SourceReviewAction = Literal["keep_current", "restate", "dismiss"]


def _normalised_words(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _importance_trend(delta: float) -> str:
    if delta > 0.3:
        return "rising"
    if delta < -0.3:
        return "decaying"
    return "stable"


# --- what the SDK sends ---------------------------------------------------------------


class ProposedMemory(BaseModel):
    content: str = Field(min_length=10, max_length=500)
    category: MemoryCategory

    @field_validator("content")
    @classmethod
    def validate_content(cls, value: str) -> str:
        return value.strip()


class ConversationMessage(BaseModel):
    role: MessageRole
    content: str = Field(min_length=1, max_length=16_000)
    external_turn_id: str | None = Field(default=None, min_length=1, max_length=255)
    source_kind: MessageSourceKind | None = None
    occurred_at: datetime | None = None
    is_memory_proposal: bool = False
    proposed_memory: ProposedMemory | None = None

    @model_validator(mode="after")
    def validate_proposal(self) -> ConversationMessage:
        if self.proposed_memory is not None and not self.is_memory_proposal:
            raise ValueError("proposed_memory requires is_memory_proposal=true.")
        if self.is_memory_proposal and (self.role != "assistant" or self.source_kind != "assistant_output"):
            raise ValueError("Memory proposals require assistant_output from an assistant.")
        if self.proposed_memory is not None and _normalised_words(
            self.proposed_memory.content
        ) not in _normalised_words(self.content):
            raise ValueError("proposed_memory.content must appear verbatim in the assistant message.")
        return self

    @field_validator("content")
    @classmethod
    def validate_content(cls, value: str) -> str:
        stripped = value.strip()
        if not stripped:
            raise ValueError("Message content must not be empty.")
        return stripped


class EvidenceReference(BaseModel):
    source_type: str = Field(min_length=1, max_length=50)
    reference: str = Field(min_length=1, max_length=500)
    content_hash: str | None = Field(default=None, min_length=64, max_length=64)


class MemorySource(BaseModel):
    event_id: str = Field(min_length=1, max_length=255)
    service: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9._-]*$")
    observed_at: datetime
    scope: dict[str, Any] = Field(default_factory=dict)
    evidence: list[EvidenceReference] = Field(default_factory=list, max_length=20)

    @classmethod
    def for_service(
        cls,
        service: str,
        *,
        event_id: str | None = None,
        observed_at: datetime | None = None,
        scope: dict[str, Any] | None = None,
        evidence: list[EvidenceReference | dict[str, Any]] | None = None,
    ) -> MemorySource:
        """Source metadata for a write, generating the event id and time when not given.

        Only needed when more than one backend service writes memories for the same users.
        """
        return cls(
            event_id=event_id or f"sdk-{uuid.uuid4()}",
            service=service,
            observed_at=observed_at or datetime.now(UTC),
            scope=scope or {},
            evidence=[
                item if isinstance(item, EvidenceReference) else EvidenceReference.model_validate(item)
                for item in (evidence or [])
            ],
        )


class AddRequest(BaseModel):
    external_user_id: str = Field(min_length=1)
    agent_id: str | None = None
    messages: list[ConversationMessage] = Field(min_length=1, max_length=64)
    metadata: dict[str, Any] = Field(default_factory=dict)
    source: MemorySource | None = None
    conversation_id: str | None = Field(default=None, min_length=1, max_length=255)


class RetrievalFeedbackRequest(BaseModel):
    retrieval_id: str = Field(min_length=1)
    outcome: RetrievalFeedbackOutcome
    used_memory_ids: list[str] = Field(default_factory=list, max_length=50)
    correction: str | None = Field(default=None, min_length=1, max_length=4000)
    agent_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    metadata: dict[str, Any] = Field(default_factory=dict)


# --- results -------------------------------------------------------------------------


class ClaimResolution(BaseModel):
    """How a service writer's claim fared against another service's claim it contradicts
    (an add with ``source``): ``won`` (the other is archived), ``lost`` (this one is archived),
    ``review`` (equal authority, time and confidence: the tenant decides, ``review_id``)."""

    outcome: Literal["won", "lost", "review"]
    other_memory_id: str
    reason: str
    review_id: str | None = None


class AddResultItem(BaseModel):
    """One memory an add wrote, changed, skipped as a duplicate, or found in conflict."""

    id: str | None = None
    event: str
    memory: str | None = None
    category: str | None = None
    resolution: ClaimResolution | None = None


class AddResult(BaseModel):
    job_id: str | None = None
    status: str
    blocked_reason: str | None = None
    retry_after_seconds: int | None = None
    budget_remaining_pct: float | None = None
    quota_mode: QuotaMode = "FULL"
    processing_eta_seconds: int | None = None
    processing_status: ProcessingStatus = "normal"
    circuit_status: CircuitStatus = "HEALTHY"
    nothing_to_extract: bool = False
    proposal_ids: list[str] = Field(default_factory=list)
    # Beyond the published SDK:
    results: list[AddResultItem] = Field(default_factory=list)
    skipped: int = 0

    @property
    def was_queued(self) -> bool:
        return self.status == "queued" and not self.nothing_to_extract

    @property
    def was_stored(self) -> bool:
        """Deprecated alias of :attr:`was_queued`: a queued extraction is not confirmed storage."""
        return self.was_queued


class MemoryJobStatus(BaseModel):
    job_id: str
    status: str
    proposal_ids: list[str] = Field(default_factory=list)
    created_memory_ids: list[str] = Field(default_factory=list)
    operational_metrics: dict[str, int] = Field(default_factory=dict)
    memories_created: int = 0
    pending_candidates_buffered: int = 0
    pending_candidates_promoted: int = 0
    attempts: int = 0
    created_at: datetime | None = None
    processing_started_at: datetime | None = None
    queue_name: str | None = None
    error: str | None = None
    error_summary: str | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    dead_lettered_at: datetime | None = None
    extraction_metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == "completed"


class UniversalJobStatus(BaseModel):
    """An agent's add job (``GET /v1/universal/memories/jobs/{id}``, a bare body)."""

    job_id: str
    state: str | None = None
    status: str
    memories_created: int = 0
    blocked_reason: str | None = None
    error: str | None = None
    result: dict[str, Any] | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "completed"


class MemoryResult(BaseModel):
    id: str
    content: str
    category: MemoryCategory
    importance_score: float
    last_accessed: datetime | None = None
    relevance_score: float
    context_snippet: str
    access_count: int = 0
    original_importance_score: float = 0.0
    is_hot: bool = False
    system_archived: bool = False
    source_event_id: str | None = None
    provenance: dict[str, Any] | None = None
    # Beyond the published SDK:
    created_at: datetime | None = None
    #: It contradicts another memory and the user has not yet said which is right.
    disputed: bool = False
    #: The user answered that neither of two contradicting memories is correct.
    unconfirmed: bool = False

    @property
    def importance_delta(self) -> float:
        return round(float(self.importance_score) - float(self.original_importance_score), 2)

    @property
    def importance_trend(self) -> str:
        return _importance_trend(self.importance_delta)


class MemoryClarificationOption(BaseModel):
    answer: ClarificationAnswer
    label: str
    memory_id: str | None = None


class MemoryClarification(BaseModel):
    id: str
    conflict_id: str | None = None
    question: str
    options: list[MemoryClarificationOption] = Field(default_factory=list)
    expires_at: datetime | None = None


class MemorySourceReview(BaseModel):
    id: str
    version: str
    kind: Literal["restate_source"]
    question: str
    target_memory_id: str | None = None
    current_memory_content: str | None = None
    actions: list[SourceReviewAction]
    expires_at: datetime


class MemorySourceReviewAnswerResult(BaseModel):
    review_id: str
    resolved: bool
    action: SourceReviewAction
    next_step: Literal["add_memory"] | None = None


class RetrieveResult(BaseModel):
    retrieval_id: str | None = None
    items: list[MemoryResult] = Field(default_factory=list)
    cached: bool = False
    system_prompt_addition: str = ""
    context_token_count: int = 0
    memories_from_hot_tier: int = 0
    quota_mode: QuotaMode = "FULL"
    is_passthrough: bool = False
    is_degraded: bool = False
    circuit_status: CircuitStatus = "HEALTHY"
    clarification_question: str | None = None
    clarification: MemoryClarification | None = None
    source_reviews: list[MemorySourceReview] = Field(default_factory=list)

    @property
    def has_context(self) -> bool:
        return bool(self.system_prompt_addition) and not self.is_passthrough

    def __iter__(self) -> Iterator[MemoryResult]:  # type: ignore[override]
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> MemoryResult:
        return self.items[index]


class UniversalRetrieveResult(RetrieveResult):
    #: ``None`` when the agent holds an active grant, else e.g. ``"no_grant_for_user"``.
    permission_status: str | None = None
    categories_available: list[str] = Field(default_factory=list)


class RetrievalFeedbackResult(BaseModel):
    feedback_id: str
    retrieval_id: str
    outcome: str
    correction_job_id: str | None = None

    @property
    def queued_retrospective_extraction(self) -> bool:
        return self.correction_job_id is not None


class MemoryClarificationAnswerResult(BaseModel):
    resolved: bool
    clarification_id: str
    conflict_id: str | None = None
    resolution: ClarificationAnswer


class MemoryRecord(BaseModel):
    id: str
    content: str
    category: MemoryCategory
    importance_score: float
    confidence_score: float = Field(
        default=0.0, validation_alias=AliasChoices("confidence_score", "confidence")
    )
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_accessed_at: datetime | None = None
    access_count: int = 0
    original_importance_score: float = 0.0
    is_hot: bool = False
    system_archived: bool = False
    is_archived: bool = False
    agent_id: str | None = None
    previous_version_id: str | None = None
    source_conversation_id: str | None = None
    source_event_id: str | None = None
    provenance: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    # Beyond the published SDK:
    disputed: bool = False
    unconfirmed: bool = False
    #: Flagged by its owner: listed, but withheld from every retrieve until unflagged.
    flagged: bool = False

    @property
    def importance_delta(self) -> float:
        return round(float(self.importance_score) - float(self.original_importance_score), 2)

    @property
    def importance_trend(self) -> str:
        return _importance_trend(self.importance_delta)


class CursorPageInfo(BaseModel):
    next_cursor: str | None = None
    limit: int
    total: int


class MemoryPage(BaseModel):
    items: list[MemoryRecord]
    next_cursor: str | None = None
    limit: int
    total: int


class UserProfile(BaseModel):
    id: str
    external_id: str
    email: str
    settings: dict[str, Any]
    memory_count: int
    storage_bytes: int


class ApiKey(BaseModel):
    id: str
    name: str
    permissions: list[str]
    rate_limit_per_minute: int
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    is_active: bool


class Agent(BaseModel):
    id: str
    name: str
    description: str | None = None
    memory_scope: Literal["private", "shared"]
    created_at: datetime | None = None


class ExportedMemory(BaseModel):
    id: str
    content: str
    category: MemoryCategory
    importance_score: float
    confidence: float
    is_archived: bool
    created_at: datetime | None = None
    updated_at: datetime | None = None
    versions: list[dict[str, Any]] = Field(default_factory=list)


class MemoryExport(BaseModel):
    tenant_id: str
    proxy_user_id: str
    memories: list[ExportedMemory]


class EdTechMemoryProfile(BaseModel):
    id: str
    proxy_user_id: str
    tenant_id: str
    grade_level: str | None = None
    board_or_curriculum: str | None = None
    subjects: list[dict[str, Any]] = Field(default_factory=list)
    syllabus_stage: dict[str, Any] = Field(default_factory=dict)
    strong_topics: list[dict[str, Any]] = Field(default_factory=list)
    weak_topics: list[dict[str, Any]] = Field(default_factory=list)
    concept_gaps: list[dict[str, Any]] = Field(default_factory=list)
    misconceptions: list[dict[str, Any]] = Field(default_factory=list)
    explanation_style: dict[str, Any] | None = None
    session_profile: dict[str, Any] | None = None
    language_profile: dict[str, Any] | None = None
    peak_hours: dict[str, Any] | None = None
    exam_name: str | None = None
    exam_date: date | None = None
    marks_target: dict[str, Any] | None = None
    mock_scores: list[dict[str, Any]] = Field(default_factory=list)
    forgetting_stages: dict[str, Any] = Field(default_factory=dict)
    improvement_velocity: dict[str, Any] = Field(default_factory=dict)
    streak: dict[str, Any] | None = None
    last_topic_studied: str | None = None
    schema_version: int = 1
    last_extraction_at: datetime | None = None
    extraction_source_job_ids: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def has_exam_context(self) -> bool:
        return bool(self.exam_name or self.exam_date or self.marks_target)

    @property
    def has_learning_profile(self) -> bool:
        return bool(self.explanation_style or self.language_profile or self.session_profile)


class DeleteResult(BaseModel):
    deleted: bool


class Grant(BaseModel):
    """What a passport user allowed one agent: categories, mode and expiry."""

    categories_allowed: list[str] = Field(default_factory=list)
    access_type: str = "read_only"
    expires_at: datetime | None = None
    id: str | None = None
    agent_id: str | None = None
    status: str | None = None
    created_at: datetime | None = None

    @property
    def can_write(self) -> bool:
        """A ``read_write`` grant that is still in force (a revoked or expired one allows nothing).
        ``status`` is absent only where the server hands out an active grant (the code exchange)."""
        return self.access_type == "read_write" and self.status in (None, "active")


class ConsentExchangeResult(BaseModel):
    """The UUI an agent obtains by exchanging the one-time consent ``code``."""

    uui_token: str
    grant: Grant


class ResolveUserResult(BaseModel):
    """The UUI of the passport user behind one of the agent's tenant accounts, if any."""

    uui_token: str | None = None
    permission_error: str | None = None

    @property
    def found(self) -> bool:
        return self.uui_token is not None


# --- response envelopes ----------------------------------------------------------------


class ErrorPayload(BaseModel):
    error: str
    code: str
    request_id: str
    details: Any | None = None


class EnvelopeBase(BaseModel):
    request_id: str
    timestamp: datetime


class AddEnvelope(EnvelopeBase):
    job_id: str | None = None
    status: str
    blocked_reason: str | None = None
    retry_after_seconds: int | None = None
    budget_remaining_pct: float | None = None
    processing_eta_seconds: int | None = None
    processing_status: ProcessingStatus = "normal"
    nothing_to_extract: bool = False
    proposal_ids: list[str] = Field(default_factory=list)
    results: list[AddResultItem] = Field(default_factory=list)
    skipped: int = 0


class MemoryJobStatusEnvelope(EnvelopeBase):
    data: MemoryJobStatus


class RetrieveEnvelope(EnvelopeBase):
    retrieval_id: str | None = None
    data: list[MemoryResult]
    cached: bool
    system_prompt_addition: str
    context_token_count: int = 0
    memories_from_hot_tier: int = 0
    quota_mode: QuotaMode = "FULL"
    clarification_question: str | None = None
    clarification: MemoryClarification | None = None
    source_reviews: list[MemorySourceReview] = Field(default_factory=list)


class UniversalRetrieveEnvelope(BaseModel):
    request_id: str
    timestamp: datetime
    data: list[MemoryResult]
    cached: bool
    system_prompt_addition: str
    retrieval_id: str | None = None
    context_token_count: int = 0
    permission_error: str | None = None
    categories_available: list[str] = Field(default_factory=list)
    is_passthrough: bool = False


class RetrievalFeedbackEnvelope(EnvelopeBase):
    data: RetrievalFeedbackResult


class MemoryClarificationAnswerEnvelope(EnvelopeBase):
    data: MemoryClarificationAnswerResult


class MemorySourceReviewAnswerEnvelope(EnvelopeBase):
    data: MemorySourceReviewAnswerResult


class MemoryListEnvelope(EnvelopeBase):
    data: list[MemoryRecord]
    pagination: CursorPageInfo


class ExportEnvelope(EnvelopeBase):
    data: MemoryExport


class DeleteEnvelope(EnvelopeBase):
    data: DeleteResult


class EdTechProfileEnvelope(EnvelopeBase):
    data: EdTechMemoryProfile | None


class GrantEnvelope(BaseModel):
    data: Grant | None = None


class ConsentExchangeEnvelope(BaseModel):
    data: ConsentExchangeResult


class ResolveUserEnvelope(BaseModel):
    data: ResolveUserResult
