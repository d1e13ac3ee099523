"""Schemas of the Memory Passport routes: agents, the passport user's API, the agent side."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field, field_validator

from memoryos_server.addresses import EmailAddress
from memoryos_server.api.envelope import Out, Timestamp
from memoryos_server.api.schemas.common import Lenient, Moment, Strict
from memoryos_server.api.schemas.memory import (
    MAX_METADATA_BYTES,
    AddEventOut,
    MemoryOut,
    MessageIn,
    MinRelevance,
    RetrievedOut,
    ReviewOut,
    VersionOut,
)
from memoryos_server.engine.types import Category, ChatMessage
from memoryos_server.services.passport.activity import ActivityLine
from memoryos_server.services.passport.agents import is_verified
from memoryos_server.services.audit import ActivityItem
from memoryos_server.services.passport.connections import ConnectionView
from memoryos_server.services.passport.grants import GrantView
from memoryos_server.services.memory import JobView, RetrieveOutcome, jobs
from memoryos_server.services.memory.idempotency import add_request
from memoryos_server.services.passport.sessions import SessionView

AccessType = Literal["read_only", "read_write"]
Url = str  # checked by the agent service: https, or http on localhost only


# --- global agents ----------------------------------------------------------------------------


class AgentCreate(Strict):
    name: str = Field(min_length=1, max_length=200)
    redirect_uri: Url | None = Field(default=None, max_length=2000, description='"" or omitted: none (hosted completion page)')
    redirect_uris: list[Url] | None = Field(default=None, max_length=20, description="Several allowed redirect URIs")
    description: str | None = Field(default=None, max_length=2000)
    logo_url: Url | None = Field(default=None, max_length=2000)
    website_url: Url | None = Field(default=None, max_length=2000)
    default_categories_requested: list[Category] = Field(default_factory=list, max_length=6)

    def all_redirect_uris(self) -> list[str]:
        return [uri for uri in [self.redirect_uri or "", *(self.redirect_uris or [])] if uri]


class AgentUpdate(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    redirect_uri: Url | None = Field(default=None, max_length=2000)
    redirect_uris: list[Url] | None = Field(default=None, max_length=20)
    description: str | None = Field(default=None, max_length=2000)
    logo_url: Url | None = Field(default=None, max_length=2000)
    website_url: Url | None = Field(default=None, max_length=2000)
    default_categories_requested: list[Category] | None = Field(default=None, max_length=6)
    is_active: bool | None = None


class VerificationIn(Strict):
    decision: Literal["verified", "rejected"]
    note: str | None = Field(default=None, max_length=2000)


class AgentPublicOut(Out):
    """What anyone may know of an agent (the consent screen shows it)."""

    id: str
    name: str
    description: str | None
    logo_url: str | None = Field(description="The address the logo was fetched from when the agent was saved")
    has_logo: bool = Field(description="Whether that logo was fetched and stored (pages show it from this server, else initials)")
    website_url: str | None
    is_verified: bool
    verification_status: Literal["pending", "verified", "rejected"]
    default_categories_requested: list[Category]

    @classmethod
    def fields_of(cls, agent: Any) -> dict[str, Any]:
        """``agent``: a ``GlobalAgent`` row."""
        return {
            "id": agent.id,
            "name": agent.name,
            "description": agent.description,
            "logo_url": agent.logo_url,
            "has_logo": agent.logo_content_type is not None,
            "website_url": agent.website_url,
            "is_verified": is_verified(agent),
            "verification_status": agent.verification_status,
            "default_categories_requested": list(agent.default_categories or []),
        }

    @classmethod
    def of(cls, agent: Any) -> AgentPublicOut:
        return cls(**cls.fields_of(agent))


class AgentOut(AgentPublicOut):
    """An agent as its organisation sees it."""

    owner_tenant_id: str | None
    redirect_uri: str = Field(description='The first registered redirect URI, "" for none (hosted completion page)')
    redirect_uris: list[str]
    verification_note: str | None
    verified_at: Timestamp | None
    key_prefix: str | None
    is_active: bool
    created_at: Timestamp
    updated_at: Timestamp | None
    logo_problem: str | None = Field(
        default=None,
        description="Set when this call was given a logo_url whose image could not be fetched and stored "
        "(unreachable, refused address, not PNG/JPEG/WebP, over 256 KB): the agent is saved and pages show initials",
    )

    @classmethod
    def fields_of(cls, agent: Any, tenant_public_id: str | None = None) -> dict[str, Any]:  # type: ignore[override]
        uris = list(agent.redirect_uris or [])
        return {
            **AgentPublicOut.fields_of(agent),
            "owner_tenant_id": tenant_public_id,
            "redirect_uri": uris[0] if uris else "",
            "redirect_uris": uris,
            "verification_note": agent.verification_note,
            "verified_at": agent.verified_at,
            "key_prefix": agent.key_prefix,
            "is_active": agent.is_active,
            "created_at": agent.created_at,
            "updated_at": agent.updated_at,
        }

    @classmethod
    def of(cls, agent: Any, tenant_public_id: str | None = None) -> AgentOut:  # type: ignore[override]
        return cls(**cls.fields_of(agent, tenant_public_id))


class NewAgentKeyOut(AgentOut):
    raw_agent_api_key: str = Field(description="agent_sk_…, shown once: only its hash is kept")


class AgentReviewOut(AgentOut):
    """An agent as an operator reviews it, with its owning organisation."""

    owner_tenant_name: str

    @classmethod
    def of(cls, agent: Any, tenant: Any) -> AgentReviewOut:  # type: ignore[override]
        return cls(**AgentOut.fields_of(agent, tenant.public_id), owner_tenant_name=tenant.name)


class VerificationOut(AgentPublicOut):
    verification_note: str | None
    verified_at: Timestamp | None

    @classmethod
    def of(cls, agent: Any) -> VerificationOut:
        return cls(**AgentPublicOut.fields_of(agent), verification_note=agent.verification_note, verified_at=agent.verified_at)


# --- link tokens --------------------------------------------------------------------------------


class LinkTokenIn(Strict):
    agent_id: str = Field(min_length=1, max_length=64)
    external_user_id: str = Field(min_length=1, max_length=255)


class LinkTokenOut(Out):
    link_token: str = Field(description="plink_…: single use, for this agent and this account")
    expires_in_seconds: int


# --- the passport user --------------------------------------------------------------------------


class OtpSendIn(Strict):
    email: EmailAddress


class OtpVerifyIn(Strict):
    email: EmailAddress
    otp: str = Field(min_length=1, max_length=12)


class GrantCreate(Strict):
    agent_id: str = Field(min_length=1, max_length=64)
    categories_allowed: list[Category] = Field(min_length=1, max_length=6)
    access_type: AccessType = "read_only"
    expires_at: Moment | None = None
    duration_days: int | None = Field(default=None, ge=1, le=3650)
    link_token: str | None = Field(default=None, max_length=200)


class GrantUpdate(Strict):
    categories_allowed: list[Category] | None = Field(default=None, min_length=1, max_length=6)
    access_type: AccessType | None = None
    expires_at: Moment | None = None
    duration_days: int | None = Field(default=None, ge=1, le=3650)


class OtpSentOut(Out):
    sent: bool
    reason: str | None = Field(description="Why nothing was sent: rate_limited, locked or delivery_failed; never who exists")
    retry_after_seconds: int | None = None


class SignedInPassportOut(Out):
    user_uui_id: str
    email: str
    session_token: str = Field(description="mps_…: the X-MemoryOS-Session header (also set as a cookie)")
    expires_at: Timestamp
    created: bool = Field(description="This sign-in created the passport")


class SignedOutOut(Out):
    signed_out: bool


class PassportUserOut(Out):
    user_uui_id: str
    email: str
    created_at: Timestamp
    last_login_at: Timestamp | None

    @classmethod
    def of(cls, user: Any) -> PassportUserOut:
        """``user``: a ``UniversalUser`` row."""
        return cls(user_uui_id=user.public_id, email=user.email, created_at=user.created_at, last_login_at=user.last_login_at)


class PassportDeletedOut(Out):
    deleted: bool
    user_uui_id: str


class GrantAgentOut(Out):
    id: str
    name: str
    logo_url: str | None
    website_url: str | None
    is_verified: bool
    verification_status: str


class GrantOut(Out):
    id: str
    agent_id: str
    agent: GrantAgentOut
    categories_allowed: list[Category]
    access_type: AccessType
    expires_at: Timestamp | None
    status: Literal["active", "revoked", "expired"]
    created_at: Timestamp
    updated_at: Timestamp | None
    revoked_at: Timestamp | None

    @classmethod
    def fields_of(cls, view: GrantView) -> dict[str, Any]:
        grant, agent = view.grant, view.agent
        return {
            "id": grant.id,
            "agent_id": grant.agent_id,
            "agent": GrantAgentOut(
                id=agent.id,
                name=agent.name,
                logo_url=agent.logo_url,
                website_url=agent.website_url,
                is_verified=is_verified(agent),
                verification_status=agent.verification_status,
            ),
            "categories_allowed": list(grant.categories),
            "access_type": grant.access_type,
            "expires_at": grant.expires_at,
            "status": view.status,
            "created_at": grant.created_at,
            "updated_at": grant.updated_at,
            "revoked_at": grant.revoked_at,
        }

    @classmethod
    def of(cls, view: GrantView) -> GrantOut:
        return cls(**cls.fields_of(view))


class IssuedGrantOut(GrantOut):
    replaced: bool = Field(description="An earlier grant to this agent was replaced")
    code: str = Field(description="The one-time consent code for the agent to exchange (10 minutes)")
    code_expires_in_seconds: int


class GrantCodeOut(Out):
    grant_id: str
    agent_id: str
    code: str
    code_expires_in_seconds: int


class ConnectionOut(Out):
    id: str
    organisation_name: str
    directory_id: str | None
    method: str = Field(description="secure_link or oauth")
    created_at: Timestamp

    @classmethod
    def of(cls, view: ConnectionView) -> ConnectionOut:
        return cls.model_validate(view)


class SessionOut(Out):
    """A signed-in session as its owner sees it: never its token, nor the token's hash."""

    id: str
    device: str | None
    signed_in_at: Timestamp
    last_used_at: Timestamp | None
    expires_at: Timestamp
    current: bool

    @classmethod
    def of(cls, view: SessionView) -> SessionOut:
        return cls.model_validate(view)


