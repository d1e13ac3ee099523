"""An agent's add queued for LLM extraction is held to the grant as it stands when the worker
runs it, and the user's activity shows what it wrote. SQLite and PostgreSQL.

The LLM is an OpenAI-compatible endpoint on loopback. The app's own worker is off: each test
runs the worker itself, so it can change the grant between queueing and running.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from memoryos_server.app import create_app
from memoryos_server.services.memory.worker import JobRunner
from memoryos_server.services.runtime import build_runtime
from memoryos_server.storage.models import Tenant, UniversalMemory
from tests.fixtures import databases
from tests.fixtures.app import make_settings
from tests.fixtures.factories import TenantHandle, create_tenant
from tests.fixtures.llm import MARATHON_MESSAGE, FakeLLM, fake_llm  # noqa: F401
from tests.fixtures.passport import AgentHandle, PassportHandle, as_if_grant_expired, create_agent, exchange, sign_in


class Setup:
    def __init__(self, client: TestClient, llm: FakeLLM) -> None:
        self.client = client
        self.llm = llm
        self.app = client.app
        self.services = client.app.state.services  # type: ignore[attr-defined]
        self.runtime = client.app.state.runtime  # type: ignore[attr-defined]
        self.tenant: TenantHandle = create_tenant(client)

    def connect(self, categories: list[str]) -> tuple[AgentHandle, PassportHandle, str, str]:
        agent = create_agent(self.tenant)
        passport = sign_in(self.app, self.client, self.runtime.settings)  # type: ignore[arg-type]
        granted = passport.grant(agent, categories, "read_write")
        uui = exchange(self.client, agent, granted["code"])["uui_token"]
        return agent, passport, uui, granted["id"]

    def queue_add(self, agent: AgentHandle, uui: str) -> str:
        response = self.client.post(
            "/v1/universal/memories/add", json={"messages": [{"role": "user", "content": MARATHON_MESSAGE}]}, headers=agent.headers(uui)
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "queued" and body["results"] == [], body
        return str(body["job_id"])

    def run_worker(self) -> bool:
        return JobRunner(self.services.memory, universal_gate=self.services.passport_scopes).run_once()

    def job(self, agent: AgentHandle, uui: str, job_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/universal/memories/jobs/{job_id}", headers=agent.headers(uui))
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    def memories(self, passport: PassportHandle) -> list[dict[str, Any]]:
        response = self.client.get("/v1/uui/me/memories", headers=passport.headers())
        assert response.status_code == 200, response.text
        return response.json()["data"]  # type: ignore[no-any-return]

    def activity_page(self, passport: PassportHandle) -> str:
        """The permission center's Activity tab, as the user's browser gets it."""
        browser = TestClient(self.app, raise_server_exceptions=False)
        browser.cookies.set("memoryos_uui_session", passport.session_token)
        page = browser.get("/manage/activity")
        assert page.status_code == 200, page.text
        return " ".join(re.sub(r"<[^>]+>", " ", page.text).split())  # the text a reader sees

    def writes(self, passport: PassportHandle) -> list[dict[str, Any]]:
        response = self.client.get("/v1/uui/me/activity", headers=passport.headers())
        assert response.status_code == 200, response.text
        return [item for item in response.json()["data"] if item["action"] == "memories.write"]


@pytest.fixture
def setup(test_database: databases.TestDatabase, tmp_path: Path, fake_llm: FakeLLM) -> Iterator[Setup]:
    """An app of its own (same backend, own database): only the test's worker runs its jobs."""
    pg_name = None
    if test_database.backend == "sqlite":
        database = databases.TestDatabase("sqlite", f"sqlite:///{tmp_path / 'queued.sqlite'}")
    else:
        pg_name, url = databases.create_postgres_database()
        database = databases.TestDatabase("postgresql", url)
    settings = make_settings(database, tmp_path / "data", llm_base_url=fake_llm.url, llm_model="test-model", worker_enabled=False)
    runtime = build_runtime(settings)
    client = TestClient(create_app(settings, runtime=runtime), raise_server_exceptions=False)
    client.__enter__()
    try:
        yield Setup(client, fake_llm)
    finally:
        client.__exit__(None, None, None)
        runtime.close()
        if pg_name is not None:
            databases.drop_postgres_database(pg_name)


def test_the_worker_writes_and_the_activity_lists_the_ids_it_wrote(setup: Setup) -> None:
    agent, passport, uui, _ = setup.connect(["goal", "relationship"])
    job_id = setup.queue_add(agent, uui)
    assert setup.writes(passport) == []  # nothing is written yet, so nothing is claimed in the trail
    assert setup.run_worker() is True

    job = setup.job(agent, uui, job_id)
    assert job["state"] == job["status"] == "completed" and job["blocked_reason"] is None, job
    assert job["memories_created"] == 2
    stored = setup.memories(passport)
    assert sorted(m["id"] for m in stored) == sorted(job["result"]["created_memory_ids"])

    [write] = setup.writes(passport)
    assert write["agent"]["id"] == agent.id
    assert sorted(write["memory_ids"]) == sorted(m["id"] for m in stored)
    assert sorted(write["categories"]) == ["goal", "relationship"]
    assert write["detail"]["job_id"] == job_id and write["detail"]["status"] == "completed"
    assert f"{agent.body['name']} stored 2 memories (goal, relationship)" in setup.activity_page(passport)

    # Each memory names the tenant of the agent that wrote it, as an inline add does.
    with setup.runtime.db.session(write=False) as session:
        tenant_row = session.execute(select(Tenant).where(Tenant.public_id == setup.tenant.tenant_id)).scalar_one()
        sources = session.execute(
            select(UniversalMemory.source_tenant_id).where(UniversalMemory.id.in_([m["id"] for m in stored]))
        ).scalars().all()
    assert sources and set(sources) == {tenant_row.id}


