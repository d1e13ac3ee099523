"""The authenticated caller of a tenant route."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from memoryos_server.errors import PermissionDenied
from memoryos_server.services.permissions import Permission, allowed

PrincipalKind = Literal["user", "api_key", "oauth_client"]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    tenant_id: int | None  # None only for an operator without a tenant
    tenant_public_id: str | None
    role: str  # membership role, or "service" for API keys and OAuth clients
    credential_id: str  # usr_… / key_… / cli_…
    user_id: int | None = None  # the dashboard human, for JWT callers
    platform_role: str = "user"  # users.role: user | admin | developer
    # A key or OAuth client acts with no more rights than the member who created it: that
    # member's current role, read at each request (None for credentials made before creators
    # were recorded, which keep the service role alone).
    creator_role: str | None = None

    @property
    def is_operator(self) -> bool:
        return self.kind == "user" and self.platform_role == "admin"

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.credential_id}"

    def may(self, permission: Permission) -> bool:
        """Whether the caller may do ``permission`` in its organisation."""
        return self._refusal(permission) is None

    def require(self, permission: Permission) -> int:
        """Check the permission and return the tenant id the caller acts in."""
        refusal = self._refusal(permission)
        if refusal is not None:
            raise PermissionDenied(refusal)
        assert self.tenant_id is not None  # no refusal: the caller has an organisation
        return self.tenant_id

    def _refusal(self, permission: Permission) -> str | None:
        """Why the caller may not do ``permission`` (None: it may). It needs an organisation, a
        role that allows it, and, for a key or OAuth client, a creator whose role still does."""
        if self.tenant_id is None:
            return "this account belongs to no organisation"
        if not allowed(self.role, permission):
            return f"the {self.role} role may not {permission.value}"
        if self.creator_role is not None and not allowed(self.creator_role, permission):
            return f"this credential acts for a {self.creator_role}, who may not {permission.value}"
        return None
