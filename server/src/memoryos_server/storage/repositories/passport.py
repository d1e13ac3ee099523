"""Memory Passport rows: universal users, sessions, one-time codes, grants, UUIs, links, connections.

Every lookup that a passport user or an agent triggers is filtered by that caller here, so a
service cannot forget the owner check.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from memoryos_server.storage.models import (
    ConsentCode,
    DirectoryEntry,
    GlobalAgent,
    Grant,
    LinkToken,
    OAuthState,
    OrgConnection,
    OtpChallenge,
    PairwiseIdentity,
    PassportSession,
    Tenant,
    UniversalMemory,
    UniversalUser,
)
from memoryos_server.storage.repositories.base import Repository
from memoryos_server.storage.repositories.mcp import McpTokenRepository


class UniversalUserRepository(Repository):
    def by_id(self, user_id: int) -> UniversalUser | None:
        return self.session.get(UniversalUser, user_id)

    def by_email(self, email: str) -> UniversalUser | None:
        return self.one_or_none(select(UniversalUser).where(UniversalUser.email == email))

    def insert_if_absent(self, user: UniversalUser) -> tuple[UniversalUser, bool]:
        """Insert unless the email exists; two first sign-ins racing make one row. (row, created)."""
        existing = self.by_email(user.email)
        if existing is not None:
            return existing, False
        try:
            with self.session.begin_nested():
                self.session.add(user)
            return user, True
        except IntegrityError:
            winner = self.by_email(user.email)
            if winner is None:
                raise
            return winner, False


class PassportSessionRepository(Repository):
    def by_hash(self, session_hash: str) -> PassportSession | None:
        return self.one_or_none(select(PassportSession).where(PassportSession.session_hash == session_hash))

    def live_for_user(self, user_id: int, now: datetime) -> Sequence[PassportSession]:
        """The user's sessions that still sign in (not ended, not expired), newest first."""
        return self.all(
            select(PassportSession)
            .where(
                PassportSession.universal_user_id == user_id,
                PassportSession.revoked_at.is_(None),
                PassportSession.expires_at > now,
            )
            .order_by(PassportSession.created_at.desc(), PassportSession.id.desc())
        )

    def live_of_user(self, user_id: int, public_id: str, now: datetime) -> PassportSession | None:
        return self.one_or_none(
            select(PassportSession).where(
                PassportSession.universal_user_id == user_id,
                PassportSession.public_id == public_id,
                PassportSession.revoked_at.is_(None),
                PassportSession.expires_at > now,
            )
        )

    def touch(self, session_id: int, now: datetime, *, not_since: datetime) -> None:
        """Note that a session was used, unless that was already noted after ``not_since``."""
        self.session.execute(
            update(PassportSession)
            .where(
                PassportSession.id == session_id,
                (PassportSession.last_used_at.is_(None)) | (PassportSession.last_used_at <= not_since),
            )
            .values(last_used_at=now)
        )


class OtpChallengeRepository(Repository):
    def peek(self, email_hash: str) -> OtpChallenge | None:
        """The challenge row as it is, for reading (no lock)."""
        return self.one_or_none(select(OtpChallenge).where(OtpChallenge.email_hash == email_hash))

    def for_update(self, email_hash: str) -> OtpChallenge | None:
        """The challenge row, locked on PostgreSQL so concurrent guesses count one by one.

        SQLite needs no row lock: a write transaction there holds the database lock already.
        """
        return self.one_or_none(select(OtpChallenge).where(OtpChallenge.email_hash == email_hash).with_for_update())

    def get_or_create(self, email_hash: str, now: datetime) -> OtpChallenge:
        existing = self.for_update(email_hash)
        if existing is not None:
            return existing
        row = OtpChallenge(email_hash=email_hash, failed_attempts=0, updated_at=now)
        try:
            with self.session.begin_nested():
                self.session.add(row)
            return row
        except IntegrityError:
            winner = self.for_update(email_hash)
            if winner is None:
                raise
            return winner


