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


def test_add_memory_then_get_context(live_server: LiveServer, client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["preference"], "read_write")
    params = _params(live_server, MEMORYOS_AGENT_API_KEY=agent.key, MEMORYOS_UUI_TOKEN=uui)
    message = {"role": "user", "content": "Please remember that I prefer short, structured explanations and Python examples."}
    _, results = anyio.run(
        _session_calls,
        params,
        [
            ("add_memory", {"messages": [message, {"role": "user", "content": "I live in Paris."}]}),
            ("get_context", {"query": "How should I tailor the response?"}),
        ],
    )
    added, context = _structured(results[0]), _structured(results[1])
    assert added["status"] == "completed" and added["skipped"] == 1
    assert [m["category"] for m in added["stored"]] == ["preference"]
    assert context["permission_status"] is None and context["categories_available"] == ["preference"]
    assert "Python examples" in context["system_prompt_addition"]
    assert [m["category"] for m in context["memories"]] == ["preference"]
    # The person sees the MCP agent's reads and writes in their activity.
    actions = {e["action"] for e in client.get("/v1/uui/me/activity", headers=person.headers()).json()["data"]}
    assert {"memories.write", "memories.read"} <= actions


def test_a_revoked_grant_reads_as_a_permission_status(live_server: LiveServer, client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["goal"])
    grant_id = client.get("/v1/uui/me/grants", headers=person.headers()).json()["data"][0]["id"]
    client.delete(f"/v1/uui/me/grants/{grant_id}", headers=person.headers())
    params = _params(live_server, MEMORYOS_AGENT_API_KEY=agent.key, MEMORYOS_UUI_TOKEN=uui, MEMORYOS_AGENT_ID=agent.id)
    _, results = anyio.run(
        _session_calls,
        params,
        [("get_context", {"query": "goals"}), ("add_memory", {"messages": [{"content": "My goal is to learn Go."}]})],
    )
    context = _structured(results[0])
    assert context["memories"] == [] and context["system_prompt_addition"] == ""
    assert context["permission_status"] == "grant_revoked"
    assert results[1].is_error and "UAT_002" in results[1].content[0].text


def test_get_context_withholds_what_the_person_flagged(live_server: LiveServer, client: TestClient, connected) -> None:  # type: ignore[no-untyped-def]
    agent, person, uui = connected(["expertise", "fact"], "read_write")
    params = _params(live_server, MEMORYOS_AGENT_API_KEY=agent.key, MEMORYOS_UUI_TOKEN=uui)
    messages = [
        {"role": "user", "content": "I have ten years of experience with Kubernetes"},
        {"role": "user", "content": "I maintain the Helm charts for our Kubernetes clusters"},
    ]
    _, results = anyio.run(_session_calls, params, [("add_memory", {"messages": messages})])
    stored = {m["memory"]: m["id"] for m in _structured(results[0])["stored"]}
    flagged = stored["Has ten years of experience with Kubernetes"]
    client.post(f"/v1/uui/me/memories/{flagged}/flag", headers=person.headers())

    _, results = anyio.run(_session_calls, params, [("get_context", {"query": "Kubernetes experience"})])
    hidden = _structured(results[0])
    assert [m["id"] for m in hidden["memories"]] == [stored["Maintains the Helm charts for their Kubernetes clusters"]]
    assert "ten years" not in hidden["system_prompt_addition"]
    assert hidden["memories"][0]["disputed"] is False and hidden["memories"][0]["unconfirmed"] is False

    client.delete(f"/v1/uui/me/memories/{flagged}/flag", headers=person.headers())
    _, results = anyio.run(_session_calls, params, [("get_context", {"query": "Kubernetes experience"})])
    assert flagged in [m["id"] for m in _structured(results[0])["memories"]]
