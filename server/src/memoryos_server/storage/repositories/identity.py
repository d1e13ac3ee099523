"""Tenants, users, memberships, invitations, API keys and OAuth clients."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import bindparam, case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from memoryos_server.storage.models import ApiKey, Invitation, Membership, OAuthClient, RevokedToken, Tenant, TenantMemory, User
from memoryos_server.storage.repositories.base import Repository


class TenantRepository(Repository):
    def by_id(self, tenant_id: int) -> Tenant | None:
        return self.session.get(Tenant, tenant_id)

    def by_public_id(self, public_id: str) -> Tenant | None:
        return self.one_or_none(select(Tenant).where(Tenant.public_id == public_id))


class UserRepository(Repository):
    def by_id(self, user_id: int) -> User | None:
        return self.session.get(User, user_id)

    def by_public_id(self, public_id: str) -> User | None:
        return self.one_or_none(select(User).where(User.public_id == public_id))

    def by_login_email(self, email: str) -> User | None:
        return self.one_or_none(select(User).where(User.login_email == email))

    def by_external_id_hash(self, external_id_hash: str) -> User | None:
        return self.one_or_none(select(User).where(User.external_id_hash == external_id_hash))

    def insert_if_absent(self, user: User) -> User:
        """Insert ``user`` unless a row with its ``external_id_hash`` exists; return the row that won.

        Two first requests for one end-user may race: the loser's insert fails on the unique
        ``external_id_hash`` inside a savepoint and it reads the winner's row instead.
        """
        assert user.external_id_hash is not None
        existing = self.by_external_id_hash(user.external_id_hash)
        if existing is not None:
            return existing
        try:
            with self.session.begin_nested():
                self.session.add(user)
            return user
        except IntegrityError:
            winner = self.by_external_id_hash(user.external_id_hash)
            if winner is None:  # not a uniqueness race: a real error
                raise
            return winner

    def end_users(self, tenant_id: int, *, after_id: int | None, limit: int) -> Sequence[User]:
        statement = (
            select(User).where(User.tenant_id == tenant_id, User.kind == "end_user").order_by(User.id).limit(limit)
        )
        if after_id is not None:
            statement = statement.where(User.id > after_id)
        return self.all(statement)

    def count_end_users(self, tenant_id: int) -> int:
        return self.count(select(User.id).where(User.tenant_id == tenant_id, User.kind == "end_user"))

    def memory_counts(self, user_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """(active, total) memory counts per user."""
        if not user_ids:
            return {}
        rows = self.session.execute(
            select(
                TenantMemory.owner_id,
                func.sum(case((TenantMemory.status == "active", 1), else_=0)),
                func.count(),
            )
            .where(TenantMemory.owner_id.in_(user_ids), TenantMemory.status != "deleted")
            .group_by(TenantMemory.owner_id)
        ).all()
        return {owner: (int(active or 0), int(total)) for owner, active, total in rows}

    def touch(self, user: User, when: datetime) -> None:
        user.last_seen_at = when

    def record_seen(self, seen: Mapping[int, datetime]) -> int:
        """Set ``last_seen_at`` of these users where it is older, without touching ``updated_at``.

        Rows another transaction holds are skipped, not waited for (PostgreSQL; SQLite has one
        writer): noting a visit must never block or deadlock a request. Returns how many rows it
        could take (a newer stored time is kept).
        """
        free = list(
            self.session.execute(
                select(User.id).where(User.id.in_(list(seen))).order_by(User.id).with_for_update(skip_locked=True)
            ).scalars()
        )
        if not free:
            return 0
        statement = (
            update(User)
            .where(User.id == bindparam("user_id"), or_(User.last_seen_at.is_(None), User.last_seen_at < bindparam("when")))
            .values(last_seen_at=bindparam("when"), updated_at=User.updated_at)
            .execution_options(synchronize_session=False)
        )
        self.session.connection().execute(statement, [{"user_id": user_id, "when": seen[user_id]} for user_id in free])
        return len(free)


class MembershipRepository(Repository):
    def get(self, tenant_id: int, user_id: int) -> Membership | None:
        return self.one_or_none(
            select(Membership).where(Membership.tenant_id == tenant_id, Membership.user_id == user_id)
        )

    def first_for_user(self, user_id: int) -> Membership | None:
        return self.one_or_none(select(Membership).where(Membership.user_id == user_id).order_by(Membership.id))

    def organisations_of(self, user_id: int) -> Sequence[tuple[Membership, Tenant]]:
        """Every organisation a person belongs to, in the order they joined."""
        rows = self.session.execute(
            select(Membership, Tenant)
            .join(Tenant, Tenant.id == Membership.tenant_id)
            .where(Membership.user_id == user_id)
            .order_by(Membership.id)
        ).all()
        return [(membership, tenant) for membership, tenant in rows]

    def for_tenant(self, tenant_id: int) -> Sequence[tuple[Membership, User]]:
        rows = self.session.execute(
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.tenant_id == tenant_id)
            .order_by(Membership.id)
        ).all()
        return [(membership, user) for membership, user in rows]

    def insert_if_absent(self, membership: Membership) -> Membership | None:
        """Insert, or None when the person is already a member (an earlier or concurrent join)."""
        try:
            with self.session.begin_nested():
                self.session.add(membership)
            return membership
        except IntegrityError:
            return None

    def count_role(self, tenant_id: int, role: str) -> int:
        return self.count(select(Membership.id).where(Membership.tenant_id == tenant_id, Membership.role == role))


class InvitationRepository(Repository):
    def by_public_id(self, public_id: str, *, for_update: bool = False) -> Invitation | None:
        statement = select(Invitation).where(Invitation.public_id == public_id)
        if for_update:
            statement = statement.with_for_update()
        return self.one_or_none(statement)

    def in_tenant(self, tenant_id: int, public_id: str) -> Invitation | None:
        return self.one_or_none(
            select(Invitation).where(Invitation.tenant_id == tenant_id, Invitation.public_id == public_id)
        )

    def for_address(self, tenant_id: int, login_email: str) -> Invitation | None:
        return self.one_or_none(
            select(Invitation).where(Invitation.tenant_id == tenant_id, Invitation.login_email == login_email)
        )

    def pending_in_tenant(self, tenant_id: int, *, now: datetime) -> Sequence[Invitation]:
        return self.all(
            select(Invitation)
            .where(Invitation.tenant_id == tenant_id, Invitation.status == "pending", Invitation.expires_at > now)
            .order_by(Invitation.id)
        )

    def pending_for_address(self, login_email: str, *, now: datetime) -> Sequence[tuple[Invitation, Tenant]]:
        rows = self.session.execute(
            select(Invitation, Tenant)
            .join(Tenant, Tenant.id == Invitation.tenant_id)
            .where(Invitation.login_email == login_email, Invitation.status == "pending", Invitation.expires_at > now)
            .order_by(Invitation.id)
        ).all()
        return [(invitation, tenant) for invitation, tenant in rows]

    def insert_if_absent(self, invitation: Invitation) -> Invitation | None:
        """Insert, or None when a row for the same (tenant, address) won a race."""
        try:
            with self.session.begin_nested():
                self.session.add(invitation)
            return invitation
        except IntegrityError:
            return None


class ApiKeyRepository(Repository):
    def by_hash(self, key_hash: str) -> ApiKey | None:
        return self.one_or_none(select(ApiKey).where(ApiKey.key_hash == key_hash))

    def credential(self, key_hash: str) -> tuple[ApiKey, str, str | None] | None:
        """What a request authenticated by key needs, in one statement (every API call pays
        it): the key, its tenant's public id, and its creator's current role in that tenant
        (None when the creator is no longer a member, or the key has no creator)."""
        row = self.session.execute(
            select(ApiKey, Tenant.public_id, Membership.role)
            .join(Tenant, Tenant.id == ApiKey.tenant_id)
            .outerjoin(
                Membership,
                (Membership.tenant_id == ApiKey.tenant_id) & (Membership.user_id == ApiKey.created_by_user_id),
            )
            .where(ApiKey.key_hash == key_hash)
            .limit(1)
        ).first()
        return None if row is None else (row[0], row[1], row[2])

    def for_tenant(self, tenant_id: int) -> Sequence[ApiKey]:
        return self.all(select(ApiKey).where(ApiKey.tenant_id == tenant_id).order_by(ApiKey.id))

    def by_public_id(self, tenant_id: int, public_id: str) -> ApiKey | None:
        return self.one_or_none(select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.public_id == public_id))

    def touch(self, public_id: str, when: datetime) -> None:
        self.session.execute(update(ApiKey).where(ApiKey.public_id == public_id).values(last_used_at=when))


class OAuthClientRepository(Repository):
    def by_public_id(self, public_id: str) -> OAuthClient | None:
        return self.one_or_none(select(OAuthClient).where(OAuthClient.public_id == public_id))

    def for_tenant(self, tenant_id: int) -> Sequence[OAuthClient]:
        return self.all(select(OAuthClient).where(OAuthClient.tenant_id == tenant_id).order_by(OAuthClient.id))

    def in_tenant(self, tenant_id: int, public_id: str) -> OAuthClient | None:
        return self.one_or_none(
            select(OAuthClient).where(OAuthClient.tenant_id == tenant_id, OAuthClient.public_id == public_id)
        )


class RevokedTokenRepository(Repository):
    def revoke(self, jti: str, expires_at: datetime, now: datetime) -> None:
        """Remember ``jti`` until ``expires_at``; forget tokens that have expired since."""
        self.session.execute(delete(RevokedToken).where(RevokedToken.expires_at <= now))
        if self.session.get(RevokedToken, jti) is None:
            self.session.add(RevokedToken(jti=jti, expires_at=expires_at))
            self.session.flush()

    def is_revoked(self, jti: str) -> bool:
        return self.session.scalar(select(RevokedToken.jti).where(RevokedToken.jti == jti)) is not None