class SessionEndedOut(Out):
    signed_out: bool
    id: str
    current: bool


class SessionsEndedOut(Out):
    signed_out: int
    ids: list[str]


class ActivityAgentOut(Out):
    id: str
    name: str | None


class ActivityOut(Out):
    id: str
    action: str
    actor_type: str
    agent: ActivityAgentOut | None
    categories: list[str]
    memory_ids: list[str]
    detail: dict[str, Any]
    created_at: Timestamp

    @classmethod
    def fields_of(cls, item: ActivityItem) -> dict[str, Any]:
        return {
            "id": str(item.id),
            "action": item.action,
            "actor_type": item.actor_type,
            "agent": ActivityAgentOut(id=item.agent_id, name=item.agent_name) if item.agent_id else None,
            "categories": item.categories,
            "memory_ids": item.memory_ids,
            "detail": item.detail,
            "created_at": item.created_at,
        }

    @classmethod
    def of(cls, item: ActivityItem) -> ActivityOut:
        return cls(**cls.fields_of(item))


class ActivityLineOut(ActivityOut):
    """One line of activity: its newest event, what happened in words, and how many times in a
    row it happened (``count``, since ``first_at``; the event fields are the newest one's)."""

    summary: str
    count: int
    first_at: Timestamp

    @classmethod
    def of(cls, line: ActivityLine) -> ActivityLineOut:  # type: ignore[override]
        return cls(**ActivityOut.fields_of(line.last), summary=line.summary, count=line.count, first_at=line.first.created_at)


