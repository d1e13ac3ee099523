"""OAuth scopes of the Passport over MCP: which categories, read or also write.

The grammar (docs/mcp.md)::

    scope     = item *( " " item )
    item      = "memory:" category ":" access
    category  = "preference" / "fact" / "goal" / "procedure" / "relationship" / "expertise" / "*"
    access    = "read" / "write"          ; write includes read

``*`` names every category. ``offline_access`` is accepted and means nothing more: every
authorization gets a refresh token. Anything else is ``invalid_scope``.

A grant has one mode for all its categories, as an agent's does: asking to write any category
asks for read-and-write access, and what a token may do is said back for every granted category
(``memory:goal:write memory:preference:write``), in the categories' own order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from memoryos_server.engine.types import CATEGORIES
from memoryos_server.errors import OAuthError

PREFIX = "memory"
ANY_CATEGORY = "*"
IGNORED = frozenset({"offline_access"})
MAX_SCOPE_LENGTH = 2000


@dataclass(frozen=True)
class ScopeRequest:
    """What a scope string asks for: categories (in the categories' order) and whether to write."""

    categories: tuple[str, ...]
    write: bool

    @property
    def access_type(self) -> str:
        return "read_write" if self.write else "read_only"

    def allows(self, other: ScopeRequest) -> bool:
        """Whether ``other`` asks for nothing beyond this."""
        return set(other.categories) <= set(self.categories) and (self.write or not other.write)


def parse_scope(text: str | None) -> ScopeRequest:
    """The categories and mode a scope string asks for; ``invalid_scope`` for anything outside
    the grammar. None or "" asks for nothing in particular."""
    if text is not None and len(text) > MAX_SCOPE_LENGTH:
        raise OAuthError("invalid_scope", "the scope is too long")
    wanted: set[str] = set()
    write = False
    for item in (text or "").split():
        if item in IGNORED:
            continue
        prefix, _, rest = item.partition(":")
        category, _, access = rest.partition(":")
        if prefix != PREFIX or access not in ("read", "write") or (category not in CATEGORIES and category != ANY_CATEGORY):
            raise OAuthError(
                "invalid_scope",
                f"unknown scope {item[:80]!r}: use memory:<category>:read or memory:<category>:write, "
                f"with a category among {', '.join(CATEGORIES)} or *",
            )
        wanted.update(CATEGORIES if category == ANY_CATEGORY else (category,))
        write = write or access == "write"
    return ScopeRequest(tuple(c for c in CATEGORIES if c in wanted), write)


def scope_string(categories: Iterable[str], access_type: str) -> str:
    """What a grant allows, as scopes: every granted category, with the grant's one mode."""
    access = "write" if access_type == "read_write" else "read"
    granted = set(categories)
    return " ".join(f"{PREFIX}:{c}:{access}" for c in CATEGORIES if c in granted)


def supported_scopes() -> list[str]:
    """Every scope a client may ask for (the discovery documents list them)."""
    return [f"{PREFIX}:{ANY_CATEGORY}:read", f"{PREFIX}:{ANY_CATEGORY}:write"] + [
        f"{PREFIX}:{category}:{access}" for category in CATEGORIES for access in ("read", "write")
    ]


# What a client that names nothing is asked for by the resource's challenge: reading, every
# category; the person unticks what they do not want to share.
DEFAULT_CHALLENGE_SCOPE = f"{PREFIX}:{ANY_CATEGORY}:read"
