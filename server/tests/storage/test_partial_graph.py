"""PostgreSQL's HNSW graph holds the memories of owners large enough to be searched through it
(storage/index/graph.py): a small owner's rows stay out of it, an owner that grows past the size
searched exactly has its rows put in by the background worker once the write that took it there
has committed, its later rows go in as they are written, and an owner left waiting (a request
lost with its process) is found again. Searches stay right throughout. On SQLite nothing of it
happens. The size is lowered here from 5,000 to a few dozen."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select

from memoryos_server.services.container import Services
from memoryos_server.services.memory import MemoryOwner
from memoryos_server.storage.index import graph, state
from memoryos_server.storage.models import User
from memoryos_server.storage.repositories.memories import TENANT, UNIVERSAL
from tests.fixtures import databases
from tests.fixtures.memory import add, contents, make_end_user, retrieve

SMALL = 30  # the lowered size past which an owner's rows go into the graph
FAMILIES = (TENANT, UNIVERSAL)


@pytest.fixture
def services(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


@pytest.fixture
def small_graphs(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    """Owners past SMALL memories go into the graph, and past SMALL - 10 are searched through it."""
    monkeypatch.setattr(graph, "GRAPH_FROM", SMALL)
    monkeypatch.setattr(services.memory.index, "exact_rows", SMALL - 10, raising=False)


def _add_many(services: Services, owner: MemoryOwner, start: int, count: int) -> None:
    add(services, owner, *(f"Note number {n}: the locker code is {1000 + n}" for n in range(start, start + count)), infer=False)


def _graphed(services: Services, owner: MemoryOwner) -> tuple[bool, int, int]:
    """The owner's state (``graphed``), its rows in the graph, and all its rows."""
    model = TENANT.memory
    with services.runtime.db.session(write=False) as session:
        built = state.read(session, TENANT, owner.id).graphed
        rows = session.execute(
            select(func.count().filter(model.graphed.is_(True)), func.count()).where(model.owner_id == owner.id)
        ).one()
    return built, int(rows[0]), int(rows[1])