Change = Callable[[Setup, PassportHandle, str], None]


def _revoke(setup: Setup, passport: PassportHandle, grant_id: str) -> None:
    response = setup.client.delete(f"/v1/uui/me/grants/{grant_id}", headers=passport.headers())
    assert response.status_code == 200, response.text


def _expire(setup: Setup, passport: PassportHandle, grant_id: str) -> None:
    as_if_grant_expired(setup.runtime, grant_id)


def _make_read_only(setup: Setup, passport: PassportHandle, grant_id: str) -> None:
    response = setup.client.patch(
        f"/v1/uui/me/grants/{grant_id}", json={"access_type": "read_only"}, headers=passport.headers()
    )
    assert response.status_code == 200, response.text


CHANGES = [
    (_revoke, "grant_revoked", "could not add to your memories: you had revoked its access"),
    (_expire, "grant_expired", "could not add to your memories: its access had expired"),
    (_make_read_only, "write_not_permitted", "could not add to your memories: its access is read only"),
]


@pytest.mark.parametrize(("change", "reason", "shown"), CHANGES, ids=["revoked", "expired", "read_only"])
def test_a_grant_gone_before_the_worker_runs_blocks_the_job(setup: Setup, change: Change, reason: str, shown: str) -> None:
    agent, passport, uui, grant_id = setup.connect(["goal", "relationship"])
    job_id = setup.queue_add(agent, uui)
    change(setup, passport, grant_id)
    assert setup.run_worker() is True

    job = setup.job(agent, uui, job_id)
    assert job["state"] == job["status"] == "blocked", job
    assert job["blocked_reason"] == reason and job["error"] is None
    assert job["memories_created"] == 0 and job["result"]["created_memory_ids"] == []
    assert setup.memories(passport) == []
    # The messages never went to the LLM once the grant no longer allowed the write.
    assert setup.llm.requests == []
    [write] = setup.writes(passport)
    assert write["memory_ids"] == [] and write["detail"]["blocked_reason"] == reason
    assert f"{agent.body['name']} {shown}" in setup.activity_page(passport)
    assert setup.run_worker() is False  # blocked is final: never retried


def test_a_grant_revoked_while_the_llm_works_blocks_the_write(setup: Setup) -> None:
    agent, passport, uui, grant_id = setup.connect(["goal", "relationship"])
    job_id = setup.queue_add(agent, uui)
    setup.llm.hold()
    worker = threading.Thread(target=setup.run_worker)
    worker.start()
    try:
        assert setup.llm.called.wait(30), "the worker never called the LLM"
        _revoke(setup, passport, grant_id)
    finally:
        setup.llm.release()
        worker.join(60)

    job = setup.job(agent, uui, job_id)
    assert job["state"] == "blocked" and job["blocked_reason"] == "grant_revoked", job
    assert setup.memories(passport) == []


def test_categories_removed_before_the_worker_runs_are_not_written(setup: Setup) -> None:
    agent, passport, uui, grant_id = setup.connect(["goal", "relationship"])
    job_id = setup.queue_add(agent, uui)
    response = setup.client.patch(
        f"/v1/uui/me/grants/{grant_id}", json={"categories_allowed": ["goal"]}, headers=passport.headers()
    )
    assert response.status_code == 200, response.text
    assert setup.run_worker() is True

    job = setup.job(agent, uui, job_id)
    assert job["state"] == "completed" and job["memories_created"] == 1 and job["result"]["skipped"] == 1, job
    [memory] = setup.memories(passport)
    assert memory["category"] == "goal"
    [write] = setup.writes(passport)
    assert write["memory_ids"] == [memory["id"]] and write["detail"]["categories_allowed"] == ["goal"]


def test_categories_added_after_queueing_are_not_written_either(setup: Setup) -> None:
    agent, passport, uui, grant_id = setup.connect(["goal"])
    job_id = setup.queue_add(agent, uui)
    response = setup.client.patch(
        f"/v1/uui/me/grants/{grant_id}", json={"categories_allowed": ["goal", "relationship"]}, headers=passport.headers()
    )
    assert response.status_code == 200, response.text
    assert setup.run_worker() is True

    job = setup.job(agent, uui, job_id)
    assert job["state"] == "completed" and job["memories_created"] == 1, job
    assert [m["category"] for m in setup.memories(passport)] == ["goal"]
