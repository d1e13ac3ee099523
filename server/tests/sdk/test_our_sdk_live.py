"""Our SDK's async clients and typed errors against a live server (a real uvicorn on loopback),
on both databases: no mock transport, every answer is the server's own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from memoryos import (
    AsyncMemory,
    AsyncUniversalMemory,
    AuthError,
    CrossAgentAuthError,
    Memory,
    MemoryOSError,
    NotFoundError,
    ValidationError,
    WriteNotPermitted,
)
from memoryos.universal import UniversalMemory

from tests.fixtures.app import LiveServer
from tests.fixtures.factories import TenantHandle
from tests.fixtures.passport import AgentHandle, PassportHandle, link_token, new_agent, new_passport  # noqa: F401

SEED = "Please remember that I prefer short, structured explanations and Python examples."


def _from_the_server(error: MemoryOSError, status: int, code: str) -> None:
    """The error is the server's answer: its status, its code, and the id of that very request."""
    assert (error.status_code, error.code) == (status, code), repr(error)
    assert error.response is not None and error.response.status_code == status
    assert error.request_id and error.request_id == error.response.headers["x-request-id"]
    assert error.response.json()["request_id"] == error.request_id


def test_async_universal_flow_exchange_get_add_revoke(
    live_server: LiveServer,
    client: TestClient,
    new_agent: Callable[..., AgentHandle],
    new_passport: Callable[..., PassportHandle],
) -> None:
    agent, person = new_agent(), new_passport()
    account = f"customer-{uuid.uuid4().hex[:8]}"
    granted = person.grant(agent, ["preference", "goal"], "read_write", link_token=link_token(agent, account))

    async def flow() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        exchanged = await AsyncUniversalMemory.exchange_code(granted["code"], agent_api_key=agent.key, base_url=live_server.url)
        seen["exchanged"] = exchanged
        resolved = await AsyncUniversalMemory.resolve_user(account, agent_api_key=agent.key, base_url=live_server.url)
        seen["resolved"] = resolved
        async with AsyncUniversalMemory(agent_api_key=agent.key, uui_token=exchanged.uui_token, base_url=live_server.url) as memory:
            seen["before"] = await memory.get(query="How should I explain code?")
            seen["added"] = await memory.add(messages=[{"role": "user", "content": SEED}], metadata={"channel": "chat"})
            seen["job"] = await memory.get_job_status(seen["added"].job_id)
            seen["got"] = await memory.get(query="How should I explain code?", limit=5)
            seen["grant"] = await memory.grant()
            revoked = await asyncio.to_thread(
                client.delete, f"/v1/uui/me/grants/{granted['id']}", headers=person.headers()
            )
            assert revoked.status_code == 200, revoked.text
            seen["after"] = await memory.get(query="How should I explain code?")
            with pytest.raises(WriteNotPermitted) as refused:
                await memory.add(messages=[{"role": "user", "content": "I prefer tea."}])
            seen["refused"] = refused.value
            seen["grant_after"] = await memory.grant()
        seen["resolved_after"] = await AsyncUniversalMemory.resolve_user(account, agent_api_key=agent.key, base_url=live_server.url)
        return seen

    seen = asyncio.run(flow())
    exchanged = seen["exchanged"]
    assert exchanged.uui_token.startswith("uui_") and exchanged.grant.categories_allowed == ["preference", "goal"]
    assert seen["resolved"].found and seen["resolved"].uui_token == exchanged.uui_token

    before = seen["before"]
    assert not before.has_context and before.permission_status is None and list(before) == []
    assert before.categories_available == ["preference", "goal"]
    assert seen["added"].status == "completed" and len(seen["added"].results) == 1
    assert seen["job"].succeeded and seen["job"].memories_created == 1 and seen["job"].blocked_reason is None
    got = seen["got"]
    assert got.has_context and "Python examples" in got.system_prompt_addition
    assert [item.id for item in got] == [seen["added"].results[0].id]
    assert seen["grant"].agent_id == agent.id and seen["grant"].can_write

    after = seen["after"]
    assert not after.has_context and list(after) == [] and after.system_prompt_addition == ""
    assert after.permission_status == "grant_revoked" and after.categories_available == []
    _from_the_server(seen["refused"], 403, "UAT_002")
    assert seen["grant_after"].status == "revoked" and not seen["grant_after"].can_write
    assert not seen["resolved_after"].found and seen["resolved_after"].permission_error == "grant_revoked"