class GrantRepository(Repository):
    def for_user(self, user_id: int) -> Sequence[tuple[Grant, GlobalAgent]]:
        rows = self.session.execute(
            select(Grant, GlobalAgent)
            .join(GlobalAgent, GlobalAgent.id == Grant.agent_id)
            .where(Grant.universal_user_id == user_id, GlobalAgent.deleted_at.is_(None))
            .order_by(Grant.created_at, Grant.id)
        ).all()
        return [(grant, agent) for grant, agent in rows]

    def of_user(self, user_id: int, grant_id: str) -> Grant | None:
        return self.one_or_none(select(Grant).where(Grant.id == grant_id, Grant.universal_user_id == user_id))

    def for_pair(self, user_id: int, agent_id: str, *, hold: bool = False) -> Grant | None:
        """``hold``: keep the row from changing until this transaction ends (a shared lock on
        PostgreSQL; SQLite's writers take turns anyway)."""
        statement = select(Grant).where(Grant.universal_user_id == user_id, Grant.agent_id == agent_id)
        return self.one_or_none(statement.with_for_update(read=True) if hold else statement)

    def insert_or_get(self, grant: Grant) -> tuple[Grant, bool]:
        """Insert the pair's grant, or return the row a concurrent request inserted first."""
        try:
            with self.session.begin_nested():
                self.session.add(grant)
            return grant, True
        except IntegrityError:
            winner = self.for_pair(grant.universal_user_id, grant.agent_id)
            if winner is None:
                raise
            return winner, False

    def active_categories(self, agent_ids: Sequence[str], now: datetime) -> list[tuple[str, list[str]]]:
        """(agent, categories) of every grant of these agents in force now: counts, never who."""
        if not agent_ids:
            return []
        rows = self.session.execute(
            select(Grant.agent_id, Grant.categories).where(
                Grant.agent_id.in_(list(agent_ids)),
                Grant.status == "active",
                or_(Grant.expires_at.is_(None), Grant.expires_at > now),
            )
        ).all()
        return [(agent_id, list(categories or [])) for agent_id, categories in rows]

    def revoke_all_for_agent(self, agent_id: str, now: datetime) -> list[int]:
        """Revoke every active grant of an agent; return the users whose grant ended."""
        users = list(
            self.session.execute(
                select(Grant.universal_user_id).where(Grant.agent_id == agent_id, Grant.status == "active")
            ).scalars()
        )
        self.session.execute(
            update(Grant)
            .where(Grant.agent_id == agent_id, Grant.status == "active")
            .values(status="revoked", revoked_at=now, updated_at=now)
        )
        return users


class PairwiseIdentityRepository(Repository):
    def by_token_hash(self, token_hash: str) -> PairwiseIdentity | None:
        return self.one_or_none(select(PairwiseIdentity).where(PairwiseIdentity.token_hash == token_hash))

    def ensure(self, identity: PairwiseIdentity) -> PairwiseIdentity:
        existing = self.one_or_none(
            select(PairwiseIdentity).where(
                PairwiseIdentity.universal_user_id == identity.universal_user_id,
                PairwiseIdentity.agent_id == identity.agent_id,
            )
        )
        if existing is not None:
            return existing
        try:
            with self.session.begin_nested():
                self.session.add(identity)
            return identity
        except IntegrityError:
            winner = self.by_token_hash(identity.token_hash)
            if winner is None:
                raise
            return winner

    def delete_for_agent(self, agent_id: str) -> None:
        self.session.execute(delete(PairwiseIdentity).where(PairwiseIdentity.agent_id == agent_id))


