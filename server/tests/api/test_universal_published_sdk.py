"""The published SDK (memoryo-sdk 0.1.1) as an agent backend: UniversalMemory.get/add against a
live server, with a UUI obtained through our consent exchange (SPEC §5: the SDK wins)."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.fixtures.app import LiveServer
from tests.fixtures.passport import connected, new_agent, new_passport  # noqa: F401

SCRIPT = r"""
import json, sys
from memoryos.errors import MemoryOSError
from memoryos.universal import UniversalMemory

base_url, key, uui, phase = sys.argv[1:5]
out = {}
with UniversalMemory(agent_api_key=key, uui_token=uui, base_url=base_url) as memory:
    if phase == "granted":
        added = memory.add(
            messages=[{"role": "user", "content": "Please remember that I prefer short, structured explanations and Python examples."}],
            metadata={"source": "learning-agent"},
        )
        out["add"] = {"status": added.status, "job_id": added.job_id, "quota_mode": added.quota_mode}
        result = memory.get(query="How should I tailor the response?", limit=5)
        out["get"] = {
            "has_context": result.has_context,
            "permission_status": result.permission_status,
            "categories_available": result.categories_available,
            "categories": sorted({item.category for item in result}),
            "text": result.system_prompt_addition,
            "quota_mode": result.quota_mode,
        }
    else:
        result = memory.get(query="How should I tailor the response?", limit=5)
        out["get"] = {"has_context": result.has_context, "permission_status": result.permission_status, "n": len(result)}
        try:
            memory.add(messages=[{"role": "user", "content": "I prefer tea."}])
            out["add"] = "accepted"
        except MemoryOSError as exc:
            out["add"] = {"type": type(exc).__name__, "status": exc.status_code, "code": exc.code}
print(json.dumps(out))
"""


def _run(runner, live_server: LiveServer, key: str, uui: str, phase: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    completed = runner(SCRIPT, live_server.url, key, uui, phase)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_universal_memory_get_and_add(
    published_sdk_runner, live_server: LiveServer, client: TestClient, connected  # type: ignore[no-untyped-def]
) -> None:
    agent, person, uui = connected(["preference", "goal"], "read_write")
    granted = _run(published_sdk_runner, live_server, agent.key, uui, "granted")
    assert granted["add"]["status"] == "completed" and granted["add"]["job_id"]
    assert granted["get"]["has_context"] is True and granted["get"]["permission_status"] is None
    assert granted["get"]["categories_available"] == ["preference", "goal"]
    assert granted["get"]["categories"] == ["preference"]
    assert "Python examples" in granted["get"]["text"] and granted["get"]["quota_mode"] == "FULL"

    grant_id = client.get("/v1/uui/me/grants", headers=person.headers()).json()["data"][0]["id"]
    client.delete(f"/v1/uui/me/grants/{grant_id}", headers=person.headers())
    revoked = _run(published_sdk_runner, live_server, agent.key, uui, "revoked")
    assert revoked["get"] == {"has_context": False, "permission_status": "grant_revoked", "n": 0}
    assert revoked["add"] == {"type": "MemoryOSError", "status": 403, "code": "UAT_002"}


def test_a_borrowed_uui_fails_in_the_published_sdk(
    published_sdk_runner, live_server: LiveServer, client: TestClient, connected, new_agent  # type: ignore[no-untyped-def]
) -> None:
    _, _, uui = connected(["preference"])
    stranger = new_agent()
    completed = published_sdk_runner(
        r"""
import json, sys
from memoryos.errors import MemoryOSError
from memoryos.universal import UniversalMemory
try:
    UniversalMemory(agent_api_key=sys.argv[2], uui_token=sys.argv[3], base_url=sys.argv[1]).get(query="x")
    print(json.dumps("accepted"))
except MemoryOSError as exc:
    print(json.dumps({"status": exc.status_code, "code": exc.code}))
""",
        live_server.url,
        stranger.key,
        uui,
    )
    assert json.loads(completed.stdout.strip()) == {"status": 403, "code": "UAT_001"}
