"""The integration guide's Python snippets (seed 001), run as written with our SDK, real keys
and a live server: base URLs come from MEMORYOS_API_URL and MEMORYOS_CONSENT_BASE_URL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from tests.fixtures.app import LiveServer
from tests.fixtures.passport import exchange, new_agent, new_passport  # noqa: F401

GUIDE = Path(__file__).with_name("seed") / "integration_guide.py"
CALLBACK = "https://yourapp.com/integrations/memoryos/callback"


def _run_guide(live_server: LiveServer, *, agent_id: str, agent_key: str, uui: str) -> dict:  # type: ignore[type-arg]
    source = (
        GUIDE.read_text()
        .replace('"your_global_agent_id"', json.dumps(agent_id))
        .replace('"agent_sk_..."', json.dumps(agent_key))
        .replace('"uui_..."', json.dumps(uui))
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORYOS_")}
    env.update(MEMORYOS_API_URL=live_server.url, MEMORYOS_CONSENT_BASE_URL=live_server.url)
    completed = subprocess.run(
        [sys.executable, "-c", source], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_the_integration_guide_runs_as_written(
    live_server: LiveServer, client: TestClient, new_agent, new_passport  # type: ignore[no-untyped-def]
) -> None:
    agent = new_agent(
        name="Learning Agent",
        redirect_uri=CALLBACK,
        default_categories_requested=["preference", "fact", "goal"],
    )
    person = new_passport()
    granted = person.grant(agent, ["preference", "goal", "expertise"], "read_write")
    uui = exchange(client, agent, granted["code"])["uui_token"]

    out = _run_guide(live_server, agent_id=agent.id, agent_key=agent.key, uui=uui)

    urls = [urlsplit(url) for url in out["consent_urls"]]
    assert all(f"{u.scheme}://{u.netloc}" == live_server.url and u.path == "/consent" for u in urls)
    queries = [parse_qs(u.query) for u in urls]
    assert queries[0] == {"agent_id": [agent.id], "state": ["optional_user_session_state"]}
    assert queries[1]["categories"] == ["preference,goal,expertise"]
    assert queries[2]["redirect_uri"] == [CALLBACK] and queries[2]["categories"] == ["preference,fact"]

    assert out["first"] == {"has_context": False, "permission_status": None}  # granted, nothing stored yet
    assert out["added"]["status"] == "completed" and out["added"]["job_id"]
    prompt = out["system_prompt"]
    assert prompt.startswith("You are a helpful tutor.\n\n")
    assert "Prefers short, structured explanations and Python examples" in prompt


def test_the_guides_consent_urls_open_our_consent_page(
    live_server: LiveServer, client: TestClient, new_agent, new_passport  # type: ignore[no-untyped-def]
) -> None:
    agent = new_agent(redirect_uri=CALLBACK)
    person = new_passport()
    granted = person.grant(agent, ["preference"], "read_write")
    uui = exchange(client, agent, granted["code"])["uui_token"]
    out = _run_guide(live_server, agent_id=agent.id, agent_key=agent.key, uui=uui)
    for url in out["consent_urls"]:
        parts = urlsplit(url)
        page = client.get(f"{parts.path}?{parts.query}", follow_redirects=False)
        # Not signed in in this client: the consent page sends the browser to sign in and back.
        assert page.status_code in (302, 303) and page.headers["location"].startswith("/login?next=")
