"""Revision 0015_postings_layout on a database that already holds postings: every posting stays,
a deleted memory still takes its postings with it, and one index by owner then memory replaces
the one by term and the redundant one on ``memory_id`` (on SQLite the table is stored by its
key). Going back restores the old layout with the same postings. SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect, text

from memoryos_server.storage.db import Database
from memoryos_server.storage.migrate import current_revision, downgrade, upgrade
from memoryos_server.storage.types import utcnow
from tests.storage.owners import insert_memories

POSTINGS = {
    "memory_terms": [("m-1", 11, 2, 1), ("m-1", 12, 1, 1), ("m-2", 11, 1, 1), ("m-2", -13, 3, 1)],
    "universal_memory_terms": [("u-1", 21, 1, 1), ("u-1", 22, 2, 1)],
}


def _postings(database: Database, table: str) -> set[tuple[str, int, int, int]]:
    with database.engine.connect() as connection:
        rows = connection.execute(text(f"SELECT memory_id, term, tf, owner_id FROM {table}")).all()
    return {tuple(row) for row in rows}  # type: ignore[misc]


def _indexes(database: Database, table: str) -> set[str]:
    with database.engine.connect() as connection:
        return {index["name"] for index in inspect(connection).get_indexes(table) if index["name"]}


def _seed(database: Database) -> None:
    now = utcnow()
    with database.engine.begin() as connection:
        insert_memories(connection, now)
        for table, rows in POSTINGS.items():
            for memory_id, term, tf, owner in rows:
                connection.execute(
                    text(f"INSERT INTO {table} (memory_id, term, tf, owner_id) VALUES (:m, :t, :f, :o)"),
                    {"m": memory_id, "t": term, "f": tf, "o": owner},
                )


def test_postings_keep_through_the_new_layout_and_back(empty_database: Database) -> None:
    upgrade(empty_database, "0014_hnsw_halfvec")
    _seed(empty_database)

    upgrade(empty_database, "0015_postings_layout")
    assert current_revision(empty_database) == "0015_postings_layout"
    for table, rows in POSTINGS.items():
        assert _postings(empty_database, table) == set(rows)
        assert _indexes(empty_database, table) == {f"ix_{table}_owner_memory"}
    if empty_database.is_sqlite:
        with empty_database.engine.connect() as connection:
            definition = connection.execute(text("SELECT sql FROM sqlite_master WHERE name = 'memory_terms'")).scalar_one()
            assert "WITHOUT ROWID" in definition
            # What the in-memory postings read after a change: found through an index, not a scan.
            plan = " ".join(str(row[-1]) for row in connection.execute(text(
                "EXPLAIN QUERY PLAN SELECT memory_id, term, tf FROM memory_terms WHERE owner_id = 1 AND memory_id IN ('m-1', 'm-2')"
            )))
            assert "USING" in plan and "SCAN memory_terms" not in plan, plan

    # The foreign key still cascades: a memory deleted for good takes its postings.
    with empty_database.engine.begin() as connection:
        if empty_database.is_sqlite:
            connection.execute(text("PRAGMA foreign_keys = ON"))
        connection.execute(text("DELETE FROM memories WHERE id = 'm-2'"))
    assert _postings(empty_database, "memory_terms") == {row for row in POSTINGS["memory_terms"] if row[0] == "m-1"}

    downgrade(empty_database, "0014_hnsw_halfvec")
    assert _postings(empty_database, "memory_terms") == {row for row in POSTINGS["memory_terms"] if row[0] == "m-1"}
    assert _postings(empty_database, "universal_memory_terms") == set(POSTINGS["universal_memory_terms"])
    for table in POSTINGS:
        assert {f"ix_{table}_memory", f"ix_{table}_owner_term"} <= _indexes(empty_database, table)
    if empty_database.is_sqlite:
        with empty_database.engine.connect() as connection:
            definition = connection.execute(text("SELECT sql FROM sqlite_master WHERE name = 'memory_terms'")).scalar_one()
            assert "WITHOUT ROWID" not in definition
