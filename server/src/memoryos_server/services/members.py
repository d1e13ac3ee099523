"""Members of an organisation, their roles, and invitations to join.

Adding someone is an invitation: the answer is the same whether or not the address has an
account (no admin learns which addresses exist on the server), nothing is granted until the
person accepts, and accepting needs the one-time code mailed to that address, so only whoever
reads that mailbox can take the seat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.orm import Session

from memoryos_server.crypto import public_id, random_token
from memoryos_server.errors import (
    AlreadyExists,
    AuthenticationFailed,
    BadRequest,
    InvitationCodeInvalid,
    InvitationNotFound,
    LastOwner,
    MemberNotFound,
    PermissionDenied,
)
from memoryos_server.services.email import EmailDeliveryFailed, EmailService
from memoryos_server.services.identity import IdentityService, IssuedToken, normalise_email
from memoryos_server.services.permissions import MEMBERSHIP_ROLES, Permission
from memoryos_server.services.principal import Principal
from memoryos_server.services.runtime import Runtime
from memoryos_server.storage.db import after_commit
from memoryos_server.storage.models import Invitation, Membership, Tenant, User
from memoryos_server.storage.repositories.identity import (
    InvitationRepository,
    MembershipRepository,
    TenantRepository,
    UserRepository,
)
from memoryos_server.storage.types import utcnow

INVITATION_TTL = timedelta(days=7)
_CODE_PURPOSE = "invitation"


@dataclass(frozen=True)
class IssuedInvitation:
    """A new or renewed invitation, and what its email needs: the code exists only here."""

    invitation: Invitation
    organisation: str
    code: str = field(repr=False)


@dataclass(frozen=True)
class Joined:
    """A new membership, with a JWT for that organisation (the person is signed in to it)."""

    membership: Membership
    tenant: Tenant
    user: User
    token: IssuedToken = field(repr=False)


class MemberService:
    def __init__(self, runtime: Runtime, *, identity: IdentityService, email: EmailService) -> None:
        self.rt = runtime
        self.identity = identity
        self.email = email

    # --- the organisation's side -----------------------------------------------------------------

    def list(self, session: Session, principal: Principal) -> tuple[list[tuple[Membership, User]], list[Invitation]]:
        """Members, and the invitations still waiting for an answer."""
        tenant_id = principal.require(Permission.MEMBERS_READ)
        members = list(MembershipRepository(session).for_tenant(tenant_id))
        return members, list(InvitationRepository(session).pending_in_tenant(tenant_id, now=utcnow()))

    def invite(self, session: Session, principal: Principal, *, email: str, role: str) -> IssuedInvitation:
        """Invite an address (again: a new code and expiry). The code is mailed (``notify``)
        once the transaction has committed."""
        tenant_id = principal.require(Permission.MEMBERS_MANAGE)
        self._check_role_change(principal, role)
        login_email = normalise_email(email)
        account = UserRepository(session).by_login_email(login_email)
        # Only an existing member of this very organisation is told apart: the admin sees them listed.
        if account is not None and MembershipRepository(session).get(tenant_id, account.id) is not None:
            raise AlreadyExists("this address is already a member")
        code = random_token("invc_")
        invitations = InvitationRepository(session)
        invitation = invitations.for_address(tenant_id, login_email)
        if invitation is None:
            fresh = Invitation(public_id=public_id("inv_"), tenant_id=tenant_id, login_email=login_email)
            invitation = invitations.insert_if_absent(self._renew(fresh, principal, email, role, code))
            if invitation is None:  # a concurrent invitation of the same address won: renew that one
                invitation = invitations.for_address(tenant_id, login_email)
                assert invitation is not None
                self._renew_existing(invitation, principal, email, role, code)
        else:
            self._renew_existing(invitation, principal, email, role, code)
        session.flush()
        tenant = TenantRepository(session).by_id(tenant_id)
        assert tenant is not None
        issued = IssuedInvitation(invitation, organisation=tenant.name, code=code)
        after_commit(session, lambda: self.notify(issued))
        return issued

    def notify(self, issued: IssuedInvitation) -> None:
        """Mail the code to the invited address. Call after committing: the mail server's round
        trip then holds no database lock, and no code goes out for an invitation that a failed
        commit undid. If the mail fails, the invitation stays pending with a code nobody has;
        inviting the address again sends a new one."""
        invitation = issued.invitation
        try:
            self.email.send_invitation(
                to=invitation.email,
                organisation=issued.organisation,
                role=invitation.role,
                invitation_id=invitation.public_id,
                code=issued.code,
                expires_at=invitation.expires_at,
            )
        except EmailDeliveryFailed as exc:
            raise EmailDeliveryFailed(
                "the invitation is saved but its email could not be sent: invite the address again to send a new code"
            ) from exc

    def _renew_existing(self, invitation: Invitation, principal: Principal, email: str, role: str, code: str) -> None:
        """Renewing rewrites a live invitation and voids its code, which is as much a change of
        it as withdrawing: the same role rule applies (an admin cannot replace an owner's
        ``owner`` invitation)."""
        if invitation.status == "pending" and invitation.expires_at > utcnow():
            self._check_role_change(principal, role, current=invitation.role)
        self._renew(invitation, principal, email, role, code)

    def _renew(self, invitation: Invitation, principal: Principal, email: str, role: str, code: str) -> Invitation:
        invitation.email = email.strip()
        invitation.role = role
        invitation.code_hash = self.rt.hasher.hash(code, purpose=_CODE_PURPOSE)
        invitation.invited_by_user_id = principal.user_id
        invitation.status = "pending"
        invitation.expires_at = utcnow() + INVITATION_TTL
        invitation.responded_at = None
        return invitation

    def update(self, session: Session, principal: Principal, user_public_id: str, *, role: str) -> tuple[Membership, User]:
        tenant_id = principal.require(Permission.MEMBERS_MANAGE)
        membership, user = self._find(session, tenant_id, user_public_id)
        self._check_role_change(principal, role, current=membership.role)
        if membership.role == "owner" and role != "owner":
            self._keep_an_owner(session, tenant_id)
        membership.role = role
        return membership, user

    def remove(self, session: Session, principal: Principal, member_id: str) -> None:
        """Remove a member (``usr_…``) or withdraw a pending invitation (``inv_…``)."""
        tenant_id = principal.require(Permission.MEMBERS_MANAGE)
        if member_id.startswith("inv_"):
            invitation = InvitationRepository(session).in_tenant(tenant_id, member_id)
            if invitation is None or invitation.status != "pending":
                raise InvitationNotFound("no such pending invitation")
            self._check_role_change(principal, invitation.role)
            invitation.status, invitation.responded_at = "revoked", utcnow()
            return
        membership, _user = self._find(session, tenant_id, member_id)
        self._check_role_change(principal, membership.role)
        if membership.role == "owner":
            self._keep_an_owner(session, tenant_id)
        MembershipRepository(session).delete(membership)

    # --- the invited person's side ---------------------------------------------------------------

    def invitations_for(self, session: Session, principal: Principal) -> list[tuple[Invitation, Tenant]]:
        """Pending invitations to the signed-in account's address."""
        user = self._signed_in(session, principal)
        return list(InvitationRepository(session).pending_for_address(user.login_email or "", now=utcnow()))

    def accept(self, session: Session, principal: Principal, invitation_id: str, *, code: str) -> Joined:
        user = self._signed_in(session, principal)
        invitation, tenant = self._usable(session, invitation_id, code, login_email=user.login_email)
        return self._join(session, invitation, tenant, user)

    def decline(self, session: Session, principal: Principal, invitation_id: str, *, code: str) -> None:
        user = self._signed_in(session, principal)
        invitation, _tenant = self._usable(session, invitation_id, code, login_email=user.login_email)
        invitation.status, invitation.responded_at = "declined", utcnow()

    def sign_up(self, session: Session, invitation_id: str, *, code: str, password: str) -> Joined:
        """Create the account of an invited address that has none, and join, in one step.

        Works while open sign-up is disabled: the invitation is the permission. The code
        proves the caller reads the mailbox, so telling them the address has an account
        reveals nothing to anyone else.
        """
        invitation, tenant = self._usable(session, invitation_id, code, login_email=None)
        if UserRepository(session).by_login_email(invitation.login_email) is not None:
            raise AlreadyExists("this address has an account: sign in and accept the invitation")
        user = self.identity.create_dashboard_user(session, email=invitation.email, password=password, tenant=tenant)
        return self._join(session, invitation, tenant, user)

    def _usable(
        self, session: Session, invitation_id: str, code: str, *, login_email: str | None
    ) -> tuple[Invitation, Tenant]:
        invitation = InvitationRepository(session).by_public_id(invitation_id, for_update=True)
        pending = invitation is not None and invitation.status == "pending" and invitation.expires_at > utcnow()
        if invitation is None or not pending or (login_email is not None and invitation.login_email != login_email):
            raise InvitationNotFound("no such pending invitation for this account")
        if not self.rt.hasher.matches(code, invitation.code_hash, purpose=_CODE_PURPOSE):
            raise InvitationCodeInvalid("the code does not match this invitation")
        tenant = TenantRepository(session).by_id(invitation.tenant_id)
        assert tenant is not None
        return invitation, tenant

    def _join(self, session: Session, invitation: Invitation, tenant: Tenant, user: User) -> Joined:
        membership = MembershipRepository(session).insert_if_absent(
            Membership(tenant_id=invitation.tenant_id, user_id=user.id, role=invitation.role)
        )
        if membership is None:
            raise AlreadyExists("this account is already a member")
        invitation.status, invitation.responded_at = "accepted", utcnow()
        return Joined(membership, tenant, user, self.identity.issue_user_token(user, tenant))

    @staticmethod
    def _signed_in(session: Session, principal: Principal) -> User:
        if principal.kind != "user":
            raise AuthenticationFailed("sign in with a password to answer invitations")
        user = UserRepository(session).by_id(principal.user_id or -1)
        if user is None or not user.login_email:
            raise AuthenticationFailed("missing or invalid credentials")
        return user

    # --- rules ---------------------------------------------------------------------------------------

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