# --- the agent side --------------------------------------------------------------------------------


class ExchangeIn(Strict):
    code: str = Field(min_length=1, max_length=200)


class ResolveIn(Strict):
    external_user_id: str = Field(min_length=1, max_length=255)


class ExchangedGrantOut(Out):
    id: str
    categories_allowed: list[Category]
    access_type: AccessType
    expires_at: Timestamp | None


class ExchangedOut(Out):
    uui_token: str = Field(description="uui_…: this agent's own token for this person")
    grant: ExchangedGrantOut


class ResolvedOut(Out):
    uui_token: str | None
    permission_error: str | None = Field(description="not_connected, no_grant_for_user, grant_revoked or grant_expired")


class AgentGrantOut(Out):
    """The agent's own grant: what it may do, nothing about other agents."""

    id: str
    agent_id: str
    categories_allowed: list[Category]
    access_type: AccessType
    expires_at: Timestamp | None
    status: str
    created_at: Timestamp

    @classmethod
    def of(cls, grant: Any, status: str) -> AgentGrantOut:
        """``grant``: a ``Grant`` row."""
        return cls(
            id=grant.id,
            agent_id=grant.agent_id,
            categories_allowed=list(grant.categories) if status == "active" else [],
            access_type=grant.access_type,
            expires_at=grant.expires_at,
            status=status,
            created_at=grant.created_at,
        )


class UniversalRetrieveIn(Lenient):
    """What ``UniversalMemory.get`` sends, plus an optional narrower category list."""

    query: str = Field(min_length=1, max_length=16_000)
    limit: int = Field(default=10, ge=1, le=50)
    categories: list[Category] | None = Field(default=None, max_length=6)
    format: Literal["bullets", "json", "xml"] = "bullets"
    context_max_tokens: int = Field(default=500, ge=50, le=4000)
    min_relevance: MinRelevance = None


