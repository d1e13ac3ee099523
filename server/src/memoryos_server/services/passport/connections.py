"""Organisation connections: a passport user's link to their account at a tenant.

The tenant's backend asks for a one-time secure link (``plink_…``) for its signed-in user; the
user opens it while signed in to their passport, and that creates the connection. A connection
proves account ownership only: it grants no memory access (that is what grants are for).

Neither the link nor the connection keeps the tenant's account id: both hold a keyed hash of
(tenant, account id), the same value user resolve computes from the agent's tenant and the id
it is given.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from memoryos_server.crypto import public_id, random_token
from memoryos_server.errors import (
    AgentNotFound,
    BadRequest,
    ConnectionNotFound,
    LinkExpired,
    LinkForAnotherAgent,
    LinkTokensDisabled,
)
from memoryos_server.services.passport.agents import canonical_agent_id
from memoryos_server.services.audit import AuditService
from memoryos_server.services.ids import is_plain_id
from memoryos_server.services.permissions import Permission
from memoryos_server.services.principal import Principal
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import LinkToken, OrgConnection, UniversalUser
from memoryos_server.storage.repositories.agents import AgentRepository
from memoryos_server.storage.repositories.identity import TenantRepository
from memoryos_server.storage.repositories.passport import DirectoryRepository, LinkTokenRepository, OrgConnectionRepository
from memoryos_server.storage.types import utcnow

LINK_TOKEN_PREFIX = "plink_"
_ACCOUNT_ID = re.compile(r"^[^\x00-\x1f\x7f]{1,255}$")


@dataclass(frozen=True)
class IssuedLink:
    link_token: str
    expires_in_seconds: int
    expires_at: datetime


@dataclass(frozen=True)
class LinkPreview:
    """What a still-usable secure link would connect: shown to the user before they confirm."""

    organisation_name: str
    agent_id: str
    expires_at: datetime


@dataclass(frozen=True)
class ConnectionView:
    id: str
    organisation_name: str
    directory_id: str | None
    method: str
    created_at: datetime


class ConnectionService:
    def __init__(self, runtime: Runtime, *, audit: AuditService) -> None:
        self.rt = runtime
        self.audit = audit

    def account_hash(self, tenant_public_id: str, external_account_id: str) -> str:
        """The tenant-scoped keyed hash of an account id (secure link, OAuth ``sub``, resolve)."""
        return self.rt.hasher.pairwise("org-account", tenant_public_id, external_account_id)

    # --- the tenant's backend -------------------------------------------------------------

    def create_link_token(
        self, session: Session, principal: Principal, *, agent_id: str, external_user_id: str
    ) -> IssuedLink:
        tenant_id = principal.require(Permission.CONNECTORS_MANAGE)
        canonical = canonical_agent_id(agent_id)
        agent = AgentRepository(session).owned(tenant_id, canonical) if canonical else None
        if agent is None:
            raise AgentNotFound("no such agent")
        account = external_user_id.strip()
        if not _ACCOUNT_ID.match(account):
            raise BadRequest("invalid_external_user_id", "external_user_id is 1–255 printable characters")
        entry = DirectoryRepository(session).of_tenant(tenant_id)
        if entry is not None and entry.status == "active" and not entry.link_token_enabled:
            raise LinkTokensDisabled("your directory entry turns secure links off (link_token_enabled: false)")
        assert principal.tenant_public_id is not None
        raw = random_token(LINK_TOKEN_PREFIX)
        ttl = self.rt.settings.link_token_ttl_seconds
        now = utcnow()
        LinkTokenRepository(session).add(
            LinkToken(
                token_hash=self._token_hash(raw),
                tenant_id=tenant_id,
                agent_id=agent.id,
                account_hash=self.account_hash(principal.tenant_public_id, account),
                created_at=now,
                expires_at=now + timedelta(seconds=ttl),
            )
        )
        return IssuedLink(raw, ttl, now + timedelta(seconds=ttl))

    # --- the passport user --------------------------------------------------------------------

    def preview_link(self, session: Session, agent_id: str, link_token: str) -> LinkPreview:
        """Check a secure link without using it, and name the organisation it connects to.

        The same refusals as ``connect_with_link``, so a page can say what is wrong before the
        user confirms anything.
        """
        row = self._usable_link(session, agent_id, link_token, utcnow())
        return LinkPreview(organisation_name=self._organisation_name(session, row.tenant_id), agent_id=row.agent_id, expires_at=row.expires_at)

    @staticmethod
    def _organisation_name(session: Session, tenant_id: int) -> str:
        """What a person knows the tenant by: its directory name, else the tenant's own name."""
        directory = OrgConnectionRepository(session).directory_names([tenant_id])
        if tenant_id in directory:
            return directory[tenant_id][1]
        tenant = TenantRepository(session).by_id(tenant_id)
        return tenant.name if tenant else ""

    def connect_with_link(self, session: Session, user: UniversalUser, agent_id: str, link_token: str) -> OrgConnection:
        """Use a secure link: connect the user's passport to the account it was made for.

        Unknown, used or expired → ``LinkExpired`` (410); made for another agent →
        ``LinkForAnotherAgent`` (403, and the link stays usable for its own agent).
        Using a link for an account that is already connected returns that connection.
        """
        now = utcnow()
        row = self._usable_link(session, agent_id, link_token, now)
        if not LinkTokenRepository(session).consume(row.id, now):
            raise LinkExpired("this link was already used or has expired")
        connection = OrgConnectionRepository(session).insert_or_get(
            OrgConnection(
                id=public_id("con_"),
                universal_user_id=user.id,
                tenant_id=row.tenant_id,
                method="secure_link",
                account_hash=row.account_hash,
                created_at=now,
            )
        )
        self.audit.record(
            session,
            action="connection.created",
            actor_type="passport_user",
            actor_id=user.public_id,
            universal_user_id=user.id,
            agent_id=row.agent_id,
            detail={
                "connection_id": connection.id,
                "method": "secure_link",
                "organisation_name": self._organisation_name(session, row.tenant_id),
            },
        )
        return connection

    def connect_verified_account(
        self, session: Session, user: UniversalUser, *, tenant_id: int, account_hash: str, method: str
    ) -> tuple[OrgConnection, bool]:
        """Connect an account whose ownership another way proved (OAuth: the organisation's
        userinfo named it). An existing connection of the same account is refreshed: it is now
        known by ``method``. (connection, created)"""
        now = utcnow()
        repo = OrgConnectionRepository(session)
        candidate = OrgConnection(
            id=public_id("con_"),
            universal_user_id=user.id,
            tenant_id=tenant_id,
            method=method,
            account_hash=account_hash,
            created_at=now,
        )
        connection = repo.insert_or_get(candidate)  # or the one already there
        created = connection is candidate
        connection.method = method
        session.flush()
        self.audit.record(
            session,
            action="connection.created" if created else "connection.refreshed",
            actor_type="passport_user",
            actor_id=user.public_id,
            universal_user_id=user.id,
            detail={
                "connection_id": connection.id,
                "method": method,
                "organisation_name": self._organisation_name(session, tenant_id),
            },
        )
        return connection, created

    def list(self, session: Session, user: UniversalUser) -> list[ConnectionView]:
        repo = OrgConnectionRepository(session)
        rows = repo.for_user(user.id)
        directory = repo.directory_names([tenant.id for _, tenant in rows])
        return [
            ConnectionView(
                id=connection.id,
                organisation_name=directory.get(tenant.id, (None, tenant.name))[1],
                directory_id=directory.get(tenant.id, (None, tenant.name))[0],
                method=connection.method,
                created_at=connection.created_at,
            )
            for connection, tenant in rows
        ]

    def get(self, session: Session, user: UniversalUser, connection_id: str) -> ConnectionView:
        """One of the user's own connections; anyone else's is simply not found."""
        found = next((view for view in self.list(session, user) if view.id == connection_id), None)
        if found is None:
            raise ConnectionNotFound("no such connection")
        return found

    def delete(self, session: Session, user: UniversalUser, connection_id: str) -> ConnectionView:
        """Disconnect. The audit event names the organisation as it was called then, so the
        activity can say which account it was after the connection is gone."""
        repo = OrgConnectionRepository(session)
        connection = repo.of_user(user.id, connection_id) if is_plain_id(connection_id) else None
        if connection is None:
            raise ConnectionNotFound("no such connection")
        view = self.get(session, user, connection_id)
        repo.delete(connection)
        self.audit.record(
            session,
            action="connection.deleted",
            actor_type="passport_user",
            actor_id=user.public_id,
            universal_user_id=user.id,
            detail={
                "connection_id": connection_id,
                "method": view.method,
                "organisation_name": view.organisation_name,
                "directory_id": view.directory_id,
            },
        )
        return view

    def _usable_link(self, session: Session, agent_id: str, link_token: str, now: datetime) -> LinkToken:
        row = (
            LinkTokenRepository(session).by_hash(self._token_hash(link_token))
            if link_token.startswith(LINK_TOKEN_PREFIX)
            else None
        )
        if row is None:
            raise LinkExpired("this link was already used or has expired")
        if row.agent_id != canonical_agent_id(agent_id):
            raise LinkForAnotherAgent("this link was made for another agent")
        if row.used_at is not None or row.expires_at <= now:
            raise LinkExpired("this link was already used or has expired")
        return row

    def _token_hash(self, raw: str) -> str:
        return self.rt.hasher.hash(raw, purpose="link_token")

