"""Permission grants: which agent may read (or also write) which categories of a passport.

One grant per (passport user, agent): creating it again replaces it. Revoking keeps the row
(status ``revoked``) so the agent can be told ``grant_revoked`` rather than nothing; expiry is
read from ``expires_at`` on every call, so both take effect on the agent's next call.

Creating or replacing a grant, and asking for a fresh one, hands out a one-time consent code
(10 minutes, single use, bound to the agent) that the agent's backend exchanges for its UUI.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Sequence

from sqlalchemy.orm import Session

from memoryos_server.crypto import public_id, random_token
from memoryos_server.errors import AgentNotFound, GrantNotActive, GrantNotFound, ServiceUnavailable, ValidationFailed
from memoryos_server.services.passport.agents import AGENT_KIND_MCP_CLIENT, AGENT_KIND_TENANT, AgentService, check_categories
from memoryos_server.services.audit import AuditService
from memoryos_server.services.passport.connections import ConnectionService
from memoryos_server.services.email import EmailService
from memoryos_server.services.ids import is_plain_id
from memoryos_server.services.passport.pairwise import PairwiseIdentities
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.db import after_commit
from memoryos_server.storage.models import ConsentCode, GlobalAgent, Grant, UniversalUser
from memoryos_server.storage.repositories.agents import AgentRepository
from memoryos_server.storage.repositories.mcp import McpTokenRepository
from memoryos_server.storage.repositories.passport import ConsentCodeRepository, GrantRepository
from memoryos_server.storage.types import utcnow

log = logging.getLogger("memoryos.grants")

ACCESS_TYPES = ("read_only", "read_write")
CONSENT_CODE_PREFIX = "mcc_"
MAX_DURATION_DAYS = 3650
_UNSET: Any = object()


def grant_status(grant: Grant, now: datetime | None = None) -> str:
    """active | revoked | expired — expiry is a function of the clock, not a stored state."""
    if grant.status == "revoked":
        return "revoked"
    if grant.expires_at is not None and grant.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


@dataclass(frozen=True)
class GrantView:
    grant: Grant
    agent: GlobalAgent
    status: str

    @property
    def given_at(self) -> datetime:
        """When the person last set this access (approved, replaced or changed it)."""
        return self.grant.updated_at or self.grant.created_at


@dataclass(frozen=True)
class IssuedCode:
    code: str
    expires_at: datetime
    expires_in_seconds: int


@dataclass(frozen=True)
class IssuedGrant:
    view: GrantView
    code: IssuedCode | None  # None for an MCP client: it gets an OAuth authorization code instead
    replaced: bool


class GrantService:
    def __init__(
        self,
        runtime: Runtime,
        *,
        email: EmailService,
        agents: AgentService,
        connections: ConnectionService,
        pairwise: PairwiseIdentities,
        audit: AuditService,
    ) -> None:
        self.rt = runtime
        self.email = email
        self.agents = agents
        self.connections = connections
        self.pairwise = pairwise
        self.audit = audit

    # --- reading ------------------------------------------------------------------------------

    def list(self, session: Session, user: UniversalUser) -> list[GrantView]:
        now = utcnow()
        return [GrantView(grant, agent, grant_status(grant, now)) for grant, agent in GrantRepository(session).for_user(user.id)]

    def active_for_agent(self, session: Session, user: UniversalUser, agent_id: str) -> GrantView | None:
        """The user's active grant to this agent, if there is one (the consent screen shows it)."""
        grant = GrantRepository(session).for_pair(user.id, agent_id)
        agent = AgentRepository(session).live(grant.agent_id) if grant else None
        if grant is None or agent is None or grant_status(grant) != "active":
            return None
        return GrantView(grant, agent, "active")

    def get(self, session: Session, user: UniversalUser, grant_id: str) -> GrantView:
        grant = GrantRepository(session).of_user(user.id, grant_id) if is_plain_id(grant_id) else None
        agent = AgentRepository(session).live(grant.agent_id) if grant else None
        if grant is None or agent is None:
            raise GrantNotFound("no such grant")
        return GrantView(grant, agent, grant_status(grant))

    # --- creating, changing, revoking ---------------------------------------------------------

    def create_or_replace(
        self,
        session: Session,
        user: UniversalUser,
        *,
        agent_id: str,
        categories: Sequence[str],
        access_type: str = "read_only",
        expires_at: datetime | None = None,
        duration_days: int | None = None,
        link_token: str | None = None,
        keep_expiry: bool = False,
        mcp_client: bool = False,
    ) -> IssuedGrant:
        """Approve an agent. Replaces the user's earlier grant to it, revoked or not.

        ``keep_expiry`` keeps the end of the agent's active grant (the consent screen's "keep the
        current end" when the person updates an access they gave before); without an active
        grant there is no end to keep, and the person is asked to choose one.

        A ``link_token`` (from the agent's tenant) also connects the user's account there; a bad
        link fails the whole call, so nothing is granted half-way.

        ``mcp_client``: the agent is an MCP client approved on its own ``/authorize`` screen. It
        gets no consent code (its OAuth authorization code is issued by ``mcp_auth``), and an
        approval after its earlier access ended starts afresh: tokens from before are not revived.
        """
        agent = self.grantable_client(session, agent_id) if mcp_client else self.grantable_agent(session, agent_id)
        allowed = _categories(categories)
        _check_access_type(access_type)
        repo = GrantRepository(session)
        grant = repo.for_pair(user.id, agent.id)
        if keep_expiry:
            if grant is None or grant_status(grant) != "active":
                message = "choose how long the access lasts: the earlier access has ended"
                raise ValidationFailed(message, details=[{"loc": ["body", "duration_days"], "msg": message, "type": "missing"}])
            expiry = grant.expires_at
        else:
            expiry = _expiry(expires_at, duration_days)
        if link_token:
            self.connections.connect_with_link(session, user, agent.id, link_token)
        now = utcnow()
        replaced = grant is not None
        if grant is not None and grant_status(grant, now) != "active":
            McpTokenRepository(session).revoke_pair(user.id, agent.id, now, "access_ended")
        if grant is None:
            grant, created = repo.insert_or_get(
                Grant(
                    id=public_id("grt_"),
                    universal_user_id=user.id,
                    agent_id=agent.id,
                    categories=allowed,
                    access_type=access_type,
                    expires_at=expiry,
                    status="active",
                )
            )
            replaced = not created
        if replaced:
            grant.categories = allowed
            grant.access_type = access_type
            grant.expires_at = expiry
            grant.status = "active"
            grant.revoked_at = None
            grant.updated_at = now
        session.flush()
        self.pairwise.ensure(session, user, agent.id)
        code = None if mcp_client else self._issue_code(session, user, agent.id)
        self._record(session, user, grant, "grant.replaced" if replaced else "grant.created")
        issued = IssuedGrant(GrantView(grant, agent, grant_status(grant, now)), code, replaced)
        # The person is told by email, with the manage link, once the grant is committed.
        after_commit(session, lambda: self.notify(user, issued.view))
        return issued

    def update(
        self,
        session: Session,
        user: UniversalUser,
        grant_id: str,
        *,
        categories: Sequence[str] | None = None,
        access_type: str | None = None,
        expires_at: datetime | None = _UNSET,
        duration_days: int | None = None,
    ) -> GrantView:
        """Change an active (or expired) grant in place. ``expires_at=None`` means until revoked."""
        view = self.get(session, user, grant_id)
        grant = view.grant
        if grant.status == "revoked":
            raise GrantNotActive("this grant was revoked; approve the agent again to replace it")
        if categories is not None:
            grant.categories = _categories(categories)
        if access_type is not None:
            _check_access_type(access_type)
            grant.access_type = access_type
        if duration_days is not None or expires_at is not _UNSET:
            grant.expires_at = _expiry(None if expires_at is _UNSET else expires_at, duration_days)
        grant.updated_at = utcnow()
        session.flush()
        self._record(session, user, grant, "grant.updated")
        return GrantView(grant, view.agent, grant_status(grant))

    def revoke(self, session: Session, user: UniversalUser, grant_id: str) -> GrantView:
        view = self.get(session, user, grant_id)
        grant = view.grant
        if grant.status != "revoked":
            now = utcnow()
            grant.status = "revoked"
            grant.revoked_at = now
            grant.updated_at = now
            ConsentCodeRepository(session).retire_pair(user.id, grant.agent_id, now)
            # An MCP client's tokens die with the grant: approving it again later starts afresh.
            McpTokenRepository(session).revoke_pair(user.id, grant.agent_id, now, "grant_revoked")
            session.flush()
            self._record(session, user, grant, "grant.revoked")
        return GrantView(grant, view.agent, "revoked")

    def issue_code(self, session: Session, user: UniversalUser, grant_id: str) -> tuple[GrantView, IssuedCode]:
        """A fresh one-time code for an active grant (the user re-links an agent)."""
        view = self.get(session, user, grant_id)
        if view.status != "active":
            raise GrantNotActive(f"this grant is {view.status}; approve the agent again first")
        if view.agent.kind != AGENT_KIND_TENANT:
            raise GrantNotActive("an app connected through MCP signs in by itself: it needs no code")
        self.pairwise.ensure(session, user, view.agent.id)
        return view, self._issue_code(session, user, view.agent.id)

    def notify(self, user: UniversalUser, view: GrantView) -> bool:
        """Email the user about a grant, with the manage link (``create_or_replace`` has it sent
        once the grant is committed).

        A mail outage must not undo a grant the user just made: it is logged and reported.
        """
        try:
            self.email.send_grant_notification(
                to=user.email,
                agent_name=view.agent.name,
                categories=list(view.grant.categories),
                access_type=view.grant.access_type,
                expires_at=view.grant.expires_at,
            )
        except ServiceUnavailable:
            log.warning("grant notification for %s could not be sent", view.grant.id)
            return False
        return True

    # --- internals ---------------------------------------------------------------------------

    def grantable_agent(self, session: Session, agent_id: str) -> GlobalAgent:
        """The agent a user may approve: known, not deleted, active and not rejected by review.

        A deactivated agent could not use a grant (its key is refused), so approving it is
        refused too, before the user is asked anything.
        """
        agent = self.agents.public_profile(session, agent_id)
        if agent.verification_status == "rejected" or not agent.is_active:
            raise AgentNotFound("no such agent")
        return agent

    def grantable_client(self, session: Session, agent_id: str) -> GlobalAgent:
        """An MCP client's agent row, for its own ``/authorize`` screen only."""
        agent = AgentRepository(session).live(agent_id)
        if agent is None or agent.kind != AGENT_KIND_MCP_CLIENT or not agent.is_active:
            raise AgentNotFound("no such agent")
        return agent

    def _issue_code(self, session: Session, user: UniversalUser, agent_id: str) -> IssuedCode:
        codes = ConsentCodeRepository(session)
        now = utcnow()
        codes.retire_pair(user.id, agent_id, now)
        raw = random_token(CONSENT_CODE_PREFIX)
        ttl = self.rt.settings.consent_code_ttl_seconds
        codes.add(
            ConsentCode(
                code_hash=self.code_hash(raw),
                agent_id=agent_id,
                universal_user_id=user.id,
                created_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
        )
        return IssuedCode(raw, now + timedelta(seconds=ttl), ttl)

    def code_hash(self, raw: str) -> str:
        return self.rt.hasher.hash(raw, purpose="consent_code")

    def _record(self, session: Session, user: UniversalUser, grant: Grant, action: str) -> None:
        self.audit.record(
            session,
            action=action,
            actor_type="passport_user",
            actor_id=user.public_id,
            universal_user_id=user.id,
            agent_id=grant.agent_id,
            categories=list(grant.categories),
            detail={
                "grant_id": grant.id,
                "access_type": grant.access_type,
                "expires_at": grant.expires_at.isoformat() if grant.expires_at else None,
            },
        )


def _categories(values: Sequence[str]) -> list[str]:
    allowed = check_categories(values, "categories_allowed")
    if not allowed:
        message = "choose at least one category"
        raise ValidationFailed(message, details=[{"loc": ["body", "categories_allowed"], "msg": message, "type": "list"}])
    return allowed


def _check_access_type(value: str) -> None:
    if value not in ACCESS_TYPES:
        message = "access_type must be read_only or read_write"
        raise ValidationFailed(message, details=[{"loc": ["body", "access_type"], "msg": message, "type": "enum"}])


def _expiry(expires_at: datetime | None, duration_days: int | None) -> datetime | None:
    if expires_at is not None and duration_days is not None:
        message = "give expires_at or duration_days, not both"
        raise ValidationFailed(message, details=[{"loc": ["body", "duration_days"], "msg": message, "type": "conflict"}])
    now = utcnow()
    if duration_days is not None:
        if not 1 <= duration_days <= MAX_DURATION_DAYS:
            message = f"duration_days must be 1–{MAX_DURATION_DAYS}"
            raise ValidationFailed(message, details=[{"loc": ["body", "duration_days"], "msg": message, "type": "range"}])
        return now + timedelta(days=duration_days)
    if expires_at is not None:
        if expires_at.tzinfo is None:
            message = "expires_at needs a time zone"
            raise ValidationFailed(message, details=[{"loc": ["body", "expires_at"], "msg": message, "type": "datetime"}])
        if expires_at <= now:
            message = "expires_at must be in the future"
            raise ValidationFailed(message, details=[{"loc": ["body", "expires_at"], "msg": message, "type": "datetime"}])
    return expires_at
