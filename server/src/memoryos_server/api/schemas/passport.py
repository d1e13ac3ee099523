"""Schemas of the Memory Passport routes: agents, the passport user's API, the agent side."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import EmailStr, Field, field_validator

from memoryos_server.api.schemas.common import Lenient, Strict
from memoryos_server.api.schemas.memory import MAX_METADATA_BYTES, MessageIn, memory_read, review_read, version_read
from memoryos_server.services.agents import is_verified
from memoryos_server.services.audit import ActivityItem
from memoryos_server.services.connections import ConnectionView
from memoryos_server.services.grants import GrantView
from memoryos_server.services.memory import JobView, jobs
from memoryos_server.storage.models import GlobalAgent, Grant, Tenant

Category = Literal["preference", "fact", "goal", "procedure", "relationship", "expertise"]
AccessType = Literal["read_only", "read_write"]
Url = str  # checked by the agent service: https, or http on localhost only


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


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


def agent_public_read(agent: GlobalAgent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "description": agent.description,
        "logo_url": agent.logo_url,
        "website_url": agent.website_url,
        "is_verified": is_verified(agent),
        "verification_status": agent.verification_status,
        "default_categories_requested": list(agent.default_categories or []),
    }


def agent_read(agent: GlobalAgent, tenant_public_id: str | None) -> dict[str, Any]:
    uris = list(agent.redirect_uris or [])
    return {
        **agent_public_read(agent),
        "owner_tenant_id": tenant_public_id,
        "redirect_uri": uris[0] if uris else "",
        "redirect_uris": uris,
        "verification_note": agent.verification_note,
        "verified_at": iso(agent.verified_at),
        "key_prefix": agent.key_prefix,
        "is_active": agent.is_active,
        "created_at": iso(agent.created_at),
        "updated_at": iso(agent.updated_at),
    }


def agent_review_read(agent: GlobalAgent, tenant: Tenant) -> dict[str, Any]:
    return {**agent_read(agent, tenant.public_id), "owner_tenant_name": tenant.name}


# --- link tokens --------------------------------------------------------------------------------


class LinkTokenIn(Strict):
    agent_id: str = Field(min_length=1, max_length=64)
    external_user_id: str = Field(min_length=1, max_length=255)


# --- the passport user --------------------------------------------------------------------------


class OtpSendIn(Strict):
    email: EmailStr


class OtpVerifyIn(Strict):
    email: EmailStr
    otp: str = Field(min_length=1, max_length=12)


class GrantCreate(Strict):
    agent_id: str = Field(min_length=1, max_length=64)
    categories_allowed: list[Category] = Field(min_length=1, max_length=6)
    access_type: AccessType = "read_only"
    expires_at: datetime | None = None
    duration_days: int | None = Field(default=None, ge=1, le=3650)
    link_token: str | None = Field(default=None, max_length=200)


class GrantUpdate(Strict):
    categories_allowed: list[Category] | None = Field(default=None, min_length=1, max_length=6)
    access_type: AccessType | None = None
    expires_at: datetime | None = None
    duration_days: int | None = Field(default=None, ge=1, le=3650)


def grant_read(view: GrantView) -> dict[str, Any]:
    grant = view.grant
    return {
        "id": grant.id,
        "agent_id": grant.agent_id,
        "agent": {
            "id": view.agent.id,
            "name": view.agent.name,
            "logo_url": view.agent.logo_url,
            "website_url": view.agent.website_url,
            "is_verified": is_verified(view.agent),
            "verification_status": view.agent.verification_status,
        },
        "categories_allowed": list(grant.categories),
        "access_type": grant.access_type,
        "expires_at": iso(grant.expires_at),
        "status": view.status,
        "created_at": iso(grant.created_at),
        "updated_at": iso(grant.updated_at),
        "revoked_at": iso(grant.revoked_at),
    }


def connection_read(view: ConnectionView) -> dict[str, Any]:
    return {
        "id": view.id,
        "organisation_name": view.organisation_name,
        "directory_id": view.directory_id,
        "method": view.method,
        "created_at": iso(view.created_at),
    }


def activity_read(item: ActivityItem) -> dict[str, Any]:
    return {
        "id": str(item.id),
        "action": item.action,
        "actor_type": item.actor_type,
        "agent": {"id": item.agent_id, "name": item.agent_name} if item.agent_id else None,
        "categories": item.categories,
        "memory_ids": item.memory_ids,
        "detail": item.detail,
        "created_at": iso(item.created_at),
    }


# --- the agent side --------------------------------------------------------------------------------


class ExchangeIn(Strict):
    code: str = Field(min_length=1, max_length=200)


class ResolveIn(Strict):
    external_user_id: str = Field(min_length=1, max_length=255)


def agent_grant_read(grant: Grant, status: str) -> dict[str, Any]:
    """The agent's own grant: what it may do, nothing about other agents."""
    return {
        "id": grant.id,
        "agent_id": grant.agent_id,
        "categories_allowed": list(grant.categories) if status == "active" else [],
        "access_type": grant.access_type,
        "expires_at": iso(grant.expires_at),
        "status": status,
        "created_at": iso(grant.created_at),
    }


