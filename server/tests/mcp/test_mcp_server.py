"""`memoryos mcp` driven by a real MCP client session over stdio, against a live server."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
from fastapi.testclient import TestClient
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests.fixtures.app import LiveServer
from tests.fixtures.passport import connected, new_agent, new_passport  # noqa: F401

MEMORYOS = str(Path(sys.executable).parent / "memoryos")


def _params(live_server: LiveServer, **env: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=MEMORYOS,
        args=["mcp"],
        env={"MEMORYOS_API_URL": live_server.url, "MEMORYOS_CONSENT_BASE_URL": "https://consent.example.com", **env},
    )


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return dict(result.structured_content)
    return json.loads(result.content[0].text)


async def _session_calls(params: StdioServerParameters, calls: list[tuple[str, dict[str, Any]]]) -> tuple[list[str], list[Any]]:
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = [tool.name for tool in (await session.list_tools()).tools]
            results = [await session.call_tool(name, arguments) for name, arguments in calls]
    return tools, results


def test_tools_and_consent_url(live_server: LiveServer, client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, _, uui = connected(["preference", "goal"])
    params = _params(live_server, MEMORYOS_AGENT_API_KEY=agent.key, MEMORYOS_UUI_TOKEN=uui)
    tools, results = anyio.run(
        _session_calls, params, [("create_consent_url", {"categories": ["goal", "fact"], "state": "s-1"})]
    )
    assert set(tools) == {"get_context", "add_memory", "create_consent_url"}
    url = urlsplit(_structured(results[0])["consent_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "https://consent.example.com/consent"
    # The agent id came from this agent's own grant: nothing had to be configured.
    assert parse_qs(url.query) == {"agent_id": [agent.id], "categories": ["goal,fact"], "state": ["s-1"]}


def test_a_wrong_key_is_a_tool_error_not_a_crash(live_server: LiveServer, client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, _, uui = connected(["fact"])
    params = _params(live_server, MEMORYOS_AGENT_API_KEY="agent_sk_wrong", MEMORYOS_UUI_TOKEN=uui)
    _, results = anyio.run(_session_calls, params, [("create_consent_url", {})])
    assert results[0].is_error and "UAT_001" in results[0].content[0].text
