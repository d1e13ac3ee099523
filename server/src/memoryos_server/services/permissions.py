"""Who may do what inside a tenant: one table, tested as a matrix."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal, get_args


class Permission(StrEnum):
    MEMORY_READ = "memory.read"  # the caller's own end-user memory routes
    MEMORY_WRITE = "memory.write"
    WORKSPACE_READ = "workspace.read"
    WORKSPACE_WRITE = "workspace.write"
    MEMBERS_READ = "members.read"
    MEMBERS_MANAGE = "members.manage"
    KEYS_MANAGE = "keys.manage"  # API keys and OAuth clients
    AGENTS_MANAGE = "agents.manage"
    CONNECTORS_MANAGE = "connectors.manage"  # link tokens, directory entry
    # Service writers: who may claim what about end-users, with what authority, through which
    # key. Managed by the roles that manage keys and connectors, never by a key itself (a key
    # could otherwise bind a writer to itself or raise its own authority).
    WRITERS_MANAGE = "provenance.manage"
    PROVENANCE_READ = "provenance.read"  # the writers and their source events
    USAGE_READ = "usage.read"
    REVIEWS_READ = "reviews.read"
    REVIEWS_ANSWER = "reviews.answer"
    USERS_READ = "users.read"  # the tenant's end-users: list and get
    USERS_EXPORT = "users.export"
    USERS_DELETE = "users.delete"


Role = Literal["owner", "admin", "developer", "analyst", "member", "viewer"]
MEMBERSHIP_ROLES: tuple[str, ...] = get_args(Role)
# Tenant backends (API keys, OAuth clients) act as this pseudo-role.
SERVICE_ROLE = "service"

P = Permission
_EVERYONE = {P.MEMORY_READ, P.WORKSPACE_READ, P.MEMBERS_READ}
_READERS = _EVERYONE | {P.USAGE_READ, P.REVIEWS_READ, P.USERS_READ}

ROLE_PERMISSIONS: dict[str, frozenset[Permission]] = {
    "owner": frozenset(Permission),
    "admin": frozenset(Permission),
    "developer": frozenset(
        _EVERYONE
        | {
            P.MEMORY_WRITE,
            P.WORKSPACE_WRITE,
            P.KEYS_MANAGE,
            P.AGENTS_MANAGE,
            P.CONNECTORS_MANAGE,
            P.WRITERS_MANAGE,
            P.PROVENANCE_READ,
            P.USAGE_READ,
            P.REVIEWS_READ,
            P.REVIEWS_ANSWER,
            P.USERS_READ,
            P.USERS_EXPORT,
        }
    ),
    # SPEC §4: "analyst reads usage and reviews; member and viewer read only". Reading covers
    # the organisation's own records — the end-user list, usage, the review queue — but not an
    # end-user's memories or their export, nor any write: a key a member's rights bound could
    # otherwise write every end-user's memories. Member and viewer grant the same rights today.
    "analyst": frozenset(_READERS | {P.PROVENANCE_READ}),
    "member": frozenset(_READERS),
    "viewer": frozenset(_READERS),
    SERVICE_ROLE: frozenset(
        {
            P.MEMORY_READ,
            P.MEMORY_WRITE,
            P.WORKSPACE_READ,
            P.AGENTS_MANAGE,
            P.CONNECTORS_MANAGE,
            P.REVIEWS_READ,
            P.REVIEWS_ANSWER,
            P.USERS_READ,
            P.USERS_EXPORT,
            P.USERS_DELETE,
            P.PROVENANCE_READ,
        }
    ),
}


def allowed(role: str, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())
