"""`memoryos admin verify-agent` against the suite's database, checked through the public API."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

from fastapi.testclient import TestClient

from tests.cli.test_cli import MEMORYOS, _env
from tests.fixtures.factories import TenantHandle
from tests.fixtures.passport import create_agent


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MEMORYOS, "admin", "verify-agent", *args], env=env, capture_output=True, text=True, timeout=60)


def test_verify_and_reject_from_the_command_line(tmp_path: Path, test_database, client: TestClient, tenant: TenantHandle) -> None:  # type: ignore[no-untyped-def]
    env = _env(tmp_path, MEMORYOS_DATABASE_URL=test_database.url)
    agent = create_agent(tenant)
    verified = _run(env, agent.id, "--note", "checked the website")
    assert verified.returncode == 0, verified.stderr
    assert "verified" in verified.stdout
    profile = client.get(f"/v1/agents/global/{agent.id}").json()["data"]
    assert profile["is_verified"] is True and profile["verification_status"] == "verified"

    assert _run(env, agent.id, "--reject").returncode == 0
    assert client.get(f"/v1/agents/global/{agent.id}").json()["data"]["verification_status"] == "rejected"

    missing = _run(env, str(uuid.uuid4()))
    assert missing.returncode != 0 and "no agent" in (missing.stderr + missing.stdout)
