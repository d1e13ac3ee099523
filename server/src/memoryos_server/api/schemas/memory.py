"""Schemas of the tenant and workspace memory routes, and the serialisers of their answers.

Request bodies accept the fields the published SDK sends even where we do not use them
(``agent_id`` on retrieve, a message's ``external_turn_id``/``source_kind``/…), so code
written for that SDK runs unchanged.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from memoryos_server.api.envelope import flat
from memoryos_server.api.schemas.common import Lenient, Strict
from memoryos_server.engine.types import ChatMessage
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

Category = Literal["preference", "fact", "goal", "procedure", "relationship", "expertise"]
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
    occurred_at: AwareDatetime | None = None

    def to_chat(self) -> ChatMessage:
        return ChatMessage(role=self.role, content=self.content, occurred_at=self.occurred_at)


class AddIn(Lenient):
    external_user_id: str | None = Field(default=None, min_length=1, max_length=255)
    messages: list[MessageIn] = Field(min_length=1, max_length=64)
    agent_id: str | None = Field(default=None, max_length=64)
    metadata: dict[str, Any] = Field(default_factory=dict)
    source: dict[str, Any] | None = None
    conversation_id: str | None = Field(default=None, min_length=1, max_length=255)
    infer: bool = True
    # For infer: false — the category of the verbatim memories (else metadata.category, else fact).
    category: Category | None = None

    @field_validator("metadata", "source")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _bounded_json(value, "metadata and source")

    @model_validator(mode="after")
    def _category_from_metadata(self) -> AddIn:
        if self.category is None and "category" in self.metadata:
            given = self.metadata["category"]
            if given not in ("preference", "fact", "goal", "procedure", "relationship", "expertise"):
                raise ValueError("metadata.category must be one of the six categories")
            self.category = given
        return self

    def chat_messages(self) -> list[ChatMessage]:
        return [m.to_chat() for m in self.messages]


class WorkspaceAddIn(AddIn):
    pass


class RetrieveIn(Lenient):
    external_user_id: str | None = Field(default=None, min_length=1, max_length=255)
    query: str = Field(min_length=1, max_length=MAX_CONTENT)
    limit: int = Field(default=10, ge=1, le=50)
    categories: list[Category] | None = Field(default=None, max_length=6, description="Empty or absent: all.")
    time_filter_days: int | None = Field(default=None, ge=1, le=36_500)
    format: Format = "bullets"
    context_max_tokens: int = Field(default=500, ge=50, le=4000)
    as_of: AwareDatetime | None = None
    agent_id: str | None = Field(default=None, max_length=64)


class MemoryPatch(Strict):
    external_user_id: str | None = Field(default=None, min_length=1, max_length=255)
    content: str | None = Field(default=None, min_length=1, max_length=MAX_CONTENT)
    category: Category | None = None
    importance_score: float | None = Field(default=None, ge=1, le=10)
    metadata: dict[str, Any] | None = None

    @field_validator("metadata")
    @classmethod
    def _bounded(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return _bounded_json(value, "metadata")

    @model_validator(mode="after")
    def _something_to_change(self) -> MemoryPatch:
        if self.content is None and self.category is None and self.importance_score is None and self.metadata is None:
            raise ValueError("give at least one of content, category, importance_score, metadata")
        return self

    def changes(self) -> dict[str, Any]:
        return {
            "content": self.content,
            "category": self.category,
            "importance": self.importance_score,
            "metadata": self.metadata,
        }


class ClarificationAnswerIn(Lenient):
    external_user_id: str | None = Field(default=None, min_length=1, max_length=255)
    answer: AnswerChoice
    free_text: str | None = Field(default=None, max_length=2000)


class ReviewAnswerIn(Strict):
    answer: AnswerChoice
    free_text: str | None = Field(default=None, max_length=2000)


# --- answers ------------------------------------------------------------------------------------


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def add_body(outcome: AddOutcome) -> bytes:
    body = flat(
        job_id=outcome.job_id,
        status=outcome.status,
        nothing_to_extract=outcome.nothing_to_extract,
        processing_status="normal",
        results=[event.as_dict() for event in outcome.results],
        memories_created=len(outcome.created_memory_ids),
        skipped=outcome.skipped,
    )
    return json.dumps(body, separators=(",", ":")).encode()


def memory_read(view: MemoryView) -> dict[str, Any]:
    return {
        "id": view.id,
        "content": view.content,
        "category": view.category,
        "also_categories": list(view.also_categories),
        "importance_score": view.importance,
        "original_importance_score": view.original_importance,
        "confidence": view.confidence,
        "is_archived": view.is_archived,
        "status": view.status,
        "disputed": view.disputed,
        "flagged": view.flagged,
        "unconfirmed": view.unconfirmed,
        "created_at": iso(view.created_at),
        "updated_at": iso(view.updated_at),
        "last_accessed_at": iso(view.last_accessed),
        "access_count": view.access_count,
        "valid_at": iso(view.valid_at),
        "version": view.version,
        "agent_id": view.agent_id,
        "source_conversation_id": view.conversation_id,
        "source_event_id": (view.source or {}).get("event_id"),
        "provenance": view.source,
        "metadata": view.metadata,
    }


def retrieved_read(memory: RetrievedMemory) -> dict[str, Any]:
    return {
        "id": memory.id,
        "content": memory.content,
        "category": memory.category,
        "importance_score": memory.importance,
        "original_importance_score": memory.original_importance,
        "relevance_score": memory.relevance,
        "context_snippet": memory.snippet,
        "last_accessed": iso(memory.last_accessed),
        "access_count": memory.access_count,
        "created_at": iso(memory.created_at),
        "disputed": memory.disputed,
    }


def clarification_read(view: ClarificationView) -> dict[str, Any]:
    return {
        "id": view.id,
        "conflict_id": view.conflict_id,
        "question": view.question,
        "options": [{"answer": o.answer, "label": o.label, "memory_id": o.memory_id} for o in view.options],
        "expires_at": iso(view.expires_at),
    }


def review_read(view: ClarificationView) -> dict[str, Any]:
    return {
        **clarification_read(view),
        "status": view.status,
        "answer": view.answer,
        "memory_a": memory_read(view.memory_a) if view.memory_a else None,
        "memory_b": memory_read(view.memory_b) if view.memory_b else None,
        "created_at": iso(view.created_at),
        "resolved_at": iso(view.resolved_at),
    }


def retrieve_fields(outcome: RetrieveOutcome) -> dict[str, Any]:
    return {
        "retrieval_id": outcome.retrieval_id,
        "data": [retrieved_read(m) for m in outcome.memories],
        "cached": False,
        "system_prompt_addition": outcome.system_prompt_addition,
        "context_token_count": outcome.context_token_count,
        "quota_mode": "FULL",
        "is_degraded": False,
        "is_passthrough": False,
        "clarification": clarification_read(outcome.clarification) if outcome.clarification else None,
        "clarification_question": outcome.clarification.question if outcome.clarification else None,
    }


def job_read(view: JobView) -> dict[str, Any]:
    return {
        "job_id": view.job_id,
        "status": view.status,
        "memories_created": view.memories_created,
        "created_memory_ids": view.created_memory_ids,
        "error": view.error,
        "attempts": view.attempts,
        "created_at": iso(view.created_at),
        "started_at": iso(view.started_at),
        "completed_at": iso(view.completed_at),
        "extraction_metadata": {"extractor": view.extractor, "skipped": view.skipped},
    }


def version_read(view: VersionView) -> dict[str, Any]:
    return {
        "version": view.version,
        "event": view.event,
        "content": view.content,
        "category": view.category,
        "importance_score": view.importance,
        "status": view.status,
        "actor": view.actor,
        "created_at": iso(view.created_at),
    }


def answer_read(outcome: AnswerOutcome) -> dict[str, Any]:
    return {
        "resolved": outcome.resolved,
        "clarification_id": outcome.clarification_id,
        "conflict_id": outcome.conflict_id,
        "resolution": outcome.resolution,
        "kept_memory_ids": outcome.kept_memory_ids,
        "archived_memory_ids": outcome.archived_memory_ids,
    }
