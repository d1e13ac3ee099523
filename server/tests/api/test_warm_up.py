"""Models load in the background at start; an embedder that cannot load is reported once in the
log with its cause, answers 503 where it is needed, and leaves the rest of the server working."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from memoryos_server.app import create_app
from tests.fixtures.app import free_port, make_settings
from tests.fixtures import databases
from tests.fixtures.factories import create_tenant


def _wait_for(condition, seconds: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_the_embedder_is_loaded_before_the_first_request(test_database: databases.TestDatabase, tmp_path: Path) -> None:
    settings = make_settings(test_database, tmp_path)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        # No request has been made: the start-up thread built the embedder and the extractor.
        assert _wait_for(lambda: runtime._extractor is not None)
        assert runtime._embedder is not None


def test_an_embedder_that_cannot_load_is_logged_and_the_rest_keeps_working(
    test_database: databases.TestDatabase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    settings = make_settings(
        test_database, tmp_path, embedder="openai", embedding_base_url=nobody, embedding_model="m", embedding_dim=16
    )
    with caplog.at_level(logging.WARNING, logger="memoryos"), TestClient(
        create_app(settings), raise_server_exceptions=False
    ) as client:
        assert _wait_for(lambda: any("embedder not ready" in r.getMessage() for r in caplog.records))
        assert client.get("/healthz").status_code == 200
        tenant = create_tenant(client, "Warm-up")
        added = client.post(
            "/v1/memories/add",
            json={"messages": [{"role": "user", "content": "I live in Berlin"}]},
            headers=tenant.key_headers("someone"),
        )
        assert added.status_code == 503
        assert added.json()["code"] == "SRV_503" and added.json()["error"] == "embedding_endpoint_error"


def test_start_up_objects_are_frozen_out_of_full_collections(test_database: databases.TestDatabase, tmp_path: Path) -> None:
    import gc

    settings = make_settings(test_database, tmp_path, gc_freeze=True)
    try:
        gc.unfreeze()
        with TestClient(create_app(settings), raise_server_exceptions=False) as client:
            assert client.get("/healthz").status_code == 200
            # Frozen at start, and again once the models are loaded.
            assert _wait_for(lambda: client.app.state.runtime._extractor is not None)  # type: ignore[attr-defined]
            assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
