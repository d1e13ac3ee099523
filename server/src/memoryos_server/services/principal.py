"""The authenticated caller of a tenant route."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from memoryos_server.errors import PermissionDenied
from memoryos_server.services.permissions import Permission, require

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

    @property
    def is_operator(self) -> bool:
        return self.kind == "user" and self.platform_role == "admin"

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.credential_id}"

    def require(self, permission: Permission) -> int:
        """Check the permission and return the tenant id the caller acts in."""
        if self.tenant_id is None:
            raise PermissionDenied("this account belongs to no organisation")
        require(self.role, permission)
        return self.tenant_id