class ConsentCodeRepository(Repository):
    def by_hash(self, code_hash: str) -> ConsentCode | None:
        return self.one_or_none(select(ConsentCode).where(ConsentCode.code_hash == code_hash))

    def consume(self, code_id: int, now: datetime) -> bool:
        """Mark the code used; False when another request used it first (single use under races)."""
        result = self.session.execute(
            update(ConsentCode).where(ConsentCode.id == code_id, ConsentCode.used_at.is_(None)).values(used_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    def retire_pair(self, user_id: int, agent_id: str, now: datetime) -> None:
        """A fresh code replaces any unused one for the same (user, agent)."""
        self.session.execute(
            update(ConsentCode)
            .where(
                ConsentCode.universal_user_id == user_id,
                ConsentCode.agent_id == agent_id,
                ConsentCode.used_at.is_(None),
            )
            .values(used_at=now)
        )

    def delete_for_agent(self, agent_id: str) -> None:
        self.session.execute(delete(ConsentCode).where(ConsentCode.agent_id == agent_id))


class LinkTokenRepository(Repository):
    def by_hash(self, token_hash: str) -> LinkToken | None:
        return self.one_or_none(select(LinkToken).where(LinkToken.token_hash == token_hash))

    def consume(self, token_id: int, now: datetime) -> bool:
        result = self.session.execute(
            update(LinkToken).where(LinkToken.id == token_id, LinkToken.used_at.is_(None)).values(used_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    def delete_for_agent(self, agent_id: str) -> None:
        self.session.execute(delete(LinkToken).where(LinkToken.agent_id == agent_id))


class OrgConnectionRepository(Repository):
    def for_user(self, user_id: int) -> Sequence[tuple[OrgConnection, Tenant]]:
        rows = self.session.execute(
            select(OrgConnection, Tenant)
            .join(Tenant, Tenant.id == OrgConnection.tenant_id)
            .where(OrgConnection.universal_user_id == user_id)
            .order_by(OrgConnection.created_at, OrgConnection.id)
        ).all()
        return [(connection, tenant) for connection, tenant in rows]

    def of_user(self, user_id: int, connection_id: str) -> OrgConnection | None:
        return self.one_or_none(
            select(OrgConnection).where(OrgConnection.id == connection_id, OrgConnection.universal_user_id == user_id)
        )

    def find(self, user_id: int, tenant_id: int, account_hash: str) -> OrgConnection | None:
        return self.one_or_none(
            select(OrgConnection).where(
                OrgConnection.universal_user_id == user_id,
                OrgConnection.tenant_id == tenant_id,
                OrgConnection.account_hash == account_hash,
            )
        )

    def insert_or_get(self, connection: OrgConnection) -> OrgConnection:
        existing = self.find(connection.universal_user_id, connection.tenant_id, connection.account_hash)
        if existing is not None:
            return existing
        try:
            with self.session.begin_nested():
                self.session.add(connection)
            return connection
        except IntegrityError:
            winner = self.find(connection.universal_user_id, connection.tenant_id, connection.account_hash)
            if winner is None:
                raise
            return winner

    def directory_names(self, tenant_ids: Sequence[int]) -> dict[int, tuple[str | None, str]]:
        """(directory id, public name) of each of these tenants that registered a directory entry."""
        if not tenant_ids:
            return {}
        rows = self.session.execute(
            select(DirectoryEntry.tenant_id, DirectoryEntry.id, DirectoryEntry.display_name).where(
                DirectoryEntry.tenant_id.in_(list(tenant_ids))
            )
        ).all()
        return {tenant_id: (entry_id, name) for tenant_id, entry_id, name in rows}

    def users_for_account(self, tenant_id: int, account_hash: str) -> list[int]:
        """Passport users who connected one tenant account, the most recent connection first."""
        return list(
            self.session.execute(
                select(OrgConnection.universal_user_id)
                .where(OrgConnection.tenant_id == tenant_id, OrgConnection.account_hash == account_hash)
                .order_by(OrgConnection.created_at.desc(), OrgConnection.id.desc())
            ).scalars()
        )


class DirectoryRepository(Repository):
    """Directory entries: a tenant's own (one per tenant), and the public listing."""

    def of_tenant(self, tenant_id: int) -> DirectoryEntry | None:
        return self.one_or_none(select(DirectoryEntry).where(DirectoryEntry.tenant_id == tenant_id))

    def active(self, directory_id: str) -> DirectoryEntry | None:
        return self.one_or_none(
            select(DirectoryEntry).where(DirectoryEntry.id == directory_id, DirectoryEntry.status == "active")
        )

    def insert_for_tenant(self, entry: DirectoryEntry) -> DirectoryEntry | None:
        """Insert the tenant's entry; None when a concurrent registration inserted it first."""
        try:
            with self.session.begin_nested():
                self.session.add(entry)
            return entry
        except IntegrityError:
            return None

    def listed(self, search: str | None = None, *, limit: int = 200) -> Sequence[DirectoryEntry]:
        """Active public entries by name; ``search`` matches name or category, any case."""
        statement = select(DirectoryEntry).where(DirectoryEntry.status == "active", DirectoryEntry.is_public.is_(True))
        if search:
            pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            statement = statement.where(
                or_(
                    func.lower(DirectoryEntry.display_name).like(pattern, escape="\\"),
                    func.lower(DirectoryEntry.category).like(pattern, escape="\\"),
                )
            )
        return self.all(statement.order_by(func.lower(DirectoryEntry.display_name), DirectoryEntry.id).limit(limit))

    def logo(self, directory_id: str) -> tuple[bytes, str] | None:
        row = self.session.execute(
            select(DirectoryEntry.logo_image, DirectoryEntry.logo_content_type).where(
                DirectoryEntry.id == directory_id, DirectoryEntry.status == "active"
            )
        ).first()
        if row is None or row[0] is None or row[1] is None:
            return None
        return bytes(row[0]), str(row[1])


class OAuthStateRepository(Repository):
    def by_hash(self, state_hash: str) -> OAuthState | None:
        return self.one_or_none(select(OAuthState).where(OAuthState.state_hash == state_hash))

    def consume(self, state_id: int, now: datetime) -> bool:
        """Mark the state used; False when another request used it first (single use under races)."""
        result = self.session.execute(
            update(OAuthState).where(OAuthState.id == state_id, OAuthState.used_at.is_(None)).values(used_at=now)
        )
        return bool(getattr(result, "rowcount", 0))

    def delete_expired(self, before: datetime) -> None:
        self.session.execute(delete(OAuthState).where(OAuthState.expires_at < before))


class PassportPurgeRepository(Repository):
    """Deletes a passport user's Memory Passport rows (memories are purged by their own repository)."""

    def purge(self, user_id: int) -> None:
        McpTokenRepository(self.session).purge_user(user_id)
        session_hashes = select(PassportSession.session_hash).where(PassportSession.universal_user_id == user_id)
        self.session.execute(delete(OAuthState).where(OAuthState.session_hash.in_(session_hashes)))
        tables: tuple[Any, ...] = (ConsentCode, PairwiseIdentity, Grant, OrgConnection, PassportSession)
        for model in tables:
            self.session.execute(delete(model).where(model.universal_user_id == user_id))
