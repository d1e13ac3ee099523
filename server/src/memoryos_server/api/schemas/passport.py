"""Schemas of the Memory Passport routes: agents, the passport user's API, the agent side."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import EmailStr, Field

from memoryos_server.api.schemas.common import Lenient, Strict
from memoryos_server.services.agents import is_verified
from memoryos_server.services.audit import ActivityItem
from memoryos_server.services.connections import ConnectionView
from memoryos_server.services.grants import GrantView
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


class UniversalMessage(Lenient):
    """A chat message as the published SDK sends it (extra fields ignored)."""

    role: Literal["user", "assistant", "system"]
    content: str = Field(min_length=1, max_length=16_000)
    occurred_at: datetime | None = None
