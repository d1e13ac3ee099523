"""The agent side of Memory Passport: who is calling, for whom, and what the grant allows.

Every refusal of an agent's credentials is the same bare ``CrossAgentAuthFailed``: a wrong key,
a rotated key, a deleted agent, a UUI of another agent, a deleted passport all look alike, so
an agent learns nothing about other agents or users from being refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from memoryos_server.errors import ConsentCodeInvalid, CrossAgentAuthFailed
from memoryos_server.services.passport.agents import AgentService
from memoryos_server.services.audit import AuditService
from memoryos_server.services.passport.connections import ConnectionService
from memoryos_server.services.passport.grants import GrantService, grant_status
from memoryos_server.services.passport.pairwise import PairwiseIdentities
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import GlobalAgent, Grant, UniversalUser
from memoryos_server.storage.repositories.identity import TenantRepository
from memoryos_server.storage.repositories.passport import (
    ConsentCodeRepository,
    GrantRepository,
    OrgConnectionRepository,
    UniversalUserRepository,
)
from memoryos_server.storage.types import utcnow


@dataclass(frozen=True)
class AgentCaller:
    """An authenticated agent, and the passport user its UUI named (for user-scoped routes).

    The rows are read once, when the credentials are checked (``authenticate``), and carried
    with the request; what the agent may do is the grant, read again in the request's own
    transaction (``grant_state``), so a revocation takes effect on the very next call.
    """

    agent: GlobalAgent
    user: UniversalUser | None = None

    @property
    def agent_id(self) -> str:
        return self.agent.id

    @property
    def tenant_id(self) -> int:
        return self.agent.owner_tenant_id


@dataclass(frozen=True)
class GrantState:
    """This agent's grant for this user, as the agent may learn it."""

    grant: Grant | None
    status: str  # active | revoked | expired | none

    @property
    def active(self) -> bool:
        return self.status == "active"

    @property
    def categories(self) -> list[str]:
        return list(self.grant.categories) if self.grant is not None and self.active else []

    @property
    def can_write(self) -> bool:
        return self.active and self.grant is not None and self.grant.access_type == "read_write"

    @property
    def permission_error(self) -> str | None:
        return {
            "active": None,
            "revoked": "grant_revoked",
            "expired": "grant_expired",
        }.get(self.status, "no_grant_for_user")


@dataclass(frozen=True)
class Exchanged:
    uui_token: str
    grant: Grant


@dataclass(frozen=True)
class Resolved:
    uui_token: str | None
    permission_error: str | None


def parse_agent_key(authorization: str | None) -> str | None:
    scheme, _, credential = (authorization or "").partition(" ")
    if scheme.lower() != "apikey" or not credential.strip():
        return None
    return credential.strip()


class AgentAccessService:
    def __init__(
        self,
        runtime: Runtime,
        *,
        agents: AgentService,
        grants: GrantService,
        connections: ConnectionService,
        pairwise: PairwiseIdentities,
        audit: AuditService,
    ) -> None:
        self.rt = runtime
        self.agents = agents
        self.grants = grants
        self.connections = connections
        self.pairwise = pairwise
        self.audit = audit

    # --- authentication --------------------------------------------------------------------------

    def authenticate(
        self, session: Session, *, authorization: str | None, uui_token: str | None, needs_user: bool
    ) -> AgentCaller:
        agent = self.agents.authenticate_key(session, parse_agent_key(authorization))
        if not needs_user:
            return AgentCaller(agent)
        identity = self.pairwise.lookup(session, (uui_token or "").strip())
        # A UUI names a user to one agent only: another agent's UUI is as unknown as a made-up one.
        if identity is None or identity.agent_id != agent.id:
            raise CrossAgentAuthFailed()
        user = UniversalUserRepository(session).by_id(identity.universal_user_id)
        if user is None or user.wrapped_key is None:
            raise CrossAgentAuthFailed()
        return AgentCaller(agent, user)

    # --- the grant -----------------------------------------------------------------------------------

    def grant_state(
        self, session: Session, agent: GlobalAgent, user: UniversalUser, *, now: datetime | None = None, hold: bool = False
    ) -> GrantState:
        """``hold``: for a write, the grant cannot be revoked or changed until the write's
        transaction ends, so a revocation answered to the person is never followed by the
        agent's write (it waits for the write in flight instead)."""
        grant = GrantRepository(session).for_pair(user.id, agent.id, hold=hold)
        if grant is None:
            return GrantState(None, "none")
        return GrantState(grant, grant_status(grant, now))

    # --- how an agent obtains a UUI ----------------------------------------------------------------

    def exchange_code(self, session: Session, agent: GlobalAgent, code: str) -> Exchanged:
        """Trade a one-time consent code for this agent's UUI of the user who approved it.

        Unknown, used, expired, another agent's, or its grant no longer active: the same
        ``ConsentCodeInvalid``, so a code tells nothing to an agent it was not made for.
        """
        codes = ConsentCodeRepository(session)
        row = codes.by_hash(self.grants.code_hash(code.strip())) if code else None
        now = utcnow()
        if row is None or row.agent_id != agent.id or row.used_at is not None or row.expires_at <= now:
            raise ConsentCodeInvalid("the code is unknown, used or expired")
        user = UniversalUserRepository(session).by_id(row.universal_user_id)
        state = self.grant_state(session, agent, user, now=now) if user is not None and user.wrapped_key else None
        if state is None or not state.active or state.grant is None or not codes.consume(row.id, now):
            raise ConsentCodeInvalid("the code is unknown, used or expired")
        assert user is not None
        token = self.pairwise.ensure(session, user, agent.id)
        self.audit.record(
            session,
            action="consent.exchanged",
            actor_type="agent",
            actor_id=agent.id,
            universal_user_id=user.id,
            agent_id=agent.id,
            tenant_id=agent.owner_tenant_id,
            categories=list(state.grant.categories),
        )
        return Exchanged(token, state.grant)

    def resolve_user(self, session: Session, agent: GlobalAgent, external_user_id: str) -> Resolved:
        """The UUI of the passport user who connected this account of the agent's tenant and
        holds an active grant for this agent. Otherwise why not: ``not_connected``, or the
        grant state of the most recently connected user."""
        tenant = agent.owner_tenant_id
        tenant_row = TenantRepository(session).by_id(tenant)
        assert tenant_row is not None
        account_hash = self.connections.account_hash(tenant_row.public_id, external_user_id.strip())
        user_ids = OrgConnectionRepository(session).users_for_account(tenant, account_hash)
        if not user_ids:
            return Resolved(None, "not_connected")
        users = UniversalUserRepository(session)
        first_state: GrantState | None = None
        for user_id in user_ids:
            user = users.by_id(user_id)
            if user is None or user.wrapped_key is None:
                continue
            state = self.grant_state(session, agent, user)
            if state.active:
                token = self.pairwise.ensure(session, user, agent.id)
                # Handing out the UUI names the person to the agent: the user sees that it did.
                self.audit.record(
                    session,
                    action="user.resolved",
                    actor_type="agent",
                    actor_id=agent.id,
                    universal_user_id=user.id,
                    agent_id=agent.id,
                    tenant_id=tenant,
                    detail={"via": "connected_account"},
                )
                return Resolved(token, None)
            first_state = first_state or state
        return Resolved(None, first_state.permission_error if first_state else "not_connected")
