"""The database going away under load, and coming back.

PostgreSQL: the server's connections to our database are terminated (as a restart or a failover
does: "terminating connection due to administrator command") and new ones are refused while the
outage lasts (``ALLOW_CONNECTIONS false``), on a database of its own so the rest of the suite is
untouched. SQLite: the file cannot grow (SQLite's own ``max_page_count``, which answers exactly as
a full disk does: "database or disk is full").

Every request during the outage gets 503 ``SRV_503`` with ``Retry-After`` in the error envelope,
never a 500; the server recovers by itself; every write it acknowledged is there afterwards and
nothing it refused is.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, event, text

from memoryos_server.app import create_app
from memoryos_server.services.runtime import Runtime, build_runtime
from tests.fixtures.app import make_settings
from tests.fixtures.databases import PG_ADMIN_URL, TestDatabase as Database, create_postgres_database, drop_postgres_database
from tests.fixtures.factories import create_tenant


def _add(client: TestClient, headers: dict[str, str], content: str) -> Any:
    return client.post("/v1/memories/add", json={"messages": [{"role": "user", "content": content}], "infer": False}, headers=headers)


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["code"] == "SRV_503" and body["error"] == "database_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert "Traceback" not in response.text and "psycopg" not in response.text and "sqlite3" not in response.text


class _Outage:
    def __init__(self, name: str) -> None:
        self.name = name
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")

    def begin(self) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name AND pid <> pg_backend_pid()"),
                {"name": self.name},
            )

    def end(self) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))


@pytest.fixture
def postgres_alone(test_database: Database, tmp_path: Path) -> Iterator[tuple[TestClient, _Outage]]:
    if test_database.backend != "postgresql":
        pytest.skip("the PostgreSQL outage needs PostgreSQL")
    name, url = create_postgres_database()
    settings = make_settings(Database("postgresql", url), tmp_path / "data")
    runtime = build_runtime(settings)
    outage = _Outage(name)
    try:
        with TestClient(create_app(settings, runtime=runtime), raise_server_exceptions=False) as client:
            yield client, outage
    finally:
        outage.end()
        runtime.close()
        outage.admin.dispose()
        drop_postgres_database(name)


def test_postgresql_going_away_under_load_is_a_503_and_loses_nothing_acknowledged(
    postgres_alone: tuple[TestClient, _Outage],
) -> None:
    client, outage = postgres_alone
    tenant = create_tenant(client)
    headers = tenant.key_headers("outage-user")
    assert _add(client, headers, "Before the outage: prefers tea").status_code == 200

    acknowledged: set[str] = set()
    refused: set[str] = set()
    statuses: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(number: int) -> None:
        sent = 0
        while not stop.is_set():
            content = f"Writer {number} note {sent} {secrets.token_hex(3)}"
            sent += 1
            response = _add(client, headers, content)
            with lock:
                statuses.append(response.status_code)
                (acknowledged if response.status_code == 200 else refused).add(content)
            if response.status_code not in (200, 503):
                return

    threads = [threading.Thread(target=writer, args=(number,)) for number in range(4)]
    for thread in threads:
        thread.start()
    try:
        stop.wait(0.5)
        outage.begin()
        during = [_add(client, headers, f"During the outage {n}") for n in range(3)]
        reads = client.get("/v1/memories", headers=headers)
        stop.wait(0.5)
    finally:
        outage.end()
        stop.set()
        for thread in threads:
            thread.join(timeout=30)

    for response in [*during, reads]:
        _assert_unavailable(response)
    assert set(statuses) <= {200, 503}, statuses
    assert 503 in statuses and 200 in statuses

    # Back by itself: the pool's dead connections are replaced on the next request.
    assert _add(client, headers, "After the outage: learning Rust").status_code == 200
    stored = _stored_all(client, headers)
    assert acknowledged <= stored, acknowledged - stored
    assert not (refused & stored), refused & stored
    assert {"Before the outage: prefers tea", "After the outage: learning Rust"} <= stored
    assert not {f"During the outage {n}" for n in range(3)} & stored


def _stored_all(client: TestClient, headers: dict[str, str]) -> set[str]:
    texts: set[str] = set()
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        listed = client.get("/v1/memories", params=params, headers=headers)
        assert listed.status_code == 200, listed.text
        body = listed.json()
        texts |= {item["content"] for item in body["data"]}
        cursor = body["pagination"]["next_cursor"]
        if not cursor:
            return texts


@pytest.fixture
def sqlite_alone(test_database: Database, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, int], Runtime]]:
    if test_database.backend != "sqlite":
        pytest.skip("the full disk is SQLite's")
    path = tmp_path / "full.db"
    settings = make_settings(Database("sqlite", f"sqlite:///{path}"), tmp_path / "data")
    runtime = build_runtime(settings)
    limit = {"pages": 0}  # 0: no limit

    @event.listens_for(runtime.db.engine, "begin")
    def _cap(connection: Any) -> None:
        # SQLite's own cap on the file's size: past it a write fails as on a full disk.
        pages = limit["pages"] or 1_073_741_823
        connection.exec_driver_sql(f"PRAGMA max_page_count={pages}")

    try:
        with TestClient(create_app(settings, runtime=runtime), raise_server_exceptions=False) as client:
            yield client, limit, runtime
    finally:
        runtime.close()


def test_a_full_disk_on_sqlite_is_a_503_that_changes_nothing_and_passes(
    sqlite_alone: tuple[TestClient, dict[str, int], Runtime],
) -> None:
    client, limit, runtime = sqlite_alone
    tenant = create_tenant(client)
    headers = tenant.key_headers("disk-user")
    assert _add(client, headers, "Before the disk filled: prefers tea").status_code == 200
    with runtime.db.engine.connect() as connection:
        limit["pages"] = int(connection.exec_driver_sql("PRAGMA page_count").scalar_one())

    big = " ".join(f"word{n}" for n in range(1500))
    responses = [_add(client, headers, f"While full {n}: {big}") for n in range(5)]
    assert any(response.status_code == 503 for response in responses)
    for response in responses:
        if response.status_code != 200:
            _assert_unavailable(response)
    # Reading still works while the disk is full.
    assert "Before the disk filled: prefers tea" in _stored_all(client, headers)

    limit["pages"] = 0  # space returns
    assert _add(client, headers, "After the disk was freed: learning Rust").status_code == 200
    stored = _stored_all(client, headers)
    assert {"Before the disk filled: prefers tea", "After the disk was freed: learning Rust"} <= stored
    acknowledged = {f"While full {n}: {big}" for n, response in enumerate(responses) if response.status_code == 200}
    assert {text for text in stored if text.startswith("While full")} == acknowledged
    with runtime.db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA integrity_check").scalar_one() == "ok"