class UniversalRetrieveIn(Lenient):
    """What ``UniversalMemory.get`` sends, plus an optional narrower category list."""

    query: str = Field(min_length=1, max_length=16_000)
    limit: int = Field(default=10, ge=1, le=50)
    categories: list[Category] | None = Field(default=None, max_length=6)
    format: Literal["bullets", "json", "xml"] = "bullets"
    context_max_tokens: int = Field(default=500, ge=50, le=4000)
    min_relevance: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description=(
            "The relevance floor: when even the best match's relevance_score is below it, nothing is "
            "returned (no memories, an empty system_prompt_addition). Absent: the server's default "
            "(MEMORYOS_RETRIEVAL_MIN_RELEVANCE, 0.1). 0 returns the best matches however weak."
        ),
    )


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


def universal_job_read(view: JobView) -> dict[str, Any]:
    """The bare job body of ``GET /v1/universal/memories/jobs/{id}`` (no envelope).

    ``state`` ``blocked``: the grant no longer allowed writing when the job ran; nothing was
    written and ``blocked_reason`` says why (``grant_revoked``, ``grant_expired``, …).
    """
    blocked_reason = jobs.blocked_reason(view)
    return {
        "job_id": view.job_id,
        "state": view.status,
        "status": view.status,
        "memories_created": view.memories_created,
        "blocked_reason": blocked_reason,
        "error": None if blocked_reason is not None else view.error,
        "result": {
            "created_memory_ids": view.created_memory_ids,
            "skipped": view.skipped,
            "results": [event.as_dict() for event in view.results] if view.results is not None else None,
            "completed_at": iso(view.completed_at),
        },
    }


# --- the passport user's memories -------------------------------------------------------------------


class CorrectionIn(Strict):
    corrected_content: str = Field(min_length=1, max_length=16_000)


class QuestionAnswerIn(Strict):
    answer: Literal["A", "B", "both", "neither"]


def export_read(export: dict[str, Any]) -> dict[str, Any]:
    user = export["user"]
    return {
        "user": {
            "user_uui_id": user.public_id,
            "email": user.email,
            "created_at": iso(user.created_at),
            "last_login_at": iso(user.last_login_at),
        },
        "exported_at": iso(export["exported_at"]),
        "memories": [
            {**memory_read(item["memory"]), "versions": [version_read(v) for v in item["versions"]]}
            for item in export["memories"]
        ],
        "pending_questions": [review_read(q) for q in export["questions"]],
        "grants": [grant_read(view) for view in export["grants"]],
        "connections": [connection_read(view) for view in export["connections"]],
        "activity": [activity_read(item) for item in export["activity"]],
    }
