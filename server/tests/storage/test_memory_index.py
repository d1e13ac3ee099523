"""The search indexes (``storage/index``) on SQLite and PostgreSQL.

- Filters apply inside the query, also on the approximate paths (sign-bit prefilter on
  SQLite, HNSW with iterative scan on PostgreSQL).
- A worker's in-memory index sees every other worker's writes (the per-owner generation).
- The keyword index, and the whole database, hold no plaintext of a memory.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect, select, text

from memoryos_server.services.container import Services
from memoryos_server.services.memory import MemoryOwner, MemoryService
from memoryos_server.storage.index import SearchFilter, build_search_index, state
from memoryos_server.storage.index.scoring import affordable_terms
from memoryos_server.storage.models import EMBEDDING_DIM, TenantMemoryTerm
from memoryos_server.storage.repositories.memories import TENANT
from memoryos_server.storage.types import utcnow
from tests.fixtures import databases
from tests.fixtures.memory import ACTOR, add, contents, make_end_user, make_passport_user, retrieve, scope_of
from tests.fixtures.rawfiles import raw_bytes

SECRET_WORDS = ("zanzibar", "quokka", "marmalade")


@pytest.fixture
def services(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


def _second_worker(services: Services) -> MemoryService:
    """Another worker process, as far as caches go: its own index over the same database."""
    return MemoryService(services.runtime)


def _ids(services: Services, memory: MemoryService, owner: MemoryOwner, query: str, **options: object) -> list[str]:
    with services.runtime.db.session(write=False) as session:
        outcome = memory.retrieve(session, scope_of(owner), query=query, **options)  # type: ignore[arg-type]
    return [m.id for m in outcome.memories]


def test_a_second_worker_sees_adds_edits_archives_and_deletes(services: Services) -> None:
    owner = make_end_user(services)
    other = _second_worker(services)
    first = add(services, owner, "I love hiking").results[0].id
    assert _ids(services, other, owner, "hiking") == [first]  # loads the owner

    second = add(services, owner, "I am allergic to peanuts").results[0].id
    assert _ids(services, other, owner, "peanuts allergy")[0] == second  # a newer generation: delta

    with services.runtime.db.session() as session:
        services.memory.update(session, scope_of(owner), second, category="preference")
    assert _ids(services, other, owner, "peanuts", categories=["fact"]) == []
    assert second in _ids(services, other, owner, "peanuts", categories=["preference"])

    with services.runtime.db.session() as session:
        services.memory.delete(session, scope_of(owner), second)
    assert second not in _ids(services, other, owner, "peanuts")

    with services.runtime.db.session() as session:
        services.memory.delete(session, scope_of(owner), first, hard=True)
    assert _ids(services, other, owner, "hiking") == []  # a purge: reloaded


def _keyword(services: Services, memory: MemoryService, owner: MemoryOwner, query: str) -> list[tuple[str, float]]:
    with services.runtime.db.session(write=False) as session:
        terms = memory.codec(owner).query_terms(query)
        hits = memory.index.keyword(session, owner.family, owner.search_filter(), terms, 20).hits
    return [(memory_id, round(score, 6)) for memory_id, score in hits]


def test_keyword_search_in_a_warm_worker_follows_rewrites_and_deletes(services: Services) -> None:
    owner = make_end_user(services)
    warm = _second_worker(services)
    hiking = add(services, owner, "I love hiking in the mountains", infer=False).results[0].id
    lisbon = add(services, owner, "My sister lives in Lisbon", infer=False).results[0].id
    add(services, owner, "I play the cello on weekends", infer=False)
    assert [m for m, _ in _keyword(services, warm, owner, "hiking mountains")] == [hiking]  # loads the owner

    with services.runtime.db.session() as session:
        services.memory.update(session, scope_of(owner), hiking, content="I love sailing on the lake")
    assert _keyword(services, warm, owner, "hiking mountains") == []  # the old words no longer count
    assert [m for m, _ in _keyword(services, warm, owner, "sailing lake")] == [hiking]

    with services.runtime.db.session() as session:
        services.memory.delete(session, scope_of(owner), lisbon)
    assert _keyword(services, warm, owner, "sister Lisbon") == []
    added = [add(services, owner, f"Visited museum number {i} in Porto", infer=False).results[0].id for i in range(5)]
    # The warm worker answers what a worker starting now would, scores included.
    for query in ("sailing lake", "museum Porto", "cello weekends", "Lisbon sister museum", "number 3"):
        assert _keyword(services, warm, owner, query) == _keyword(services, _second_worker(services), owner, query)
    assert {m for m, _ in _keyword(services, warm, owner, "museum Porto")} == set(added)


def test_a_warm_worker_reads_many_new_rows_postings_in_chunks(services: Services) -> None:
    owner = make_end_user(services)
    warm = _second_worker(services)
    first = add(services, owner, "I keep bees in the garden", infer=False).results[0].id
    assert [m for m, _ in _keyword(services, warm, owner, "bees garden")] == [first]
    ids = _store_vectors(services, owner, _vectors(700, seed=5), ["fact"] * 700)  # "synthetic 0" … "synthetic 699"
    for query in ("synthetic 699", "synthetic 1", "bees synthetic 350"):
        assert _keyword(services, warm, owner, query) == _keyword(services, _second_worker(services), owner, query)
    assert _keyword(services, warm, owner, "699")[0][0] == ids[699]


def test_a_rolled_back_write_never_reaches_a_cache(services: Services) -> None:
    owner = make_end_user(services)
    kept = add(services, owner, "I love hiking").results[0].id
    with pytest.raises(RuntimeError):
        with services.runtime.db.session() as session:
            from memoryos_server.engine.types import ChatMessage

            services.memory.add(session, scope_of(owner), messages=[ChatMessage("user", "I love sailing")])
            # The same session searches after writing: it must not teach the shared cache.
            services.memory.retrieve(session, scope_of(owner), query="sailing")
            raise RuntimeError("roll back")
    assert _ids(services, services.memory, owner, "sailing hiking") == [kept]
    chess = add(services, owner, "I enjoy chess").results[0].id  # takes the rolled-back generation
    assert set(_ids(services, services.memory, owner, "sailing hiking chess")) == {kept, chess}
    assert "Loves sailing" not in contents(retrieve(services, owner, "sailing"))


def _vectors(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((12, EMBEDDING_DIM)).astype(np.float32)
    vectors = centers[rng.integers(0, 12, n)] + 0.6 * rng.standard_normal((n, EMBEDDING_DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _store_vectors(services: Services, owner: MemoryOwner, vectors: np.ndarray, categories: list[str]) -> list[str]:
    """The rows, written as an add writes them; on PostgreSQL also put into the HNSW graph, as
    the worker does once an owner outgrows exact search (the tests lower that size)."""
    from memoryos_server.services.memory.writer import MemoryWriter
    from memoryos_server.storage.index import graph

    ids = []
    with services.runtime.db.session() as session:
        writer = MemoryWriter(session, owner, services.memory.codec(owner), now=utcnow())
        for i, (vector, category) in enumerate(zip(vectors, categories, strict=True)):
            row = writer.insert(
                content=f"synthetic {i}",
                category=category,
                importance=5,
                confidence=1,
                vector=vector,
                event="ADD",
                actor=ACTOR,
            )
            ids.append(row.id)
        writer.finish()
    if not services.runtime.db.is_sqlite:
        graph.build_owner(services.runtime.db, owner.family, owner.id)
    return ids


def test_approximate_paths_keep_filters_and_find_the_nearest(
    services: Services, test_database: databases.TestDatabase
) -> None:
    owner = make_end_user(services)
    n = 600
    vectors = _vectors(n, seed=7)
    categories = ["fact" if i % 5 == 0 else "preference" for i in range(n)]
    ids = _store_vectors(services, owner, vectors, categories)
    # Thresholds low enough that 600 rows take the approximate path of each backend.
    if test_database.backend == "sqlite":
        from memoryos_server.storage.index.sqlite import SQLiteSearchIndex

        index = SQLiteSearchIndex(dim=EMBEDDING_DIM, exact_rows=16, coarse_candidates=64)
    else:
        from memoryos_server.storage.index.postgres import PostgresSearchIndex

        index = PostgresSearchIndex(dim=EMBEDDING_DIM, exact_rows=0)
    queries = _vectors(20, seed=8)
    where = owner.search_filter(categories=["fact"])
    with services.runtime.db.session(write=False) as session:
        results = index.dense(session, TENANT, where, queries, 10)
    fact_rows = [i for i, c in enumerate(categories) if c == "fact"]
    recall = []
    for query, hits in zip(queries, results, strict=True):
        assert len(hits) == 10  # the filter is applied while searching, not after
        assert all(categories[ids.index(memory_id)] == "fact" for memory_id, _ in hits)
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        exact = sorted(fact_rows, key=lambda r: -float(vectors[r] @ query))[:10]
        recall.append(len({ids[r] for r in exact} & {m for m, _ in hits}) / 10)
    assert np.mean(recall) >= 0.9


def test_a_rare_category_of_a_large_owner_is_searched_exactly(
    services: Services, test_database: databases.TestDatabase
) -> None:
    """PostgreSQL: an owner past ``exact_rows`` whose filter admits few rows skips the HNSW walk
    (which would pass over every row the filter rejects) and scores those rows exactly."""
    if test_database.backend != "postgresql":
        pytest.skip("the HNSW path is PostgreSQL's")
    from memoryos_server.storage.index.postgres import PostgresSearchIndex

    owner = make_end_user(services)
    n = 400
    vectors = _vectors(n, seed=11)
    categories = ["goal" if i % 50 == 0 else "fact" for i in range(n)]  # 8 goals
    ids = _store_vectors(services, owner, vectors, categories)
    index = PostgresSearchIndex(dim=EMBEDDING_DIM, exact_rows=50)
    statements: list[str] = []
    queries = _vectors(5, seed=12)
    with services.runtime.db.session(write=False) as session:
        from sqlalchemy import event

        def note(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
            statements.append(statement)

        event.listen(session.get_bind(), "before_cursor_execute", note)
        try:
            rare = index.dense(session, TENANT, owner.search_filter(categories=["goal"]), queries, 5)
            rare_statements = len(statements)
            common = index.dense(session, TENANT, owner.search_filter(categories=["fact"]), queries[:1], 5)
        finally:
            event.remove(session.get_bind(), "before_cursor_execute", note)
    goals = [i for i, c in enumerate(categories) if c == "goal"]
    for query, hits in zip(queries, rare, strict=True):
        exact = sorted(goals, key=lambda r: -float(vectors[r] @ query))[:5]
        assert [m for m, _ in hits] == [ids[r] for r in exact]  # exactly the nearest, in order
    assert len(common[0]) == 5 and all(categories[ids.index(m)] == "fact" for m, _ in common[0])
    # Only the common category walked the graph (its HNSW settings are set for the statement).
    assert not any("set_config" in s for s in statements[:rare_statements])
    assert any("set_config" in s for s in statements[rare_statements:])


def test_a_prepared_search_walks_the_graph_in_two_statements_and_puts_the_planner_back(
    services: Services, test_database: databases.TestDatabase
) -> None:
    """PostgreSQL: ``prepare`` reads the owner's state and sets the graph walk in one statement;
    the dense read is then one statement, and ``enable_sort`` is on again after it, whether it
    found rows, scored a rare category exactly, or found nothing at all."""
    if test_database.backend != "postgresql":
        pytest.skip("the HNSW path is PostgreSQL's")
    from sqlalchemy import event

    from memoryos_server.storage.index.postgres import PostgresSearchIndex

    owner = make_end_user(services)
    n = 400
    vectors = _vectors(n, seed=21)
    categories = ["goal" if i % 50 == 0 else "fact" for i in range(n)]
    ids = _store_vectors(services, owner, vectors, categories)
    index = PostgresSearchIndex(dim=EMBEDDING_DIM, exact_rows=50)
    query = _vectors(1, seed=22)[0]
    exact = [ids[r] for r in sorted(range(n), key=lambda r: -float(vectors[r] @ query))[:10]]
    cases = {
        "all": owner.search_filter(),
        "a rare category": owner.search_filter(categories=["goal"]),
        "nothing": owner.search_filter(created_since=utcnow() + timedelta(days=1)),
    }
    for name, where in cases.items():
        statements: list[str] = []
        with services.runtime.db.session(write=False) as session:

            def note(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
                statements.append(statement)

            event.listen(session.get_bind(), "before_cursor_execute", note)
            try:
                index.prepare(session, TENANT, where, 10)
                hits, _ = index.dense_and_similarities(session, TENANT, where, query, 10, [])
                # Statements on the memory tables (not the version, asked once, nor a pool's ping).
                walked = len([s for s in statements if "memor" in s and "pg_extension" not in s])
            finally:
                event.remove(session.get_bind(), "before_cursor_execute", note)
            assert session.execute(text("SHOW enable_sort")).scalar() == "on", name
        if name == "all":
            assert walked == 2  # the state with the walk's settings, then the graph walk itself
            assert len(set(m for m, _ in hits) & set(exact)) >= 9  # approximate, but near
        elif name == "a rare category":
            assert {categories[ids.index(m)] for m, _ in hits} == {"goal"} and len(hits) == 8
        else:
            assert hits == []


def test_the_graph_walk_is_served_by_the_half_precision_hnsw_index(
    services: Services, test_database: databases.TestDatabase
) -> None:
    """PostgreSQL: the dense statement of a large owner is planned on the HNSW index (migration
    0014 builds it over ``embedding::halfvec``; an expression that no longer matches it would
    still return right answers, from a sort of every row)."""
    if test_database.backend != "postgresql":
        pytest.skip("the HNSW path is PostgreSQL's")
    from memoryos_server.storage.index.postgres import PostgresSearchIndex, condition_values

    owner = make_end_user(services)
    _store_vectors(services, owner, _vectors(200, seed=31), ["fact"] * 200)
    index = PostgresSearchIndex(dim=EMBEDDING_DIM, exact_rows=50)
    where = owner.search_filter()
    with services.runtime.db.session(write=False) as session:
        index._tune_hnsw(session, 10)
        compiled = index._nearest_and_also(TENANT, where, exact=False, also=False, reset=False).compile(
            dialect=session.get_bind().dialect
        )
        values = {**compiled.params, **condition_values(TENANT, where), "k": 10, "vector": _vectors(1, seed=32)[0]}
        plan = "\n".join(row[0] for row in session.connection().exec_driver_sql(f"EXPLAIN {compiled}", values))
    assert "ix_memories_embedding_hnsw" in plan, plan
    assert "Sort" not in plan, plan


def test_keyword_search_ranks_by_bm25_over_hashed_terms(services: Services) -> None:
    owner = make_end_user(services)
    add(
        services,
        owner,
        "My cat Zanzibar sleeps all day",
        "Coffee every morning before work",
        "Works from home on Fridays",
        infer=False,
    )
    index = services.memory.index
    codec = services.memory.codec(owner)
    with services.runtime.db.session(write=False) as session:
        hits = index.keyword(session, TENANT, owner.search_filter(), codec.query_terms("zanzibar"), 5).hits
        stats = state.read(session, TENANT, owner.id)
    assert len(hits) == 1 and hits[0][1] > 0
    assert stats.doc_count == 3 and stats.total_terms > 0


def test_the_keyword_read_says_which_probed_terms_a_readable_memory_holds(services: Services) -> None:
    owner = make_end_user(services)
    add(services, owner, "My cat Zanzibar sleeps all day", "Coffee every morning before work", infer=False)
    quokka = add(services, owner, "A quokka visits the garden", infer=False).results[0].id
    with services.runtime.db.session() as session:
        services.memory.update(session, scope_of(owner), quokka, category="preference")
    index = services.memory.index
    codec = services.memory.codec(owner)
    probe = codec.term_keys(["zanzibar", "quokka", "whitfield", "coffe"])
    with services.runtime.db.session(write=False) as session:
        hits, _window, present = index.keyword(
            session, TENANT, owner.search_filter(), codec.query_terms("zanzibar"), 5, probe=probe
        )
        facts_only = index.keyword(
            session, TENANT, owner.search_filter(categories=["fact"]), codec.query_terms("zanzibar"), 5, probe=probe
        ).present
        plain = index.keyword(session, TENANT, owner.search_filter(), codec.query_terms("zanzibar"), 5).hits
    assert hits == plain and len(hits) == 1
    assert present == {probe[0], probe[1], probe[3]}  # probed terms need not be query terms
    assert facts_only == {probe[0], probe[3]}  # a memory the filter leaves out does not count


def test_affordable_terms_skip_what_everyone_has() -> None:
    assert affordable_terms({1: 3, 2: 900, 3: 40}, doc_count=1000) == [1, 3]  # 900 > half
    assert affordable_terms({2: 900}, doc_count=1000) == [2]  # alone, even a common term counts
    assert affordable_terms({1: 30_000}, doc_count=100_000) == []  # past the postings budget


def test_the_keyword_index_and_the_database_hold_no_plaintext(
    services: Services, test_database: databases.TestDatabase
) -> None:
    owner, passport = make_end_user(services), make_passport_user(services)
    sentence = "My pet quokka eats marmalade in Zanzibar"
    for who in (owner, passport):
        add(services, who, sentence, infer=False, metadata={"note": "quokka marmalade"})
        assert retrieve(services, who, "quokka").memories  # searchable all the same
    with services.runtime.db.session(write=False) as session:
        terms = session.execute(
            select(TenantMemoryTerm.term, TenantMemoryTerm.tf).where(TenantMemoryTerm.owner_id == owner.id)
        ).all()
        assert terms and all(isinstance(term, int) and isinstance(tf, int) for term, tf in terms)
        # Keyed per owner: the hash of a word is neither a plain digest nor another owner's.
        plain = int.from_bytes(hashlib.sha256(b"quokka").digest()[:8], "big") >> 1
        assert plain not in {t for t, _ in terms}
        codec_a, codec_b = services.memory.codec(owner), services.memory.codec(passport)
        assert codec_a.query_terms("quokka") != codec_b.query_terms("quokka")
        dump = _every_value(session)
    for word in SECRET_WORDS:
        for value in dump:
            assert word.encode() not in value.lower(), f"{word!r} stored in clear"
    if test_database.backend == "sqlite":
        path = Path(services.runtime.db.engine.url.database or "")
        raw = raw_bytes(path)
        for word in SECRET_WORDS:
            assert word.encode() not in raw.lower()


def _every_value(session) -> list[bytes]:  # type: ignore[no-untyped-def]
    """Every stored value of every table, as bytes (text, blobs, JSON, vectors alike)."""
    values: list[bytes] = []
    connection = session.connection()
    for table in inspect(connection).get_table_names():
        if table == "alembic_version":
            continue
        for row in connection.execute(text(f'SELECT * FROM "{table}"')):
            for value in row:
                if isinstance(value, (bytes, bytearray, memoryview)):
                    values.append(bytes(value))
                elif value is not None:
                    values.append(str(value).encode())
    return values


def test_search_filter_categories_are_normalised() -> None:
    where = SearchFilter.for_owner(1, "usr_x", categories=["goal", "fact", "goal"])
    assert where.categories == ("fact", "goal")
    assert SearchFilter.for_owner(1, "usr_x", categories=[]).categories is None


def test_each_backend_builds_its_index() -> None:
    assert type(build_search_index("sqlite", dim=8)).__name__ == "SQLiteSearchIndex"
    assert type(build_search_index("postgresql", dim=8)).__name__ == "PostgresSearchIndex"
    with pytest.raises(ValueError):
        build_search_index("oracle", dim=8)


def test_a_period_window_takes_the_keyword_hits_said_in_it(services: Services) -> None:
    """``keyword(..., spans, window_k)``: a memory's moment is its ``valid_at`` (a message's
    ``occurred_at``), else when it was stored."""
    from memoryos_server.services.memory.writer import MemoryWriter

    owner = make_end_user(services)
    march = datetime(2024, 3, 14, 18, 0, tzinfo=UTC)
    said = {"in march": march, "in may": datetime(2024, 5, 2, tzinfo=UTC), "undated": None}
    vectors = _vectors(len(said), seed=5)
    ids: dict[str, str] = {}
    with services.runtime.db.session() as session:
        writer = MemoryWriter(session, owner, services.memory.codec(owner), now=utcnow())
        for (name, moment), vector in zip(said.items(), vectors, strict=True):
            row = writer.insert(
                content=f"hiking trip {name}", category="fact", importance=5, confidence=1, vector=vector,
                event="ADD", actor=ACTOR, valid_at=moment,
            )
            ids[name] = row.id
        writer.finish()

    march_window = [(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))]
    today = utcnow()
    today_window = [(today - timedelta(hours=1), today + timedelta(hours=1))]
    memory = services.memory
    terms = memory.codec(owner).query_terms("hiking trip")
    with services.runtime.db.session(write=False) as session:
        hits, in_window, _present = memory.index.keyword(session, owner.family, owner.search_filter(), terms, 10, march_window, 10)
        assert {m for m, _ in hits} == set(ids.values())
        assert [m for m, _ in in_window] == [ids["in march"]]
        assert dict(in_window)[ids["in march"]] == dict(hits)[ids["in march"]]  # the same score
        today_hits = memory.index.keyword(session, owner.family, owner.search_filter(), terms, 10, today_window, 10)
        assert [m for m, _ in today_hits.window] == [ids["undated"]]  # stored now, no date of its own
        # No span, or no room: no window hits.
        assert memory.index.keyword(session, owner.family, owner.search_filter(), terms, 10, [], 10).window == []
        assert memory.index.keyword(session, owner.family, owner.search_filter(), terms, 10, march_window, 0).window == []