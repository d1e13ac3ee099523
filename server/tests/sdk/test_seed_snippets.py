"""The integration guide's Python snippets (seed 001), run as written with our SDK, real keys
and a live server: base URLs come from MEMORYOS_API_URL and MEMORYOS_CONSENT_BASE_URL. The
consent and connect URLs they make are followed to the server's own pages."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import types
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.fixtures.app import LiveServer
from tests.fixtures.passport import PassportHandle, exchange, new_agent, new_passport  # noqa: F401

GUIDE = Path(__file__).with_name("seed") / "integration_guide.py"
CONNECT_SNIPPET = Path(__file__).with_name("seed") / "fastapi_connect.py"
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


def _signed_in(live_server: LiveServer, person: PassportHandle) -> httpx.Client:
    """A browser on the live server, signed in as ``person`` (the session lives in the database)."""
    browser = httpx.Client(base_url=live_server.url, timeout=20)
    browser.cookies.set("memoryos_uui_session", person.session_token, domain="127.0.0.1")
    return browser


def _page_text(response: httpx.Response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.unescape(response.text)).split())


def test_the_guides_consent_urls_open_our_consent_page_for_that_agent(
    live_server: LiveServer, client: TestClient, new_agent, new_passport  # type: ignore[no-untyped-def]
) -> None:
    agent = new_agent(name="Guide Tutor", redirect_uri=CALLBACK)
    person = new_passport()
    granted = person.grant(agent, ["preference"], "read_write")
    uui = exchange(client, agent, granted["code"])["uui_token"]
    out = _run_guide(live_server, agent_id=agent.id, agent_key=agent.key, uui=uui)
    expected_ticks = [set(), {"preference", "goal", "expertise"}, {"preference", "fact"}]
    # Someone who has not approved this agent yet: the screen pre-ticks what each link asks (for
    # the person above, who has, it shows their current grant instead).
    newcomer = new_passport()
    with httpx.Client(base_url=live_server.url, timeout=20) as stranger, _signed_in(live_server, newcomer) as browser:
        for url, ticks in zip(out["consent_urls"], expected_ticks, strict=True):
            parts = urlsplit(url)
            assert f"{parts.scheme}://{parts.netloc}" == live_server.url
            local = f"{parts.path}?{parts.query}"
            # Signed out: off to sign in, and back to exactly this consent link afterwards.
            away = stranger.get(local, follow_redirects=False)
            assert away.status_code in (302, 303), away.text
            assert away.headers["location"] == "/login?" + urlencode({"next": local})
            # Signed in: the consent screen of that agent, with the categories it asked for ticked.
            page = browser.get(local, follow_redirects=False)
            assert page.status_code == 200, page.text
            assert "Guide Tutor" in _page_text(page)
            ticked = set(re.findall(r'name="categories" value="(\w+)"[^>]*\bchecked\b', page.text))
            assert ticked == (ticks or set(agent.body["default_categories_requested"]))
            # The same link with an agent id that is not this agent's: the unknown-agent page.
            wrong = local.replace(agent.id, str(uuid.uuid4()))
            for who in (stranger, browser):
                refused = who.get(wrong, follow_redirects=False)
                assert refused.status_code == 404 and "find this agent" in _page_text(refused), refused.text


def _load_connect_snippet(monkeypatch: pytest.MonkeyPatch, current_user: Any, **env: str) -> FastAPI:
    """The guide's FastAPI example, as written: its variables set first, get_current_user stubbed."""
    for name in ("MEMORYOS_API_URL", "MEMORYOS_API_KEY", "MEMORYOS_CONSENT_BASE_URL", "MEMORYOS_SUPPORT_AGENT_ID",
                 "MEMORYOS_BILLING_AGENT_ID", "MEMORYOS_ONBOARDING_AGENT_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    module = types.ModuleType("guide_fastapi_connect")
    module.get_current_user = lambda: current_user  # type: ignore[attr-defined]
    exec(compile(CONNECT_SNIPPET.read_text(), str(CONNECT_SNIPPET), "exec"), module.__dict__)  # noqa: S102
    app = FastAPI()
    app.include_router(module.router)
    return app


def test_the_guides_fastapi_connect_route_hands_out_a_working_single_use_link(
    monkeypatch: pytest.MonkeyPatch, live_server: LiveServer, client: TestClient, new_agent, new_passport  # type: ignore[no-untyped-def]
) -> None:
    agent = new_agent(name="Support Helper")
    customer = types.SimpleNamespace(id=f"customer-{uuid.uuid4().hex[:8]}")
    backend = _load_connect_snippet(
        monkeypatch,
        customer,
        MEMORYOS_API_URL=live_server.url,
        MEMORYOS_API_KEY=agent.tenant.api_key,
        MEMORYOS_CONSENT_BASE_URL=live_server.url,
        MEMORYOS_SUPPORT_AGENT_ID=agent.id,
    )
    with TestClient(backend) as app_client:
        answer = app_client.post("/integrations/memoryos/connect", json={})  # agent defaults to "support"
        assert answer.status_code == 200, answer.text
        unknown = app_client.post("/integrations/memoryos/connect", json={"agent": "billing"})  # not configured
        assert unknown.status_code == 400 and unknown.json() == {"detail": "unknown_agent"}
    redirect = urlsplit(answer.json()["redirect_url"])
    query = parse_qs(redirect.query)
    assert f"{redirect.scheme}://{redirect.netloc}" == live_server.url and redirect.path == "/connect"
    assert query["agent_id"] == [agent.id] and query["link_token"][0].startswith("plink_")
    local = f"{redirect.path}?{redirect.query}"

    person = new_passport()
    with httpx.Client(base_url=live_server.url, timeout=20) as stranger, _signed_in(live_server, person) as browser:
        away = stranger.get(local, follow_redirects=False)  # signed out: sign in first, then back here
        assert away.status_code in (302, 303) and away.headers["location"] == "/login?" + urlencode({"next": local})

        page = browser.get(local, follow_redirects=False)
        assert page.status_code == 200, page.text
        text = _page_text(page)
        assert "Connect your Acme account" in text and "Support Helper" in text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token, "the connect page has no CSRF token"
        confirmed = browser.post(
            "/connect",
            data={"csrf_token": token.group(1), "agent_id": agent.id, "link_token": query["link_token"][0]},
            follow_redirects=False,
        )
        assert confirmed.status_code == 303 and confirmed.headers["location"] == "/consent?" + urlencode({"agent_id": agent.id})

        # The link worked once: a second use is refused, whoever tries.
        for who in (browser, _signed_in(live_server, new_passport())):
            again = who.get(local, follow_redirects=False)
            assert again.status_code == 410 and "expired or was already used" in _page_text(again), again.text

    connections = client.get("/v1/uui/me/connections", headers=person.headers()).json()["data"]
    assert [c["organisation_name"] for c in connections] == ["Acme"]
    # The tenant's backend now finds this person, once they grant the agent access.
    assert client.post(
        "/v1/universal/users/resolve", json={"external_user_id": customer.id}, headers=agent.headers()
    ).json()["data"] == {"uui_token": None, "permission_error": "no_grant_for_user"}


def test_the_guides_fastapi_connect_route_reports_a_refused_key(
    monkeypatch: pytest.MonkeyPatch, live_server: LiveServer, new_agent  # type: ignore[no-untyped-def]
) -> None:
    agent = new_agent()
    backend = _load_connect_snippet(
        monkeypatch,
        types.SimpleNamespace(id="customer-1"),
        MEMORYOS_API_URL=live_server.url,
        MEMORYOS_API_KEY="mem_" + "n" * 40,
        MEMORYOS_SUPPORT_AGENT_ID=agent.id,
    )
    with TestClient(backend) as app_client:
        answer = app_client.post("/integrations/memoryos/connect", json={"agent": "support"})
    assert answer.status_code == 502
    detail = answer.json()["detail"]
    assert detail["error"] == "memoryos_link_failed" and json.loads(detail["response"])["code"] == "AUTH_001"
