"""Global agents: a tenant registers them, the public sees their profile, an operator verifies them.

An agent authenticates universal calls with its ``agent_sk_…`` key, stored only as a keyed
hash. Rotating the key replaces the hash, so the old key fails on the very next call.

Its logo is fetched once, when the agent is created or an update gives a ``logo_url``
(``services/logos.py``), and served from our origin: the consent screen never loads anything
from the agent's site, which would tell the agent who is looking before they consent. A logo
that cannot be fetched does not stop the save: the pages show initials and the answer says why
(``logo_problem``). The fetch happens before the first statement of the transaction, so no
database lock is held while another server takes its time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from memoryos_server.crypto import random_token
from memoryos_server.engine.types import CATEGORIES
from memoryos_server.errors import (
    AgentNotFound,
    BadRequest,
    CrossAgentAuthFailed,
    PermissionDenied,
    RedirectUriNotRegistered,
    ValidationFailed,
)
from memoryos_server.services.audit import AuditService
from memoryos_server.services.logos import FetchedLogo, LogoFetcher
from memoryos_server.services.permissions import Permission
from memoryos_server.services.principal import Principal
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import GlobalAgent, Tenant
from memoryos_server.storage.repositories.agents import AgentRepository
from memoryos_server.storage.repositories.passport import (
    ConsentCodeRepository,
    GrantRepository,
    LinkTokenRepository,
    PairwiseIdentityRepository,
)
from memoryos_server.storage.types import utcnow

AGENT_KEY_PREFIX = "agent_sk_"
# An organisation's agent, or an MCP client that registered itself (services/passport/mcp_auth).
AGENT_KIND_TENANT = "tenant"
AGENT_KIND_MCP_CLIENT = "mcp_client"
VERIFICATION_DECISIONS = ("verified", "rejected")
VERIFICATION_STATUSES = ("pending", "verified", "rejected")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Changing what a user recognises an agent by, or where its codes go, needs a fresh review.
_REVIEWED_FIELDS = frozenset({"name", "website_url", "logo_url", "redirect_uris"})
_UNSET: Any = object()


@dataclass
class AgentChanges:
    """A partial update: only the fields given (not ``_UNSET``) change."""

    name: str = _UNSET
    description: str | None = _UNSET
    website_url: str | None = _UNSET
    logo_url: str | None = _UNSET
    redirect_uris: list[str] = _UNSET
    default_categories: list[str] = _UNSET
    is_active: bool = _UNSET
    given: set[str] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        self.given = {name for name in self.__dataclass_fields__ if name != "given" and getattr(self, name) is not _UNSET}


@dataclass
class GrantCounts:
    """People with a grant in force for one agent, in all and per category."""

    people: int = 0
    by_category: dict[str, int] = field(default_factory=dict)


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_OR_NEWLINE = re.compile(r"[\x00-\x1f\x7f]")


def check_text(value: str | None, field_name: str, *, max_length: int, multiline: bool = False) -> str | None:
    """Trimmed text without control characters (PostgreSQL refuses NUL; nobody needs the rest)."""
    text = (value or "").strip()
    if not text:
        return None
    pattern = _CONTROL if multiline else _CONTROL_OR_NEWLINE
    problem = None
    if pattern.search(text):
        problem = "must not contain control characters"
    elif len(text) > max_length:
        problem = f"is longer than {max_length} characters"
    if problem:
        raise ValidationFailed(
            f"{field_name} {problem}", details=[{"loc": ["body", field_name], "msg": problem, "type": "string"}]
        )
    return text


def check_url(value: str | None, field_name: str) -> str | None:
    """https anywhere, http only on this machine; "" and None mean "none"."""
    value = check_text(value, field_name, max_length=2000)
    if value is None:
        return None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 — raises on a malformed port
    except ValueError as exc:
        raise ValidationFailed(
            f"{field_name} is not a URL", details=[{"loc": ["body", field_name], "msg": "is not a URL", "type": "url"}]
        ) from exc
    host = (parts.hostname or "").lower()
    problem = None
    if parts.scheme not in ("https", "http") or not host:
        problem = "must be an absolute https URL"
    elif parts.scheme == "http" and host not in _LOOPBACK_HOSTS:
        problem = "must use https (http is allowed only for localhost and 127.0.0.1)"
    elif parts.username or parts.password:
        problem = "must not carry a user name or password"
    elif field_name.startswith("redirect_uri") and parts.fragment:
        problem = "must not have a fragment"
    if problem:
        raise ValidationFailed(
            f"{field_name} {problem}", details=[{"loc": ["body", field_name], "msg": problem, "type": "url"}]
        )
    return value


def check_categories(values: Sequence[str], field_name: str) -> list[str]:
    unknown = [value for value in values if value not in CATEGORIES]
    if unknown:
        message = f"unknown categories: {', '.join(sorted(set(unknown)))}; use {', '.join(CATEGORIES)}"
        raise ValidationFailed(message, details=[{"loc": ["body", field_name], "msg": message, "type": "enum"}])
    return list(dict.fromkeys(values))


@dataclass(frozen=True)
class SavedAgent:
    """An agent as created or updated; ``raw_key`` only on creation (shown once), and
    ``logo_problem`` when a ``logo_url`` was given whose image could not be stored."""

    agent: GlobalAgent
    raw_key: str | None = None
    logo_problem: str | None = None


class AgentService:
    def __init__(self, runtime: Runtime, *, audit: AuditService, logos: LogoFetcher) -> None:
        self.rt = runtime
        self.audit = audit
        self.logos = logos

    # --- the owning tenant ---------------------------------------------------------------

    def create(
        self,
        session: Session,
        principal: Principal,
        *,
        name: str,
        redirect_uris: Sequence[str] = (),
        description: str | None = None,
        website_url: str | None = None,
        logo_url: str | None = None,
        default_categories: Sequence[str] = (),
    ) -> SavedAgent:
        """Register an agent (pending review), with its raw key, which is shown once."""
        tenant_id = principal.require(Permission.AGENTS_MANAGE)
        checked_logo_url = check_url(logo_url, "logo_url")
        raw_key = random_token(AGENT_KEY_PREFIX)
        agent = GlobalAgent(
            id=str(uuid.uuid4()),
            owner_tenant_id=tenant_id,
            name=_name(name),
            description=check_text(description, "description", max_length=2000, multiline=True),
            website_url=check_url(website_url, "website_url"),
            logo_url=checked_logo_url,
            redirect_uris=_redirect_uris(redirect_uris),
            default_categories=check_categories(default_categories, "default_categories_requested"),
            verification_status="pending",
            is_active=True,
            key_hash=self._key_hash(raw_key),
            key_prefix=raw_key[:16],
            created_by=principal.actor,
        )
        logo = self.logos.fetch(checked_logo_url)  # every field checked first: a refused body calls nobody
        agent.logo_image, agent.logo_content_type = logo.image, logo.content_type
        return SavedAgent(AgentRepository(session).add(agent), raw_key, logo.problem)

    def list_own(self, session: Session, principal: Principal) -> list[GlobalAgent]:
        return list(AgentRepository(session).for_tenant(principal.require(Permission.AGENTS_MANAGE)))

    def grant_counts(self, session: Session, principal: Principal, agents: Sequence[GlobalAgent]) -> dict[str, GrantCounts]:
        """How many people let each of the caller's agents in, and to which categories: counts
        only, never who (the owner of an agent learns nothing about a person from here)."""
        tenant_id = principal.require(Permission.AGENTS_MANAGE)
        own = [agent.id for agent in agents if agent.owner_tenant_id == tenant_id]
        counts = {agent_id: GrantCounts() for agent_id in own}
        for agent_id, categories in GrantRepository(session).active_categories(own, utcnow()):
            tally = counts[agent_id]
            tally.people += 1
            for category in categories:
                tally.by_category[category] = tally.by_category.get(category, 0) + 1
        return counts

    def get_own(self, session: Session, principal: Principal, agent_id: str) -> GlobalAgent:
        tenant_id = principal.require(Permission.AGENTS_MANAGE)
        canonical = canonical_agent_id(agent_id)
        agent = AgentRepository(session).owned(tenant_id, canonical) if canonical else None
        if agent is None:
            raise AgentNotFound("no such agent")
        return agent

    def update(self, session: Session, principal: Principal, agent_id: str, changes: AgentChanges) -> SavedAgent:
        """Change the fields given. A ``logo_url`` given is fetched again, even the same one:
        a logo that changed at its source is taken only when its owner saves it."""
        principal.require(Permission.AGENTS_MANAGE)
        values = _checked_changes(changes)  # a refused body calls nobody
        logo: FetchedLogo | None = self.logos.fetch(values["logo_url"]) if "logo_url" in values else None
        agent = self.get_own(session, principal, agent_id)
        before = {name: getattr(agent, name) for name in _REVIEWED_FIELDS}
        image_before = agent.logo_image
        if logo is not None:
            if logo.stored:
                agent.logo_image, agent.logo_content_type = logo.image, logo.content_type
            elif logo.problem is None or values["logo_url"] != agent.logo_url:
                # no logo any more, or a new one that cannot be had: initials until it can
                agent.logo_image, agent.logo_content_type = None, None
            # else the same address failed this time: the image fetched before stays
        for name, value in values.items():
            setattr(agent, name, value)
        # A new image at the same address is as much a new logo as a new address.
        changed_reviewed = agent.logo_image != image_before or any(getattr(agent, name) != before[name] for name in _REVIEWED_FIELDS)
        if changed_reviewed and agent.verification_status != "pending":
            agent.verification_status = "pending"
            agent.verified_at = None
            agent.verification_note = "profile changed; waiting for a new review"
        session.flush()
        return SavedAgent(agent, logo_problem=logo.problem if logo is not None else None)

    def rotate_key(self, session: Session, principal: Principal, agent_id: str) -> tuple[GlobalAgent, str]:
        agent = self.get_own(session, principal, agent_id)
        raw_key = random_token(AGENT_KEY_PREFIX)
        agent.key_hash = self._key_hash(raw_key)
        agent.key_prefix = raw_key[:16]
        session.flush()
        return agent, raw_key

    def delete(self, session: Session, principal: Principal, agent_id: str) -> GlobalAgent:
        """End the agent: its key, grants, UUIs, pending codes and links stop working at once.

        The row stays (marked deleted) so a passport user's activity still names the agent.
        """
        agent = self.get_own(session, principal, agent_id)
        now = utcnow()
        agent.deleted_at = now
        agent.is_active = False
        # A random hash no key maps to: keeps the unique column filled and the old key dead.
        agent.key_hash = self._key_hash(random_token("deleted_"))
        for user_id in GrantRepository(session).revoke_all_for_agent(agent.id, now):
            self.audit.record(
                session,
                action="grant.ended",
                actor_type=principal.kind,
                actor_id=principal.credential_id,
                universal_user_id=user_id,
                agent_id=agent.id,
                detail={"reason": "agent_deleted"},
            )
        PairwiseIdentityRepository(session).delete_for_agent(agent.id)
        ConsentCodeRepository(session).delete_for_agent(agent.id)
        LinkTokenRepository(session).delete_for_agent(agent.id)
        session.flush()
        return agent

    # --- everyone ----------------------------------------------------------------------------

    def public_profile(self, session: Session, agent_id: str) -> GlobalAgent:
        """The profile a consent screen shows. Unknown, malformed or deleted ids are all "not found"."""
        canonical = canonical_agent_id(agent_id)
        agent = AgentRepository(session).live(canonical) if canonical else None
        # An MCP client has no public profile: it is approved only through its own /authorize.
        if agent is None or agent.kind != AGENT_KIND_TENANT:
            raise AgentNotFound("no such agent")
        return agent

    def logo(self, session: Session, agent_id: str) -> tuple[bytes, str] | None:
        """The stored logo of an agent that has not been deleted, and its type."""
        canonical = canonical_agent_id(agent_id)
        return AgentRepository(session).logo(canonical) if canonical else None

    @staticmethod
    def resolve_redirect_uri(agent: GlobalAgent, requested: str | None) -> str | None:
        """Where a consent flow may send the user back: a registered URI, exactly, or none.

        No URI asked for → the agent's first registered one, or ``None`` (the hosted completion
        page). Anything not registered is refused: no open redirects.
        """
        registered = list(agent.redirect_uris or [])
        if requested is None or not requested.strip():
            return registered[0] if registered else None
        if requested.strip() in registered:
            return requested.strip()
        raise RedirectUriNotRegistered("this redirect_uri is not registered for the agent")

    # --- the operator -----------------------------------------------------------------------------

    def list_for_review(
        self, session: Session, operator: Principal, *, status: str | None = "pending", limit: int = 200
    ) -> list[tuple[GlobalAgent, Tenant]]:
        if not operator.is_operator:
            raise PermissionDenied("operator access only")
        if status is not None and status not in VERIFICATION_STATUSES:
            raise BadRequest("invalid_status", f"status must be one of {', '.join(VERIFICATION_STATUSES)}")
        return list(AgentRepository(session).by_status(status, limit=limit))

    def set_verification(
        self, session: Session, agent_id: str, decision: str, note: str | None = None, *, actor: str = "operator"
    ) -> GlobalAgent:
        """Record an operator's decision. Used by ``POST /v1/admin/agents/{id}/verification`` and
        ``memoryos admin verify-agent``; the caller has established that it is an operator."""
        if decision not in VERIFICATION_DECISIONS:
            raise BadRequest("invalid_decision", "decision must be 'verified' or 'rejected'")
        agent = self.public_profile(session, agent_id)
        agent.verification_status = decision
        agent.verification_note = check_text(note, "note", max_length=2000, multiline=True)
        agent.verified_at = utcnow() if decision == "verified" else None
        self.audit.record(
            session,
            action=f"agent.{decision}",
            actor_type="operator",
            actor_id=actor,
            agent_id=agent.id,
            tenant_id=agent.owner_tenant_id,
            detail={"note": agent.verification_note} if agent.verification_note else {},
        )
        session.flush()
        return agent

    # --- universal calls ---------------------------------------------------------------------------

    def authenticate_key(self, session: Session, raw_key: str | None) -> GlobalAgent:
        """The agent behind an ``agent_sk_…`` key; anything wrong is the same bare refusal.

        Deactivated and operator-rejected agents are refused too.
        """
        if not raw_key or not raw_key.startswith(AGENT_KEY_PREFIX) or len(raw_key) > 200:
            raise CrossAgentAuthFailed()
        agent = AgentRepository(session).by_key_hash(self._key_hash(raw_key))
        if agent is None or not agent.is_active or agent.verification_status == "rejected":
            raise CrossAgentAuthFailed()
        return agent

    def _key_hash(self, raw_key: str) -> str:
        return self.rt.hasher.hash(raw_key, purpose="agent_key")


def is_verified(agent: GlobalAgent) -> bool:
    return agent.verification_status == "verified"


def _checked_changes(changes: AgentChanges) -> dict[str, Any]:
    checks: dict[str, Any] = {
        "name": _name,
        "description": lambda value: check_text(value, "description", max_length=2000, multiline=True),
        "website_url": lambda value: check_url(value, "website_url"),
        "logo_url": lambda value: check_url(value, "logo_url"),
        "redirect_uris": _redirect_uris,
        "default_categories": lambda value: check_categories(value, "default_categories_requested"),
        "is_active": bool,
    }
    return {name: check(getattr(changes, name)) for name, check in checks.items() if name in changes.given}


def _name(value: str) -> str:
    name = check_text(value, "name", max_length=200)
    if not name:
        message = "name must be 1–200 characters"
        raise ValidationFailed(message, details=[{"loc": ["body", "name"], "msg": message, "type": "string"}])
    return name


def _redirect_uris(values: Sequence[str]) -> list[str]:
    checked = [check_url(value, "redirect_uris") for value in values]
    unique = list(dict.fromkeys(value for value in checked if value))
    if len(unique) > 20:
        raise ValidationFailed("at most 20 redirect URIs", details=[{"loc": ["body", "redirect_uris"], "msg": "at most 20", "type": "list"}])
    return unique


def canonical_agent_id(value: str) -> str | None:
    """The stored form of an agent id (a lower-case UUID), or None for anything malformed."""
    if not isinstance(value, str) or len(value) != 36:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
