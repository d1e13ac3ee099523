"""Members of an organisation and their roles."""

from __future__ import annotations

from sqlalchemy.orm import Session

from memoryos_server.errors import AlreadyExists, BadRequest, LastOwner, MemberNotFound, PermissionDenied
from memoryos_server.services.identity import IdentityService, normalise_email
from memoryos_server.services.permissions import MEMBERSHIP_ROLES, Permission
from memoryos_server.services.principal import Principal
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.models import Membership, User
from memoryos_server.storage.repositories.identity import MembershipRepository, TenantRepository, UserRepository


class MemberService:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.identity = IdentityService(runtime)

    def list(self, session: Session, principal: Principal) -> list[tuple[Membership, User]]:
        return list(MembershipRepository(session).for_tenant(principal.require(Permission.MEMBERS_READ)))

    def add(
        self, session: Session, principal: Principal, *, email: str, role: str, password: str | None
    ) -> tuple[Membership, User]:
        tenant_id = principal.require(Permission.MEMBERS_MANAGE)
        self._check_role_change(principal, role)
        users = UserRepository(session)
        user = users.by_login_email(normalise_email(email))
        if user is None:
            if not password:
                raise BadRequest("password_required", "a new account needs an initial password")
            tenant = TenantRepository(session).by_id(tenant_id)
            user = self.identity.create_dashboard_user(session, email=email, password=password, tenant=tenant)
        memberships = MembershipRepository(session)
        if memberships.get(tenant_id, user.id) is not None:
            raise AlreadyExists("this account is already a member")
        membership = memberships.add(Membership(tenant_id=tenant_id, user_id=user.id, role=role))
        return membership, user

    def update(self, session: Session, principal: Principal, user_public_id: str, *, role: str) -> tuple[Membership, User]:
        tenant_id = principal.require(Permission.MEMBERS_MANAGE)
        membership, user = self._find(session, tenant_id, user_public_id)
        self._check_role_change(principal, role, current=membership.role)
        if membership.role == "owner" and role != "owner":
            self._keep_an_owner(session, tenant_id)
        membership.role = role
        return membership, user

    def remove(self, session: Session, principal: Principal, user_public_id: str) -> None:
        tenant_id = principal.require(Permission.MEMBERS_MANAGE)
        membership, _user = self._find(session, tenant_id, user_public_id)
        self._check_role_change(principal, membership.role)
        if membership.role == "owner":
            self._keep_an_owner(session, tenant_id)
        MembershipRepository(session).delete(membership)

    @staticmethod
    def _check_role_change(principal: Principal, role: str, *, current: str | None = None) -> None:
        if role not in MEMBERSHIP_ROLES:
            raise BadRequest("invalid_role", f"role must be one of {', '.join(MEMBERSHIP_ROLES)}")
        # Only owners hand out, change or take away ownership.
        if "owner" in (role, current) and principal.role != "owner":
            raise PermissionDenied("only an owner can change ownership")

    @staticmethod
    def _find(session: Session, tenant_id: int, user_public_id: str) -> tuple[Membership, User]:
        user = UserRepository(session).by_public_id(user_public_id)
        membership = MembershipRepository(session).get(tenant_id, user.id) if user else None
        if user is None or membership is None:
            raise MemberNotFound("no such member")
        return membership, user

    @staticmethod
    def _keep_an_owner(session: Session, tenant_id: int) -> None:
        if MembershipRepository(session).count_role(tenant_id, "owner") <= 1:
            raise LastOwner("an organisation keeps at least one owner")