class UniversalAddIn(Lenient):
    """What ``UniversalMemory.add`` sends: the idempotency key travels in the body."""

    messages: list[MessageIn] = Field(min_length=1, max_length=64)
    metadata: dict[str, Any] = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)

    @field_validator("metadata")
    @classmethod
    def _bounded(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, default=str)) > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is larger than {MAX_METADATA_BYTES} bytes of JSON")
        return value

    def chat_messages(self) -> list[ChatMessage]:
        return [m.to_chat() for m in self.messages]

    def service_arguments(self) -> dict[str, Any]:
        return {"metadata": self.metadata}

    def fingerprint(self) -> dict[str, Any]:
        return add_request(self.chat_messages())


class AgentRetrieveOut(Out):
    """An agent's retrieve. No, expired or revoked grant: 200 with nothing and the reason."""

    request_id: str
    timestamp: str
    data: list[RetrievedOut]
    retrieval_id: str
    cached: bool
    system_prompt_addition: str
    context_token_count: int
    permission_error: str | None = Field(
        description="no_grant_for_user, grant_revoked, grant_expired or categories_not_granted; null when searched"
    )
    categories_available: list[Category]
    is_passthrough: bool
    quota_mode: Literal["FULL"]

    @classmethod
    def fields_of(cls, outcome: RetrieveOutcome) -> dict[str, Any]:
        return {
            "data": [RetrievedOut.of(memory) for memory in outcome.memories],
            "retrieval_id": outcome.retrieval_id,
            "cached": False,
            "system_prompt_addition": outcome.system_prompt_addition,
            "context_token_count": outcome.context_token_count,
            "permission_error": outcome.permission_error,
            "categories_available": outcome.categories_available,
            "is_passthrough": False,
            "quota_mode": "FULL",
        }


class AgentJobResultOut(Out):
    created_memory_ids: list[str]
    skipped: int
    results: list[AddEventOut] | None
    completed_at: Timestamp | None


class AgentJobOut(Out):
    """The bare job body of ``GET /v1/universal/memories/jobs/{id}`` (no envelope).

    ``state`` ``blocked``: the grant no longer allowed writing when the job ran; nothing was
    written and ``blocked_reason`` says why (``grant_revoked``, ``grant_expired``, …).
    """

    job_id: str
    state: str
    status: str
    memories_created: int
    blocked_reason: str | None
    error: str | None
    result: AgentJobResultOut

    @classmethod
    def of(cls, view: JobView) -> AgentJobOut:
        blocked_reason = jobs.blocked_reason(view)
        return cls(
            job_id=view.job_id,
            state=view.status,
            status=view.status,
            memories_created=view.memories_created,
            blocked_reason=blocked_reason,
            error=None if blocked_reason is not None else view.error,
            result=AgentJobResultOut(
                created_memory_ids=view.created_memory_ids,
                skipped=view.skipped,
                results=[AddEventOut(**event.as_dict()) for event in view.results] if view.results is not None else None,
                completed_at=view.completed_at,
            ),
        )


# --- the passport user's memories -------------------------------------------------------------------


class CorrectionIn(Strict):
    corrected_content: str = Field(min_length=1, max_length=16_000)


class QuestionAnswerIn(Strict):
    answer: Literal["A", "B", "both", "neither"]


class ExportedMemoryOut(MemoryOut):
    versions: list[VersionOut]


class PassportExportOut(Out):
    """Everything a passport holds, decrypted."""

    user: PassportUserOut
    exported_at: Timestamp
    memories: list[ExportedMemoryOut]
    pending_questions: list[ReviewOut]
    grants: list[GrantOut]
    connections: list[ConnectionOut]
    activity: list[ActivityOut]

    @classmethod
    def of(cls, export: dict[str, Any]) -> PassportExportOut:
        return cls(
            user=PassportUserOut.of(export["user"]),
            exported_at=export["exported_at"],
            memories=[
                ExportedMemoryOut(
                    **dict(MemoryOut.of(item["memory"])), versions=[VersionOut.of(v) for v in item["versions"]]
                )
                for item in export["memories"]
            ],
            pending_questions=[ReviewOut.of(q) for q in export["questions"]],
            grants=[GrantOut.of(view) for view in export["grants"]],
            connections=[ConnectionOut.of(view) for view in export["connections"]],
            activity=[ActivityOut.of(item) for item in export["activity"]],
        )