def test_async_tenant_client_adds_waits_lists_and_deletes(live_server: LiveServer, tenant: TenantHandle) -> None:
    user = f"async-{uuid.uuid4().hex[:8]}"

    async def flow() -> dict[str, Any]:
        async with AsyncMemory(api_key=tenant.api_key, base_url=live_server.url) as memory:
            added = await memory.add(messages=[{"role": "user", "content": SEED}], external_user_id=user)
            waited = await memory.wait_for_job(added.job_id, timeout=20, poll_interval=0.1)
            listed = await memory.list(external_user_id=user)
            deleted = await memory.delete(listed.items[0].id, external_user_id=user)
            with pytest.raises(NotFoundError) as missing:
                await memory.delete(listed.items[0].id, external_user_id=user)
            return {"added": added, "waited": waited, "listed": listed, "deleted": deleted, "missing": missing.value,
                    "after": await memory.list(external_user_id=user)}

    seen = asyncio.run(flow())
    assert seen["added"].status == "completed" and seen["waited"].succeeded
    assert [item.id for item in seen["listed"].items] == seen["waited"].created_memory_ids
    assert seen["deleted"] is True and seen["after"].items == []
    _from_the_server(seen["missing"], 404, "MEM_404")


def test_typed_errors_carry_the_servers_code_status_and_request_id(
    live_server: LiveServer, client: TestClient, tenant: TenantHandle, new_agent: Callable[..., AgentHandle],
    new_passport: Callable[..., PassportHandle],
) -> None:
    agent, other, person = new_agent(), new_agent(), new_passport()
    code = person.grant(agent, ["preference"], "read_only")["code"]
    uui = UniversalMemory.exchange_code(code, agent_api_key=agent.key, base_url=live_server.url).uui_token
    errors: list[MemoryOSError] = []

    with UniversalMemory(agent_api_key=agent.key, uui_token=uui, base_url=live_server.url) as memory:
        with pytest.raises(WriteNotPermitted) as read_only:
            memory.add(messages=[{"role": "user", "content": SEED}])
        _from_the_server(read_only.value, 403, "UAT_002")
        assert read_only.value.error == "write_not_permitted"
        with pytest.raises(NotFoundError) as no_job:
            memory.get_job_status(f"job_{uuid.uuid4().hex[:24]}")
        _from_the_server(no_job.value, 404, "JOB_404")
        errors += [read_only.value, no_job.value]

    # Another agent's key with this agent's UUI, a made-up UUI, a made-up key: all the same refusal.
    for key, token in ((other.key, uui), (agent.key, "uui_" + "x" * 43), ("agent_sk_" + "y" * 40, uui)):
        with UniversalMemory(agent_api_key=key, uui_token=token, base_url=live_server.url) as memory:
            with pytest.raises(CrossAgentAuthError) as refused:
                memory.get(query="anything")
        _from_the_server(refused.value, 403, "UAT_001")
        assert refused.value.error == "cross_agent_auth_failed"
        errors.append(refused.value)

    with pytest.raises(MemoryOSError) as bad_code:
        UniversalMemory.exchange_code("not-a-code", agent_api_key=agent.key, base_url=live_server.url)
    _from_the_server(bad_code.value, 400, "REQ_400")

    with Memory(api_key="mem_" + "z" * 40, base_url=live_server.url) as memory:
        with pytest.raises(AuthError) as bad_key:
            memory.get(query="anything", external_user_id="alice")
    _from_the_server(bad_key.value, 401, "AUTH_001")

    with Memory(api_key=tenant.api_key, base_url=live_server.url) as memory:
        with pytest.raises(ValidationError) as invalid:
            memory.get(query="anything", external_user_id="alice", limit=500)
        with pytest.raises(NotFoundError) as missing:
            memory.delete(str(uuid.uuid4()), external_user_id="alice")
    _from_the_server(invalid.value, 422, "REQ_422")
    assert invalid.value.details and any("limit" in str(d.get("loc")) for d in invalid.value.details)
    _from_the_server(missing.value, 404, "MEM_404")

    errors += [bad_code.value, bad_key.value, invalid.value, missing.value]
    assert len({e.request_id for e in errors}) == len(errors)  # each names its own request
