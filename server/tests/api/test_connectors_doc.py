"""docs/connectors.md's example provider, run as written: a company that copies it can connect
its users' accounts, and user resolve then finds them by the id userinfo returned as ``sub``."""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.fixtures.app import free_port
from tests.fixtures.factories import create_tenant
from tests.fixtures.passport import create_agent, sign_in

DOC = Path(__file__).resolve().parents[3] / "docs" / "connectors.md"


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    found = [block for block in blocks if block.startswith("# acme_oauth.py")]
    assert len(found) == 1, "docs/connectors.md has one example provider, acme_oauth.py"
    return found[0]


@pytest.fixture(scope="module")
def acme(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    path = tmp_path_factory.mktemp("acme") / "acme_oauth.py"
    path.write_text(_example(), encoding="utf-8")
    port, secret = free_port(), secrets.token_urlsafe(16)
    env = {**os.environ, "PORT": str(port), "ACME_CLIENT_SECRET": secret, "MEMORYOS_CALLBACK": "http://testserver/oauth/callback"}
    process = subprocess.Popen([sys.executable, str(path)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert process.poll() is None, "the example provider did not start"
            assert time.monotonic() < deadline, "the example provider did not start in time"
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", secret
    process.terminate()
    process.wait(timeout=10)


def test_the_example_provider_connects_an_account(connector_client: TestClient, acme: tuple[str, str], settings) -> None:  # type: ignore[no-untyped-def]
    url, secret = acme
    tenant = create_tenant(connector_client, "Acme")
    registered = connector_client.post(
        "/v1/tenant/directory/register",
        json={
            "display_name": "Acme Support",
            "category": "saas",
            "oauth_client_id": "memoryos-oauth-client-id",
            "oauth_client_secret": secret,
            "oauth_authorization_url": f"{url}/oauth/authorize",
            "oauth_token_url": f"{url}/oauth/token",
            "oauth_userinfo_url": f"{url}/oauth/userinfo",
            "oauth_scopes": ["openid", "profile"],
        },
        headers=tenant.key_headers(),
    )
    assert registered.status_code == 200, registered.text
    directory_id = registered.json()["data"]["directory_id"]
    agent = create_agent(tenant)
    passport = sign_in(connector_client.app, connector_client, settings)  # type: ignore[arg-type]

    started = connector_client.post("/v1/uui/oauth/initiate", json={"org_directory_id": directory_id}, headers=passport.headers())
    assert started.status_code == 200, started.text
    with httpx.Client(base_url=url, follow_redirects=False, timeout=10) as browser:
        to_login = browser.get(started.json()["data"]["authorization_url"])
        assert to_login.status_code == 302, to_login.text
        back = parse_qs(urlsplit(to_login.headers["location"]).query)["next"][0]
        signed_in = browser.post("/login", data={"username": "alice", "password": "wonderland", "next": back})
        assert signed_in.status_code == 302, signed_in.text
        consent = browser.get(signed_in.headers["location"])
        assert "Allow" in consent.text
        answered = browser.post(signed_in.headers["location"], data={"confirm": "yes"})
        assert answered.status_code == 302, answered.text
    callback = urlsplit(answered.headers["location"])
    finished = connector_client.get(
        f"{callback.path}?{callback.query}",
        headers={"Cookie": f"memoryos_uui_session={passport.session_token}"},
        follow_redirects=False,
    )
    assert finished.status_code == 303, finished.text

    connections = connector_client.get("/v1/uui/me/connections", headers=passport.headers()).json()["data"]
    assert [(item["organisation_name"], item["method"]) for item in connections] == [("Acme Support", "oauth")]
    # The example's user id is its sub: the company's backend resolves the person by it.
    resolved = connector_client.post("/v1/universal/users/resolve", json={"external_user_id": "user_8a72"}, headers=agent.headers())
    assert resolved.json()["data"] == {"uui_token": None, "permission_error": "no_grant_for_user"}
