"""pgvector's HNSW graph parameters: the cost of inserting a vector, recall and query time.

    .venv/bin/python bench/hnsw.py [--rows 98000] [--graphs 16:64,8:100,8:100:half,8:64:half] [--queries 1000]

What an add pays on PostgreSQL for each memory it writes is, above all, inserting its vector
into the HNSW graph, inside the add's transaction. This measures that per graph shape (``m``
links a node, ``ef_construction``) on the vectors of bench/perf.py's synthetic memories (the
default MiniLM int8 embedder; its on-disk vector cache, made on first use), in a bare table of
``--rows`` rows in a throwaway database: the graph built over them (``maintenance_work_mem``
512 MB), then 640 more rows inserted 64 a transaction (the median per vector), then each query
vector (other memories' vectors) searched at ``ef_search`` 100, 150 and 200 and compared with an
exact scan: recall@10, and the statement's p50 / p95 through psycopg. A graph marked ``half`` is
built over the vectors cast to half precision (``embedding::halfvec(384)``, an expression
index; the table keeps single precision) and searched by that distance. The product's graph is
the row marked "in use" (storage/migrations 0012 and 0014; the walk width in
storage/index/postgres.py).
Prints markdown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any

import numpy as np
import synthetic
from psycopg import Cursor
from common import LoadGuard, percentile
from perf import embed_all
from pgvector.psycopg import register_vector
from stack import open_stack, postgres_problem

from memoryos_server.storage.index.postgres import EF_SEARCH

IN_USE = (8, 100)  # migrations 0012 (shape) and 0014 (half precision)
IN_USE_HALF = True  # migration 0014
POOL = 100_000  # bench/perf.py's largest size, whose vectors it caches
INSERTS, BATCH = 640, 64
WALKS = (100, 150, 200)


def measure(cur: Cursor[Any], base: np.ndarray, extra: np.ndarray, queries: np.ndarray, exact: list[set[int]],
            m: int, construction: int, guard: LoadGuard, *, half: bool = False) -> list[str]:
    cur.execute("DROP TABLE IF EXISTS hnsw_bench")
    cur.execute("CREATE TABLE hnsw_bench (id int PRIMARY KEY, embedding vector(384))")
    with cur.copy("COPY hnsw_bench (id, embedding) FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(["int4", "vector"])
        for i, vector in enumerate(base):
            copy.write_row((i, vector))
    cur.execute("SET maintenance_work_mem = '512MB'")
    guard.settle(f"build m={m}")
    started = time.perf_counter()
    # half: the graph over the vectors cast to half precision (pgvector's halfvec), as an expression.
    indexed, ops = ("(embedding::halfvec(384))", "halfvec_cosine_ops") if half else ("embedding", "vector_cosine_ops")
    cur.execute(f"CREATE INDEX ON hnsw_bench USING hnsw ({indexed} {ops}) WITH (m = {m}, ef_construction = {construction})")
    build = time.perf_counter() - started
    guard.settle(f"insert m={m}")
    per_vector = []
    for start in range(0, INSERTS, BATCH):
        rows = [(len(base) + start + i, v) for i, v in enumerate(extra[start : start + BATCH])]
        began = time.perf_counter()
        cur.execute("BEGIN")
        cur.executemany("INSERT INTO hnsw_bench (id, embedding) VALUES (%s, %s)", rows)
        cur.execute("COMMIT")
        per_vector.append((time.perf_counter() - began) / len(rows))
    lines = []
    for walk in WALKS:
        cur.execute(f"SET hnsw.ef_search = {walk}")
        guard.settle(f"search m={m} ef={walk}")
        recalls, times = [], []
        for query, truth in zip(queries, exact, strict=True):
            began = time.perf_counter()
            cur.execute(f"SELECT id FROM hnsw_bench ORDER BY {indexed} <=> %s::vector(384){'::halfvec(384)' if half else ''} LIMIT 10", (query,))
            found = {row[0] for row in cur.fetchall()}
            times.append(time.perf_counter() - began)
            recalls.append(len(found & truth) / 10)
        mark = " (in use)" if (m, construction, walk, half) == (*IN_USE, EF_SEARCH, IN_USE_HALF) else ""
        lines.append(
            f"| {'half' if half else 'single'} | {m} | {construction} | {walk}{mark} | {statistics.median(per_vector) * 1e3:.2f} ms | {build:.1f} s "
            f"| {np.mean(recalls):.4f} | {statistics.median(times) * 1e3:.2f} ms | {percentile(times, 95) * 1e3:.2f} ms |"
        )
    cur.execute("DROP TABLE hnsw_bench")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=98_000, help="rows in the graph before the inserts")
    parser.add_argument("--graphs", default="16:64,8:100,8:100:half,8:64:half",
                        help="m:ef_construction[:half], comma-separated (half: the graph over halfvec casts)")
    parser.add_argument("--queries", type=int, default=1000, help="query vectors")
    parser.add_argument("--max-wait", type=float, default=60, help="seconds to wait for a quiet machine per section")
    args = parser.parse_args(argv)
    if problem := postgres_problem():
        print(f"skipping: {problem}", file=sys.stderr)
        return 0
    if args.rows + INSERTS + args.queries > POOL:
        parser.error(f"--rows + {INSERTS} + --queries must be at most {POOL:,}")
    graphs = [(int(item.split(":")[0]), int(item.split(":")[1]), item.endswith(":half")) for item in args.graphs.split(",")]
    stack = open_stack("postgresql", label="hnsw")
    guard = LoadGuard(max_wait=args.max_wait, budget=6 * args.max_wait)
    try:
        # bench/perf.py's texts: its on-disk vectors serve when present; else only these are embedded.
        texts = synthetic.memory_texts(args.rows + INSERTS + args.queries)
        vectors, origin = embed_all(stack, texts, superset=synthetic.memory_texts(POOL))
        order = np.random.default_rng(1).permutation(len(vectors))
        base = vectors[order[: args.rows]]
        extra = vectors[order[args.rows : args.rows + INSERTS]]
        queries = vectors[order[args.rows + INSERTS : args.rows + INSERTS + args.queries]]
        searched = np.vstack([base, extra])
        exact = [set(np.argsort(-(searched @ query))[:10].tolist()) for query in queries]
        connection = stack.runtime.db.engine.raw_connection()
        driver = connection.driver_connection
        driver.autocommit = True
        register_vector(driver)
        rows: list[str] = []
        with driver.cursor() as cursor:
            for m, construction, half in graphs:
                rows += measure(cursor, base, extra, queries, exact, m, construction, guard, half=half)
                print(rows[-1], file=sys.stderr, flush=True)
        connection.close()
        versions = stack.postgres_versions()
    finally:
        stack.close()
    print(f"{args.rows:,} MiniLM vectors of synthetic memories ({origin}); {INSERTS} more inserted {BATCH} a "
          f"transaction; {args.queries:,} query vectors, recall@10 against an exact scan of all {args.rows + INSERTS:,}. "
          f"{versions}.\n")
    print("| precision | m | ef_construction | ef_search | insert per vector | build | recall@10 | query p50 | query p95 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    print("\n".join(rows))
    print(f"\nLoad: {guard.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
