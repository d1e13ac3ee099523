"""Queued extraction (an OpenAI-compatible LLM on loopback), its fallback, retries, and
concurrent idempotent repeats against a real server. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from memoryos_server.app import create_app
from memoryos_server.errors import ServiceUnavailable
from memoryos_server.services.runtime import build_runtime
from memoryos_server.storage.models import Job
from tests.fixtures import databases
from tests.fixtures.app import LiveServer, free_port, make_settings
from tests.fixtures.factories import TenantHandle, create_tenant
from tests.fixtures.llm import MARATHON_MEMORIES, MARATHON_MESSAGE, FakeLLM


@pytest.fixture
def isolated_app(test_database: databases.TestDatabase, tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """An app with settings of the test's choosing, on a database of its own (same backend):
    its worker must be the only one that sees its jobs."""
    opened: list[Any] = []

    def make(**overrides: Any) -> TestClient:
        if test_database.backend == "sqlite":
            database = databases.TestDatabase("sqlite", f"sqlite:///{tmp_path / f'db{len(opened)}.sqlite'}")
        else:
            name, url = databases.create_postgres_database()
            opened.append(("pg", name))
            database = databases.TestDatabase("postgresql", url)
        settings = make_settings(database, tmp_path / f"data{len(opened)}", **overrides)
        runtime = build_runtime(settings)
        client = TestClient(create_app(settings, runtime=runtime), raise_server_exceptions=False)
        client.__enter__()
        opened.append(("client", client, runtime))
        return client

    yield make
    for item in reversed(opened):
        if item[0] == "client":
            item[1].__exit__(None, None, None)
            item[2].close()
        else:
            databases.drop_postgres_database(item[1])


def _wait_for_job(client: TestClient, tenant: TenantHandle, job_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = client.get(f"/v1/memories/jobs/{job_id}", headers=tenant.key_headers()).json()["data"]
        if data["status"] in ("completed", "dead") or time.monotonic() > deadline:
            return data  # type: ignore[no-any-return]
        time.sleep(0.05)


def _queued_add(client: TestClient, tenant: TenantHandle, text: str) -> dict[str, Any]:
    response = client.post(
        "/v1/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=tenant.key_headers("alice")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "queued" and body["results"] == [] and body["nothing_to_extract"] is False
    return body  # type: ignore[no-any-return]


def test_llm_extraction_runs_in_the_queue(isolated_app: Callable[..., TestClient]) -> None:
    with FakeLLM() as llm:
        client = isolated_app(llm_base_url=llm.url, llm_model="test-model")
        tenant = create_tenant(client)
        body = _queued_add(client, tenant, MARATHON_MESSAGE)
        job = _wait_for_job(client, tenant, body["job_id"])
    assert job["status"] == "completed", job
    assert job["memories_created"] == 2 and job["extraction_metadata"]["extractor"] == "llm"
    assert llm.requests and llm.requests[0]["path"] == "/v1/chat/completions"
    assert llm.requests[0]["body"]["model"] == "test-model"
    assert MARATHON_MESSAGE in json.dumps(llm.requests[0]["body"])
    listed = client.get("/v1/memories", headers=tenant.key_headers("alice")).json()["data"]
    assert {m["content"] for m in listed} == {m["content"] for m in MARATHON_MEMORIES}
    assert sorted(job["created_memory_ids"]) == sorted(m["id"] for m in listed)
    found = client.post("/v1/memories/retrieve", json={"query": "marathon"}, headers=tenant.key_headers("alice")).json()
    assert found["data"][0]["content"] == "Is training for the Berlin marathon in October"
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.db.session(write=False) as session:
        row = session.execute(select(Job).where(Job.id == body["job_id"])).scalar_one()
        assert row.payload_ct is None  # the messages are not kept once extracted
        assert b"marathon" not in (row.result_ct or b"")


def test_a_queued_payload_is_encrypted(isolated_app: Callable[..., TestClient]) -> None:
    # No worker: the job stays queued, and its row can be read as stored.
    client = isolated_app(llm_base_url="http://127.0.0.1:9/v1", worker_enabled=False)
    tenant = create_tenant(client)
    body = _queued_add(client, tenant, MARATHON_MESSAGE)
    assert (
        client.get(f"/v1/memories/jobs/{body['job_id']}", headers=tenant.key_headers()).json()["data"]["status"]
        == "queued"
    )
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.db.session(write=False) as session:
        row = session.execute(select(Job).where(Job.id == body["job_id"])).scalar_one()
    assert row.payload_ct and b"marathon" not in row.payload_ct and b"Miso" not in row.payload_ct


def test_when_the_llm_is_down_the_rules_extract(isolated_app: Callable[..., TestClient]) -> None:
    client = isolated_app(llm_base_url=f"http://127.0.0.1:{free_port()}/v1", llm_timeout_seconds=2)
    tenant = create_tenant(client)
    body = _queued_add(
        client, tenant, "Please remember that I prefer short, structured explanations and Python examples"
    )
    job = _wait_for_job(client, tenant, body["job_id"])
    assert job["status"] == "completed" and job["extraction_metadata"]["extractor"] == "rules"
    [memory] = client.get("/v1/memories", headers=tenant.key_headers("alice")).json()["data"]
    assert memory["category"] == "preference"


class BrokenEmbedder:
    name = "broken"
    dim = 384

    def embed(self, texts: Any) -> np.ndarray:
        raise ServiceUnavailable("the embedder is down")


def test_a_failing_job_is_retried_then_dead(isolated_app: Callable[..., TestClient]) -> None:
    with FakeLLM() as llm:
        client = isolated_app(llm_base_url=llm.url, job_max_attempts=2)
        client.app.state.runtime.use_embedder(BrokenEmbedder())  # type: ignore[attr-defined]
        tenant = create_tenant(client)
        body = _queued_add(client, tenant, MARATHON_MESSAGE)
        seen: set[str] = set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            data = client.get(f"/v1/memories/jobs/{body['job_id']}", headers=tenant.key_headers()).json()["data"]
            seen.add(data["status"])
            if data["status"] == "dead":
                break
            time.sleep(0.05)
    assert data["status"] == "dead" and data["attempts"] == 2 and data["error"] == "service_unavailable"
    assert "failed" in seen  # waiting for its retry, between the attempts
    assert client.get("/v1/memories", headers=tenant.key_headers("alice")).json()["data"] == []


def test_concurrent_repeats_of_one_idempotency_key_write_once(
    client: TestClient, live_server: LiveServer, tenant: TenantHandle
) -> None:
    body = {"messages": [{"role": "user", "content": "I live in Lisbon"}]}
    headers = {**tenant.key_headers("carol"), "Idempotency-Key": "concurrent-1"}
    barrier = threading.Barrier(6)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def send() -> None:
        with httpx.Client(base_url=live_server.url, timeout=60) as http:
            barrier.wait()
            response = http.post("/v1/memories/add", json=body, headers=headers)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
    assert len({r.content for r in answers}) == 1
    listed = client.get("/v1/memories", headers=tenant.key_headers("carol")).json()
    assert listed["pagination"]["total"] == 1


def test_a_queued_claim_points_to_its_event_and_authority_settles_it(isolated_app: Callable[..., TestClient]) -> None:
    """With LLM extraction a service's claim is queued: the model reads it as the end-user's own
    statement, the worker's memories point to the event, and authority settles a contradiction."""
    growth = {"content": "Is on the Growth plan", "category": "fact", "importance": 6, "confidence": 0.9}
    starter = {"content": "Is on the Starter plan", "category": "fact", "importance": 6, "confidence": 0.9}
    with FakeLLM(memories=[growth]) as llm:
        client = isolated_app(llm_base_url=llm.url, llm_model="test-model")
        tenant = create_tenant(client)
        for writer in (
            {"service_key": "billing", "authority_rules": {"categories": {"fact": 80}}},
            {"service_key": "support", "authority_rules": {"default_priority": 50}},
        ):
            assert client.post("/v1/tenant/service-writers", json=writer, headers=tenant.jwt_headers()).status_code == 201

        def claim(text: str, service: str, event_id: str) -> httpx.Response:
            return client.post(
                "/v1/memories/add",
                json={
                    "messages": [{"role": "assistant", "content": text}],
                    "source": {"service": service, "event_id": event_id},
                },
                headers=tenant.key_headers("alice"),
            )

        first = claim("Customer is on the Growth plan.", "billing", "b-1")
        assert first.status_code == 200 and first.json()["status"] == "queued"
        first_job = _wait_for_job(client, tenant, first.json()["job_id"])
        assert "I am on the Growth plan." in json.dumps(llm.requests[0]["body"])
        # A replay of the queued event answers the first answer and queues nothing.
        replayed = claim("Customer is on the Growth plan.", "billing", "b-1")
        assert replayed.content == first.content and len(llm.requests) == 1
        llm.memories = [starter]
        second = claim("Customer is on the Starter plan.", "support", "s-1")
        second_job = _wait_for_job(client, tenant, second.json()["job_id"])
    assert first_job["status"] == second_job["status"] == "completed"
    listed = {m["content"]: m for m in client.get("/v1/memories", headers=tenant.key_headers("alice")).json()["data"]}
    assert listed["Is on the Growth plan"]["status"] == "active"
    assert listed["Is on the Starter plan"]["status"] == "archived"
    events = {e["event_id"]: e for e in client.get("/v1/tenant/source-events", headers=tenant.jwt_headers()).json()["data"]}
    assert events["b-1"]["job_id"] == first_job["job_id"] and events["s-1"]["job_id"] == second_job["job_id"]
    assert listed["Is on the Growth plan"]["source_event_id"] == events["b-1"]["id"]
    assert events["s-1"]["memory_ids"] == [listed["Is on the Starter plan"]["id"]]
    history = client.get(
        f"/v1/memories/{listed['Is on the Starter plan']['id']}/history", headers=tenant.key_headers("alice")
    ).json()["data"]
    assert [v["event"] for v in history] == ["ADD", "ARCHIVE"] and "outranks" in history[-1]["note"]
