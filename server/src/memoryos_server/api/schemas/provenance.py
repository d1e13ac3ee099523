"""Schemas of provenance: service writers, an add's ``source`` block, source events.

Validation errors in these bodies (a writer's, or an add's ``source``) answer ``422 PROV_422``
(``api/errors.py``), not the generic ``REQ_422``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator

from memoryos_server.api.envelope import Out, Timestamp
from memoryos_server.api.schemas.common import Lenient, Moment, Strict
from memoryos_server.engine.types import Category
from memoryos_server.services.provenance import (
    DEFAULT_PRIORITY,
    MAX_EVIDENCE,
    MAX_PRIORITY,
    MAX_SCOPE_BYTES,
    SERVICE_KEY_PATTERN,
    AuthorityRules,
    EvidenceItem,
    SourceBlock,
    SourceEventView,
    WriterView,
)

ServiceKey = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=SERVICE_KEY_PATTERN,
        description="Lower-case letters, digits, '.', '_' and '-', starting with a letter or digit (what source.service names)",
    ),
]
Priority = Annotated[int, Field(ge=0, le=MAX_PRIORITY)]


class AuthorityRulesIn(Strict):
    default_priority: Priority = Field(default=DEFAULT_PRIORITY, description="The writer's authority for categories not listed")
    categories: dict[Category, Priority] = Field(
        default_factory=dict, description="Authority per category (0–100): the higher wins a contradiction"
    )

    def rules(self) -> AuthorityRules:
        return AuthorityRules(self.default_priority, dict(self.categories))


class ServiceWriterIn(Strict):
    service_key: ServiceKey
    display_name: str | None = Field(default=None, min_length=1, max_length=200, description="Default: the service key")
    authority_rules: AuthorityRulesIn = Field(default_factory=AuthorityRulesIn)
    api_key_id: str | None = Field(
        default=None, min_length=1, max_length=40, description="key_…: claims are accepted only through this API key"
    )


class ServiceWriterPatch(Strict):
    """Only the fields given change; ``api_key_id: null`` unbinds the writer from its key."""

    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    authority_rules: AuthorityRulesIn | None = None
    api_key_id: str | None = Field(default=None, min_length=1, max_length=40)

    @model_validator(mode="after")
    def _something_to_change(self) -> ServiceWriterPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one of display_name, authority_rules, api_key_id")
        if "display_name" in self.model_fields_set and self.display_name is None:
            raise ValueError("display_name cannot be null")
        if "authority_rules" in self.model_fields_set and self.authority_rules is None:
            raise ValueError("authority_rules cannot be null")
        return self

    def changes(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.display_name is not None:
            found["display_name"] = self.display_name
        if self.authority_rules is not None:
            found["rules"] = self.authority_rules.rules()
        if "api_key_id" in self.model_fields_set:
            found["api_key_id"] = self.api_key_id
        return found


class EvidenceIn(Lenient):
    source_type: str = Field(min_length=1, max_length=50)
    reference: str = Field(min_length=1, max_length=500)
    content_hash: str | None = Field(default=None, min_length=64, max_length=64)


class SourceIn(Lenient):
    """An add's ``source`` (the published SDK's ``Memory.source``): the add is a claim of the
    registered service writer ``service``. Unknown fields are ignored, as the SDK may add some."""

    service: ServiceKey
    event_id: str = Field(min_length=1, max_length=255, description="The service's id for the event: a repeat replays")
    observed_at: Moment | None = Field(default=None, description="When the service observed it (default: now)")
    scope: dict[str, Any] = Field(default_factory=dict, description=f"Free JSON, at most {MAX_SCOPE_BYTES} bytes")
    evidence: list[EvidenceIn] = Field(default_factory=list, max_length=MAX_EVIDENCE)

    @field_validator("scope")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > MAX_SCOPE_BYTES:
            raise ValueError(f"scope is larger than {MAX_SCOPE_BYTES} bytes of JSON")
        return value

    def block(self) -> SourceBlock:
        return SourceBlock(
            service=self.service,
            event_id=self.event_id,
            observed_at=self.observed_at,
            scope=dict(self.scope),
            evidence=[EvidenceItem(e.source_type, e.reference, e.content_hash) for e in self.evidence],
        )


# --- answers -------------------------------------------------------------------------------------


class AuthorityRulesOut(Out):
    default_priority: int
    categories: dict[Category, int]


class ServiceWriterOut(Out):
    service_key: str
    display_name: str
    authority_rules: AuthorityRulesOut
    api_key_id: str | None = Field(description="key_… the writer is bound to: claims through any other key are refused")
    created_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, view: WriterView) -> ServiceWriterOut:
        return cls(
            service_key=view.service_key,
            display_name=view.display_name,
            authority_rules=AuthorityRulesOut(
                default_priority=view.rules.default_priority,
                categories=view.rules.categories,  # type: ignore[arg-type]
            ),
            api_key_id=view.api_key_id,
            created_at=view.created_at,
            updated_at=view.updated_at,
        )


class ServiceWriterDeletedOut(Out):
    deleted: bool
    service_key: str


class EvidenceOut(Out):
    source_type: str
    reference: str
    content_hash: str | None


class SourceEventOut(Out):
    id: str = Field(description="sev_…: what each memory's source_event_id names")
    service: str
    event_id: str
    external_user_id: str | None = Field(description="The end-user the claim is about (null: a member's own memories)")
    observed_at: Timestamp
    received_at: Timestamp
    payload_hash: str = Field(
        description="HMAC-SHA-256 of what the event said, under the end-user's data key: equal payloads match"
    )
    scope: dict[str, Any]
    evidence: list[EvidenceOut]
    job_id: str | None
    memory_ids: list[str] = Field(description="The memories whose text is this claim (archived ones too)")
    api_key_id: str | None = Field(description="key_… the claim came through, if an API key")

    @classmethod
    def of(cls, view: SourceEventView) -> SourceEventOut:
        return cls(
            id=view.id,
            service=view.service,
            event_id=view.event_id,
            external_user_id=view.external_user_id,
            observed_at=view.observed_at,
            received_at=view.received_at,
            payload_hash=view.payload_hash,
            scope=view.scope,
            evidence=[EvidenceOut(source_type=e.source_type, reference=e.reference, content_hash=e.content_hash) for e in view.evidence],
            job_id=view.job_id,
            memory_ids=view.memory_ids,
            api_key_id=view.api_key_id,
        )
