"""The scope grammar of the Passport over MCP (docs/mcp.md#scopes)."""

from __future__ import annotations

import pytest

from memoryos_server.errors import OAuthError
from memoryos_server.services.passport.mcp_auth.scopes import ScopeRequest, parse_scope, scope_string, supported_scopes


def test_categories_and_access() -> None:
    assert parse_scope("memory:goal:write memory:preference:read") == ScopeRequest(("preference", "goal"), True)
    assert parse_scope("memory:*:read") == ScopeRequest(("preference", "fact", "goal", "procedure", "relationship", "expertise"), False)
    assert parse_scope("offline_access memory:fact:read") == ScopeRequest(("fact",), False)
    assert parse_scope(None) == parse_scope("") == ScopeRequest((), False)


@pytest.mark.parametrize("text", ["memory:diary:read", "memory:goal:delete", "goal:read", "memory:goal", "openid", "x" * 2001])
def test_anything_else_is_invalid_scope(text: str) -> None:
    with pytest.raises(OAuthError) as raised:
        parse_scope(text)
    assert raised.value.error == "invalid_scope"


def test_what_a_grant_allows_said_back_in_the_categories_order() -> None:
    assert scope_string(["goal", "preference"], "read_write") == "memory:preference:write memory:goal:write"
    assert scope_string(["fact"], "read_only") == "memory:fact:read"
    granted = parse_scope(scope_string(["goal", "preference"], "read_only"))
    assert granted.allows(parse_scope("memory:goal:read")) and not granted.allows(parse_scope("memory:goal:write"))
    assert not granted.allows(parse_scope("memory:fact:read"))
    assert all(parse_scope(scope) for scope in supported_scopes())