def _wait_until_built(services: Services, owner: MemoryOwner, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not _graphed(services, owner)[0]:
        assert time.monotonic() < deadline, "the worker did not build the owner's graph"
        time.sleep(0.05)


def test_an_owner_enters_the_graph_once_it_outgrows_exact_search(
    services: Services, test_database: databases.TestDatabase, small_graphs: None
) -> None:
    owner = make_end_user(services)
    _add_many(services, owner, 0, SMALL - 5)
    assert _graphed(services, owner) == (False, 0, SMALL - 5)  # searched exactly: not in the graph
    assert "Note number 3: the locker code is 1003" in contents(retrieve(services, owner, "locker code 1003"))

    _add_many(services, owner, SMALL - 5, 10)  # past SMALL: the worker is asked once this commits
    if test_database.backend == "sqlite":
        time.sleep(0.5)  # the worker's poll is 50 ms: long enough for it to do something, were it to
        assert _graphed(services, owner) == (False, 0, SMALL + 5)  # SQLite's vectors live in worker memory
        return
    _wait_until_built(services, owner)
    assert _graphed(services, owner) == (True, SMALL + 5, SMALL + 5)

    _add_many(services, owner, SMALL + 5, 3)  # written straight into the graph: no request, no wait
    assert _graphed(services, owner) == (True, SMALL + 8, SMALL + 8)
    found = contents(retrieve(services, owner, "locker code 1036"))
    assert "Note number 36: the locker code is 1036" in found  # through the graph now


def test_an_owner_left_waiting_is_found_by_the_next_worker(
    services: Services, test_database: databases.TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the size while no request reached a worker (a process stopped between the commit and
    the build; here, the size lowered afterwards): a new process's sweep finds the owner. Until
    then its searches are exact, and right."""
    if test_database.backend != "postgresql":
        pytest.skip("the graph is PostgreSQL's")
    owner = make_end_user(services)
    _add_many(services, owner, 0, SMALL + 4)  # under the real size: no request
    monkeypatch.setattr(graph, "GRAPH_FROM", SMALL)
    monkeypatch.setattr(services.memory.index, "exact_rows", SMALL - 10, raising=False)
    assert _graphed(services, owner) == (False, 0, SMALL + 4)
    assert "Note number 7: the locker code is 1007" in contents(retrieve(services, owner, "locker code 1007"))

    db = services.runtime.db
    fresh = graph.GraphRequests()  # a new process's requests: none yet, a sweep to come
    assert fresh.pending(db)
    steps = 0
    while fresh.step(db, FAMILIES):
        steps += 1
    assert steps >= 2  # the sweep, then the owner's build (with others the suite left waiting)
    assert _graphed(services, owner) == (True, SMALL + 4, SMALL + 4)
    assert not fresh.pending(db)
    assert "Note number 7: the locker code is 1007" in contents(retrieve(services, owner, "locker code 1007"))


def test_a_build_in_chunks_leaves_out_no_row_written_meanwhile(
    services: Services, test_database: databases.TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows written between the build's chunks (their owner's graph not built yet, so written
    outside it) go in with the last pass, under the owner's lock."""
    if test_database.backend != "postgresql":
        pytest.skip("the graph is PostgreSQL's")
    owner = make_end_user(services)
    _add_many(services, owner, 0, 12)
    real_rows = graph._graph_rows
    limits: list[int | None] = []

    def rows_then_a_write(session, model, owner_id, *, limit):  # type: ignore[no-untyped-def]
        count = real_rows(session, model, owner_id, limit=limit)
        limits.append(limit)
        if len(limits) == 1:
            _add_many(services, owner, 12, 5)  # another writer, between two chunks
        return count

    monkeypatch.setattr(graph, "_graph_rows", rows_then_a_write)
    graph.build_owner(services.runtime.db, TENANT, owner.id, chunk=8)
    assert _graphed(services, owner) == (True, 17, 17)
    assert limits[-1] is None  # the last pass, under the lock, took whatever was left
    _add_many(services, owner, 17, 2)
    assert _graphed(services, owner) == (True, 19, 19)


def test_two_builders_of_one_owner_share_its_rows_and_both_finish(
    services: Services, test_database: databases.TestDatabase
) -> None:
    """Two server processes may both build an owner's graph. The second passes over the rows
    the first holds, its last pass waits for the first's chunk to commit (no deadlock), and
    every row ends up in the graph once."""
    if test_database.backend != "postgresql":
        pytest.skip("the graph is PostgreSQL's")
    owner = make_end_user(services)
    _add_many(services, owner, 0, 40)
    db = services.runtime.db
    holding, release, finished = threading.Event(), threading.Event(), threading.Event()

    def first_builder() -> None:  # a chunk of 8, held open as a slow builder elsewhere would
        with db.session() as session:
            assert graph._graph_rows(session, TENANT.memory, owner.id, limit=8) == 8
            holding.set()
            release.wait(20)

    def second_builder() -> None:
        graph.build_owner(db, TENANT, owner.id, chunk=10)
        finished.set()

    first = threading.Thread(target=first_builder, daemon=True)
    first.start()
    assert holding.wait(20)
    second = threading.Thread(target=second_builder, daemon=True)
    second.start()
    time.sleep(0.5)
    assert not finished.is_set()  # its last pass waits for the first builder's rows
    built, in_graph, rows = _graphed(services, owner)
    assert not built and in_graph == 32  # every row but the 8 held went in, in chunks
    release.set()
    first.join(20)
    assert finished.wait(20)
    assert _graphed(services, owner) == (True, 40, 40)


def test_an_owner_erased_while_waiting_is_dropped_and_holds_up_no_one(
    services: Services, test_database: databases.TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    if test_database.backend != "postgresql":
        pytest.skip("the graph is PostgreSQL's")
    monkeypatch.setattr(graph, "GRAPH_FROM", SMALL)
    db = services.runtime.db
    requests = graph.GraphRequests()
    requests.sweep(db, FAMILIES)  # what the suite left waiting, out of the way first
    while requests.step(db, FAMILIES):
        pass
    erased, kept = make_end_user(services), make_end_user(services)
    for owner in (erased, kept):
        _add_many(services, owner, 0, SMALL + 2)
        requests.want(graph.database_key(db.engine), TENANT, owner.id)
    with db.session() as session:  # the end-user goes, and its rows and state with it
        session.execute(delete(User).where(User.id == erased.id))
    steps = 0
    while requests.step(db, FAMILIES):
        steps += 1
        assert steps < 20
    assert _graphed(services, kept) == (True, SMALL + 2, SMALL + 2)
    assert not requests.pending(db)
