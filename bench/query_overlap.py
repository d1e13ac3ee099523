"""A search's query embedding started early, and a question asked again: in-process search latency.

    .venv/bin/python bench/query_overlap.py [--sizes 1000,10000] [--backends sqlite,postgresql] [--queries 600]

One end-user's memories (bench/perf.py's synthetic texts and its on-disk vectors, loaded as
perf.py loads them); then each query searched one at a time, in process, as the retrieve route
runs it, three ways interleaved query by query (so the machine's drift touches all three alike):

- **early** (what the routes do): the query's embedding started before the end-user is looked up
  and the session opened (``QueryVectors.start``), the search waiting for it at its dense read;
- **inline** (the baseline, what the routes did before): the search embeds the query when its
  dense read needs it;
- **asked again**: a query its asker asked before (the remembered vector; the embedding skipped).

Every early and inline query is new to the process (the remembered vectors are dropped between
them). Prints markdown (``bench/run_all.py`` wraps it in its section).
"""

from __future__ import annotations

import argparse
import sys
import time

import synthetic
from common import LoadGuard, ms, percentile
from perf import HnswParked, bulk_insert, embed_all
from stack import open_stack, postgres_problem

from memoryos_server.services.permissions import Permission
from memoryos_server.storage.index import graph
from memoryos_server.storage.repositories.memories import TENANT

WARM = 60


def measure(backend: str, size: int, queries: list[str], guard: LoadGuard) -> str:
    stack = open_stack(backend, label="overlap")
    try:
        texts = synthetic.memory_texts(size)
        vectors, _origin = embed_all(stack, texts, superset=synthetic.memory_texts(100_000))
        with HnswParked(stack):
            bulk_insert(stack, "user-0", texts, vectors)
            if backend == "postgresql":
                with stack.runtime.db.session() as session:
                    graph.graph_large_owners(session, TENANT)
        memory = stack.services.memory

        def inline(query: str) -> object:
            with stack.runtime.db.session(write=False) as session:
                scope = stack.services.scopes.end_user(session, stack.principal, "user-0", permission=Permission.MEMORY_READ)
                return memory.retrieve(session, scope, query=query, limit=10)

        def early(query: str) -> object:
            return stack.retrieve("user-0", query)  # as the route: the vector started first

        for query in queries[:WARM]:
            early(query)
            inline(query)
        times: dict[str, list[float]] = {"early": [], "inline": [], "asked again": []}
        timed = queries[WARM:]
        guard.settle(f"{backend} {size}")
        for i, query in enumerate(timed):
            memory.query_vectors.forget()
            # The order alternates in pairs, so neither way always follows the other.
            ways = ("early", "inline") if (i // 2) % 2 == 0 else ("inline", "early")
            for way in ways:
                started = time.perf_counter()
                (early if way == "early" else inline)(query)
                times[way].append(time.perf_counter() - started)
            started = time.perf_counter()
            early(query)  # the same asker, the same words: its remembered vector
            times["asked again"].append(time.perf_counter() - started)
    finally:
        stack.close()
    base50, base95 = percentile(times["inline"], 50), percentile(times["inline"], 95)
    rows = []
    for way in ("inline", "early", "asked again"):
        p50, p95 = percentile(times[way], 50), percentile(times[way], 95)
        rows.append(f"| {backend} | {size:,} | {way} | {ms(p50)} | {ms(p95)} | {p50 / base50:.2f}× / {p95 / base95:.2f}× |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000", help="memories of the one end-user, comma-separated")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--queries", type=int, default=600, help="timed queries per size (each three ways)")
    parser.add_argument("--max-wait", type=float, default=45, help="seconds to wait for a quiet machine per section")
    args = parser.parse_args(argv)
    backends = args.backends.split(",")
    if "postgresql" in backends and (problem := postgres_problem()):
        print(f"skipping postgresql: {problem}", file=sys.stderr)
        backends.remove("postgresql")
    queries = synthetic.queries(WARM + args.queries, seed=23)
    guard = LoadGuard(max_wait=args.max_wait, budget=8 * args.max_wait)
    rows = []
    for backend in backends:
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append(measure(backend, size, queries, guard))
            print(rows[-1], file=sys.stderr, flush=True)
    print(f"{args.queries} synthetic questions per size (bench/synthetic.py), top 10, one at a time, in process "
          "(`MemoryService.retrieve` in a read session after the end-user lookup, as the route runs it), the three "
          "ways interleaved query by query. Inline: the search embeds its query when its dense read needs it (the "
          "baseline, as before); early: the embedding started before the end-user lookup and the session "
          "(QueryVectors, what the routes do now); asked again: the same asker's question a second time (its "
          "remembered vector). Ratios against inline in the same run.\n")
    print("| backend | memories | query vector | p50 | p95 | ÷ inline p50 / p95 |")
    print("|---|---:|---|---:|---:|---:|")
    print("\n".join(rows))
    print(f"\nLoad: {guard.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
