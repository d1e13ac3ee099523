"""Add throughput and search latency, in process and over HTTP, on SQLite and PostgreSQL.

    .venv/bin/python bench/perf.py [--sizes 1000,10000,100000] [--backends sqlite,postgresql]
                                   [--users 1000] [--queries 300] [--no-http] [--no-doc]

Data points, per backend, each in its own throwaway database:

- one end-user holding 1k, 10k and 100k memories (one database, topped up between sizes);
- the same sizes spread evenly over ``--users`` end-users (1,000 by default: 1, 10 and 100
  memories each; one database, topped up between sizes), each query searching one of them.

Memories are synthetic (bench/synthetic.py: templates × vocabularies, all distinct). Loading
100k through the full add path would spend most of its time on de-duplication against
near neighbours, so the bulk load embeds every text once with the default embedder (MiniLM
int8, the vectors the service itself would compute; cached on disk by text and model) and
inserts through the service's storage path, ``MemoryWriter`` (encrypted rows, versions,
keyword postings, index state), 1,000 rows a transaction. On PostgreSQL the HNSW index is
dropped for the load and rebuilt from its own definition afterwards, as a bulk load would.

At each data point, in this order:

1. search in process: ``MemoryService.retrieve`` (with the end-user's scope) in a read session, as the router calls
   it (everything but HTTP and authentication), the default embedder embedding every query;
2. the baseline, same queries: embed with the same embedder, then a brute-force numpy scan of
   the owner's vectors (one matrix product, top 10) — no filters, no keyword signal, no fusion,
   no database, no decryption;
3. over HTTP: a real uvicorn server in a child process on loopback, one httpx client with
   keep-alive, ``POST /v1/memories/retrieve`` then ``POST /v1/memories/add``;
4. add throughput in process: batches of 64 messages through ``MemoryService.add``,
   ``infer: false`` (embed + de-duplication + write) and with the default extractor.

Before each timed add (HTTP and in process), the embedder alone embeds a batch of 64 other fresh
texts, timed too: an add row's share of the embedder's rate compares the two measured side by
side, so a drift in the machine's speed during the run (runs on this machine have measured the
embedder anywhere from about 550 to 700 texts a second) moves both alike.

Searches: a warm pass first (models loaded, per-owner caches built), then every query once,
one at a time; p50/p95/p99 and QPS (queries over the wall time of the pass).
"""

from __future__ import annotations

import argparse
import functools
import gc
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import synthetic
from common import LoadGuard, command_line, ms, percentile, ratio, section_preamble, stamp, write_section
from phases import PhaseTimer, StatementTimer, add_targets, hottest, search_targets
from sqlalchemy import text
from stack import MAX_MESSAGES_PER_ADD, ROOT, Stack, open_stack, postgres_problem

from memoryos_server.services.memory.owner import MemoryOwner
from memoryos_server.services.memory.writer import MemoryWriter
from memoryos_server.storage.index import graph
from memoryos_server.storage.repositories.memories import TENANT, MemoryRepository
from memoryos_server.storage.types import utcnow

VECTOR_CACHE = ROOT / ".cache" / "bench-perf"
LOAD_ROWS_PER_TRANSACTION = 1000
TARGET_IN_PROCESS_P95 = 0.020
TARGET_HTTP_P95 = 0.030
TARGET_ADD_RATE = 500.0
# Verbatim adds should reach this share of the embedder's own batch throughput (issue 15).
TARGET_EMBEDDER_SHARE = 0.70
EMBEDDER_RATE_TEXTS = 1_280
# The embedder's own throughput on fresh texts in batches of 64, measured once per backend.
EMBEDDER_RATES: list[float] = []
TARGET_SIZE = 100_000
HNSW_BUILD_MEMORY = "1GB"


@dataclass
class SearchRun:
    latencies: list[float]
    wall: float
    load: str  # "load average / cores busy" at the start
    full_collections: list[float] = field(default_factory=list)  # seconds of each gen-2 GC during the pass

    @property
    def qps(self) -> float:
        return len(self.latencies) / self.wall if self.wall else float("nan")

    def p(self, q: float) -> float:
        return percentile(self.latencies, q)


@dataclass
class AddRun:
    path: str  # "in process" | "HTTP"
    mode: str  # "infer: false" | "default extractor"
    messages: int
    created: int
    latencies: list[float]
    load: str
    # The embedder alone on other fresh texts, one batch of 64 before each add (interleaved, so
    # a machine whose speed drifts during the run shifts both alike): seconds per batch.
    embed_latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        total = sum(self.latencies)
        return self.messages / total if total else float("nan")

    @property
    def embedder_rate(self) -> float:
        total = sum(self.embed_latencies)
        return MAX_MESSAGES_PER_ADD * len(self.embed_latencies) / total if total else float("nan")

    @property
    def share(self) -> float:
        return self.rate / self.embedder_rate


@dataclass
class Point:
    backend: str
    label: str  # "1 end-user" | "1,000 end-users"
    memories: int
    owners: int
    searches: dict[str, SearchRun] = field(default_factory=dict)  # in process, HTTP, baseline, embed only
    adds: list[AddRun] = field(default_factory=list)
    profiles: dict[str, str] = field(default_factory=dict)  # what was profiled → top functions


@dataclass
class LoadRun:
    backend: str
    label: str
    rows: int
    seconds: float
    index_seconds: float


# --- data ---------------------------------------------------------------------------------------


def embed_all(stack: Stack, texts: Sequence[str], *, superset: Sequence[str] | None = None) -> tuple[np.ndarray, str]:
    """Vectors for ``texts`` from the stack's embedder (cached on disk), and where they came from.
    ``superset``: a longer list starting with ``texts`` whose cached vectors may be sliced."""
    if superset is not None and list(superset[: len(texts)]) == list(texts):
        cached = _cache_paths(stack, superset)
        if cached[0].is_file() and cached[1].is_file():
            vectors, origin = embed_all(stack, superset)
            return vectors[: len(texts)], origin
    embedder = stack.runtime.embedder
    path, note = _cache_paths(stack, texts)
    if path.is_file() and note.is_file():
        made = json.loads(note.read_text())
        return np.load(path), (f"Vectors from the on-disk cache, computed {made['date']} by the same embedder in "
                               f"{made['seconds']:.0f} s ({len(texts) / made['seconds']:,.0f} texts/s)")
    started = time.perf_counter()
    parts = []
    for start in range(0, len(texts), 5000):
        parts.append(np.asarray(embedder.embed(list(texts[start : start + 5000])), dtype=np.float32))
        print(f"  embedded {start + len(parts[-1]):,}/{len(texts):,}", file=sys.stderr, flush=True)
    vectors = np.concatenate(parts)
    seconds = time.perf_counter() - started
    VECTOR_CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    note.write_text(json.dumps({"seconds": seconds, "date": stamp()}))
    return vectors, f"{len(texts):,} texts embedded in this run in {seconds:.0f} s ({len(texts) / seconds:,.0f} texts/s)"


def bare_embedder(stack: Stack) -> Any:
    """The stack's embedder without the caching wrappers in front of it (``inner``)."""
    embedder: Any = stack.runtime.embedder
    while hasattr(embedder, "inner"):
        embedder = embedder.inner
    return embedder


def _cache_paths(stack: Stack, texts: Sequence[str]) -> tuple[Path, Path]:
    embedder = bare_embedder(stack)  # a caching wrapper: the vectors are the inner model's
    model = getattr(embedder, "model_path", Path(embedder.name)).name
    batch = getattr(embedder, "batch_size", "?")
    digest = hashlib.sha256("\n".join([model, str(batch), *texts]).encode()).hexdigest()[:24]
    path = VECTOR_CACHE / f"vectors-{len(texts)}-{digest}.npy"
    return path, path.with_suffix(".json")


def owner_for(stack: Stack, session: Any, end_user: str) -> MemoryOwner:
    user = stack.services.identity.resolve_end_user(session, stack.principal, header_value=end_user, body_value=None)
    return MemoryOwner.end_user(user, tenant_id=stack.principal.tenant_id)


def bulk_insert(stack: Stack, end_user: str, texts: Sequence[str], vectors: np.ndarray) -> None:
    """Rows through the service's storage path (no extraction, no de-duplication)."""
    for start in range(0, len(texts), LOAD_ROWS_PER_TRANSACTION):
        end = start + LOAD_ROWS_PER_TRANSACTION
        bulk_insert_many(stack, [(end_user, texts[start:end], vectors[start:end])])


def bulk_insert_many(stack: Stack, parts: Sequence[tuple[str, Sequence[str], np.ndarray]]) -> None:
    """Several end-users' rows in one transaction, one ``MemoryWriter`` each."""
    memory = stack.services.memory
    with stack.runtime.db.session() as session:
        for end_user, texts, vectors in parts:
            owner = owner_for(stack, session, end_user)
            writer = MemoryWriter(session, owner, memory.codec(owner), now=utcnow())
            for content, vector in zip(texts, vectors, strict=True):
                writer.insert(content=content, category="fact", importance=5, confidence=1.0, vector=vector,
                              event="ADD", actor=stack.principal.actor)
            writer.finish()


class HnswParked:
    """On PostgreSQL, drop the HNSW indexes of the memory table for a bulk load, then rebuild them."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.definitions: list[tuple[str, str]] = []
        self.rebuild_seconds = 0.0

    def __enter__(self) -> HnswParked:
        if self.stack.backend == "postgresql":
            with self.stack.runtime.db.engine.begin() as connection:
                self.definitions = [
                    (name, definition) for name, definition in connection.execute(text(
                        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'memories' AND indexdef ILIKE '%USING hnsw%'"
                    ))
                ]
                for name, _ in self.definitions:
                    connection.execute(text(f'DROP INDEX "{name}"'))
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stack.backend != "postgresql":
            return
        started = time.perf_counter()
        with self.stack.runtime.db.session() as session:
            # Owners past the size searched exactly, marked as the server's worker leaves them
            # (storage/index/graph.py): their rows are the ones the partial graph holds.
            graph.graph_large_owners(session, TENANT)
        with self.stack.runtime.db.engine.begin() as connection:
            # Room for the whole graph in memory, as an operator would give a bulk build.
            connection.execute(text(f"SET LOCAL maintenance_work_mem = '{HNSW_BUILD_MEMORY}'"))
            for _name, definition in self.definitions:
                connection.execute(text(definition))
        with self.stack.runtime.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
        self.rebuild_seconds = time.perf_counter() - started


def active_count(stack: Stack, end_user: str) -> int:
    with stack.runtime.db.session() as session:
        owner = owner_for(stack, session, end_user)
        return MemoryRepository(session, owner.family).count_for_owner(owner.id, categories=None, statuses=("active",))


# --- measurements ---------------------------------------------------------------------------------


def timed_pass(call: Callable[[str, str], object], pairs: Sequence[tuple[str, str]]) -> tuple[list[float], float]:
    latencies = []
    started = time.perf_counter()
    for end_user, query in pairs:
        t0 = time.perf_counter()
        call(end_user, query)
        latencies.append(time.perf_counter() - t0)
    return latencies, time.perf_counter() - started


def measure_search(call: Callable[[str, str], object], pairs: Sequence[tuple[str, str]], guard: LoadGuard, label: str,
                   *, warm_pairs: Sequence[tuple[str, str]], forget: Callable[[], None] = lambda: None) -> SearchRun:
    """A warm pass over ``warm_pairs`` (other queries for the same end-users: models loaded,
    per-owner caches built, connections open), then ``pairs`` one by one. ``forget`` drops any
    cache of query vectors first, so no timed query is one the process has embedded before."""
    for end_user, query in warm_pairs:
        call(end_user, query)
    forget()
    load = guard.settle(label)
    with full_collections() as pauses:
        latencies, wall = timed_pass(call, pairs)
    return SearchRun(latencies, wall, load, pauses)


@contextmanager
def full_collections() -> Iterator[list[float]]:
    """The durations of the generation-2 garbage collections of this process while inside."""
    pauses: list[float] = []
    started: list[float] = []

    def note(phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            started.append(time.perf_counter())
        elif started:
            pauses.append(time.perf_counter() - started.pop())

    gc.callbacks.append(note)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(note)


def measure_adds(call: Callable[[str, list[str], bool], int], batches: Sequence[tuple[str, list[str]]], *, infer: bool,
                 path: str, guard: LoadGuard, label: str, probe: Callable[[], float]) -> AddRun:
    """Each add timed right after ``probe`` (the embedder alone on a batch of 64 other fresh texts)."""
    load = guard.settle(label)
    latencies, embeds, created = [], [], 0
    for end_user, texts in batches:
        embeds.append(probe())
        t0 = time.perf_counter()
        created += call(end_user, texts, infer)
        latencies.append(time.perf_counter() - t0)
    return AddRun(path, "infer: false" if not infer else "default extractor", sum(len(t) for _, t in batches), created,
                  latencies, load, embeds)


def embedder_probe(stack: Stack, work: Workload) -> Callable[[], float]:
    """Seconds the embedder alone (no cache in front) takes for the next 64 probe texts."""
    embedder = bare_embedder(stack)

    def probe() -> float:
        texts = work.take("probe", MAX_MESSAGES_PER_ADD)
        started = time.perf_counter()
        embedder.embed(texts)
        return time.perf_counter() - started

    return probe


def embedder_rate(stack: Stack, texts: Sequence[str], guard: LoadGuard) -> float:
    """Texts per second of the embedder alone (no cache in front), batches of 64 as the adds send."""
    embedder = bare_embedder(stack)
    guard.settle("embedder throughput")
    started = time.perf_counter()
    for start in range(0, len(texts), MAX_MESSAGES_PER_ADD):
        embedder.embed(list(texts[start : start + MAX_MESSAGES_PER_ADD]))
    return len(texts) / (time.perf_counter() - started)


def forget_query_vectors(stack: Stack) -> None:
    """Empty the remembered query vectors (``QueryVectors``) and the embedder's vector cache,
    if it keeps one (any wrapper with ``clear``)."""
    stack.services.memory.query_vectors.forget()
    embedder: Any = stack.runtime.embedder
    while embedder is not None:
        clear = getattr(embedder, "clear", None)
        if callable(clear):
            clear()
        embedder = getattr(embedder, "inner", None)


def profile_searches(stack: Stack, pairs: Sequence[tuple[str, str]]) -> str:
    index_class = type(stack.services.memory.index)
    calls = [functools.partial(stack.retrieve, u, q) for u, q in pairs]
    forget_query_vectors(stack)
    timer = PhaseTimer(search_targets(index_class)).run(calls)
    forget_query_vectors(stack)
    statements = StatementTimer(stack.runtime.db.engine)
    with statements.installed():
        for call in calls:
            call()
    forget_query_vectors(stack)
    hot = hottest(calls[: max(1, len(calls) // 2)], root=str(ROOT) + "/")
    return _profile_block(timer.table("query"), hot, statements.table(len(calls), "query") if _sql_timed(stack) else None)


def profile_adds(stack: Stack, batches: Sequence[tuple[str, list[str]]], *, infer: bool) -> str:
    index_class = type(stack.services.memory.index)
    calls = [functools.partial(stack.add, u, texts, infer=infer) for u, texts in batches]
    half = len(calls) // 2
    statements = StatementTimer(stack.runtime.db.engine)
    with statements.installed():
        timer = PhaseTimer(add_targets(index_class)).run(calls[:half])
    hot = hottest(calls[half:], root=str(ROOT) + "/")
    return _profile_block(timer.table("add of 64 messages"), hot,
                          statements.table(max(1, half), "add") if _sql_timed(stack) else None)


def _sql_timed(stack: Stack) -> bool:
    """psycopg has every row by the time ``execute`` returns; sqlite3 reads them later, in
    ``fetchall``, so per-statement times there would leave out most of the work."""
    return stack.backend == "postgresql"


def _profile_block(table: str, hot: str, statements: str | None) -> str:
    lines = [table, ""]
    if statements:
        lines += ["The SQL statements that took longest (another pass; the time psycopg waits for each, server "
                  "work and transfer included):", "", statements, ""]
    return "\n".join([*lines, "cProfile, the functions with the most time of their own (another pass; the calling "
                       "thread's only: a search's query embedding, on its own thread, shows as the wait for it):",
                       "", "```", hot, "```"])


@dataclass
class Workload:
    queries: list[str]
    warm_queries: list[str]  # distinct from ``queries``: the warm passes use these
    fresh: list[str]  # memory texts not in the load pool, for the measured infer:false adds
    probe: list[str]  # other such texts, for the embedder's own batches between the adds
    chat: list[str]  # user messages for the measured extractor adds
    add_batches: int
    http: bool
    profile: bool
    _fresh_at: int = 0
    _chat_at: int = 0
    _probe_at: int = 0

    def take(self, pool: str, count: int) -> list[str]:
        if pool == "fresh":
            out, self._fresh_at = self.fresh[self._fresh_at : self._fresh_at + count], self._fresh_at + count
        elif pool == "probe":
            out, self._probe_at = self.probe[self._probe_at : self._probe_at + count], self._probe_at + count
        else:
            out, self._chat_at = self.chat[self._chat_at : self._chat_at + count], self._chat_at + count
        if len(out) < count:
            raise RuntimeError(f"the {pool} pool ran out")
        return out


def measure_point(stack: Stack, point: Point, pairs: Sequence[tuple[str, str]], matrices: dict[str, np.ndarray],
                  adders: Sequence[str], work: Workload, guard: LoadGuard, *, profile: bool = False) -> None:
    tag = f"{point.backend} {point.memories:,} ({point.label})"
    print(f"{tag}: searching …", file=sys.stderr, flush=True)
    warm_pairs = [(end_user, work.warm_queries[i % len(work.warm_queries)]) for i, (end_user, _) in enumerate(pairs)]
    forget = functools.partial(forget_query_vectors, stack)
    point.searches["in process"] = measure_search(lambda u, q: stack.retrieve(u, q), pairs, guard, f"{tag} search",
                                                  warm_pairs=warm_pairs, forget=forget)

    embedder = stack.runtime.embedder
    probe = embedder_probe(stack, work)

    def brute_force(end_user: str, query: str) -> list[int]:
        vector = np.asarray(embedder.embed([query]), dtype=np.float32)[0]
        sims = matrices[end_user] @ vector
        top = np.argpartition(-sims, 10)[:10] if len(sims) > 10 else np.arange(len(sims))
        return top[np.argsort(-sims[top])].tolist()

    point.searches["baseline"] = measure_search(brute_force, pairs, guard, f"{tag} baseline",
                                                warm_pairs=warm_pairs[:20], forget=forget)
    point.searches["embed only"] = measure_search(lambda _u, q: embedder.embed([q]), pairs, guard, f"{tag} embed",
                                                  warm_pairs=warm_pairs[:20], forget=forget)
    if profile:
        point.profiles["in-process search"] = profile_searches(stack, pairs)

    def batches(pool: str) -> list[tuple[str, list[str]]]:
        return [(adders[i % len(adders)], work.take(pool, MAX_MESSAGES_PER_ADD)) for i in range(work.add_batches)]

    if work.http:
        with stack.http_server() as base, httpx.Client(base_url=base, timeout=120) as client:
            def http_retrieve(end_user: str, query: str) -> None:
                response = client.post("/v1/memories/retrieve", json={"query": query, "limit": 10},
                                       headers=stack.headers(end_user))
                response.raise_for_status()

            def http_add(end_user: str, texts: list[str], infer: bool) -> int:
                response = client.post("/v1/memories/add", headers=stack.headers(end_user), json={
                    "messages": [{"role": "user", "content": t} for t in texts], "infer": infer})
                response.raise_for_status()
                return int(response.json()["memories_created"])

            # The server has never embedded the timed queries: it warms up on the other set.
            point.searches["HTTP"] = measure_search(http_retrieve, pairs, guard, f"{tag} HTTP search",
                                                    warm_pairs=warm_pairs)
            print(f"{tag}: adding over HTTP …", file=sys.stderr, flush=True)
            point.adds.append(measure_adds(http_add, batches("fresh"), infer=False, path="HTTP", guard=guard,
                                           label=f"{tag} HTTP add", probe=probe))
            point.adds.append(measure_adds(http_add, batches("chat"), infer=True, path="HTTP", guard=guard,
                                           label=f"{tag} HTTP add extractor", probe=probe))

    def local_add(end_user: str, texts: list[str], infer: bool) -> int:
        return int(stack.add(end_user, texts, infer=infer)["memories_created"])

    print(f"{tag}: adding in process …", file=sys.stderr, flush=True)
    point.adds.append(measure_adds(local_add, batches("fresh"), infer=False, path="in process", guard=guard,
                                   label=f"{tag} add", probe=probe))
    point.adds.append(measure_adds(local_add, batches("chat"), infer=True, path="in process", guard=guard,
                                   label=f"{tag} add extractor", probe=probe))
    if profile:
        few = 2 * max(1, work.add_batches // 2)  # half timed by phase, half under cProfile
        point.profiles["in-process add, infer: false"] = profile_adds(
            stack, [(adders[0], work.take("fresh", MAX_MESSAGES_PER_ADD)) for _ in range(few)], infer=False)
        point.profiles["in-process add, default extractor"] = profile_adds(
            stack, [(adders[0], work.take("chat", MAX_MESSAGES_PER_ADD)) for _ in range(few)], infer=True)


# --- the runs per backend -------------------------------------------------------------------------------


def run_one_user(backend: str, sizes: Sequence[int], texts: list[str], work: Workload, guard: LoadGuard,
                 loads: list[LoadRun], points: list[Point], embed_note: list[str]) -> None:
    stack = open_stack(backend, label="perf")
    try:
        vectors, origin = embed_all(stack, texts)
        if not embed_note:
            embed_note.append(origin)
        EMBEDDER_RATES.append(embedder_rate(stack, work.take("fresh", EMBEDDER_RATE_TEXTS), guard))
        end_user = "user-0"
        loaded = 0  # rows of ``texts`` already in the database
        for size in sizes:
            need = size - (active_count(stack, end_user) if loaded else 0)
            if need > 0:
                print(f"{backend}: loading {need:,} rows for one end-user …", file=sys.stderr, flush=True)
                started = time.perf_counter()
                with HnswParked(stack) as parked:
                    bulk_insert(stack, end_user, texts[loaded : loaded + need], vectors[loaded : loaded + need])
                loads.append(LoadRun(backend, "1 end-user", need, time.perf_counter() - started - parked.rebuild_seconds,
                                     parked.rebuild_seconds))
                loaded += need
            memories = active_count(stack, end_user)
            point = Point(backend, "1 end-user", memories, 1)
            pairs = [(end_user, q) for q in work.queries]
            matrices = {end_user: vectors[:loaded]}
            measure_point(stack, point, pairs, matrices, [end_user], work, guard,
                          profile=work.profile and size == max(sizes))
            points.append(point)
    finally:
        stack.close()


def run_many_users(backend: str, users: int, sizes: Sequence[int], texts: list[str], work: Workload, guard: LoadGuard,
                   loads: list[LoadRun], points: list[Point]) -> None:
    """``users`` end-users sharing each total of ``sizes`` evenly (1k, 10k, 100k over 1,000
    end-users: 1, 10 and 100 each), one database topped up between sizes."""
    stack = open_stack(backend, label="perf")
    try:
        vectors, _ = embed_all(stack, texts)
        names = [f"user-{i:04d}" for i in range(users)]
        stride = max(sizes) // users  # user i owns texts[i * stride : (i + 1) * stride]
        loaded = 0  # rows of each end-user already in the database
        for size in sizes:
            per_user = size // users
            if per_user <= loaded:  # fewer memories than end-users, or two sizes alike per end-user
                continue
            need = per_user - loaded
            print(f"{backend}: loading {users * need:,} rows for {users:,} end-users …", file=sys.stderr, flush=True)
            started = time.perf_counter()
            group = max(1, LOAD_ROWS_PER_TRANSACTION // need)
            with HnswParked(stack) as parked:
                for first in range(0, users, group):
                    bulk_insert_many(stack, [
                        (names[i], texts[i * stride + loaded : i * stride + per_user],
                         vectors[i * stride + loaded : i * stride + per_user])
                        for i in range(first, min(first + group, users))
                    ])
            loads.append(LoadRun(backend, f"{users:,} end-users", users * need,
                                 time.perf_counter() - started - parked.rebuild_seconds, parked.rebuild_seconds))
            loaded = per_user
            matrices = {name: vectors[i * stride : i * stride + per_user] for i, name in enumerate(names)}
            # Query i searches end-user i (spread over all of them when there are more queries).
            step = max(1, users // len(work.queries))
            pairs = [(names[(i * step) % users], q) for i, q in enumerate(work.queries)]
            point = Point(backend, f"{users:,} end-users", users * per_user, users)
            adders = [names[(i * 7) % users] for i in range(work.add_batches)]
            measure_point(stack, point, pairs, matrices, adders, work, guard)
            points.append(point)
    finally:
        stack.close()


# --- the report ---------------------------------------------------------------------------------------


def render(points: Sequence[Point], loads: Sequence[LoadRun], command: str, guard: LoadGuard, embed_note: Sequence[str],
           backends: Sequence[str], queries: int, batches: int) -> str:
    lines = section_preamble(
        "Performance: add throughput and search latency", command, postgres="postgresql" in backends,
        extra=[
            f"Queries: {queries} synthetic questions (bench/synthetic.py), top 10, one at a time after a warm pass; "
            "embedder: MiniLM int8 ONNX (the default), 2 intra-op threads.",
            "Bulk load: every text embedded once by the same embedder (cached on disk by text and model), then "
            f"inserted through `MemoryWriter`, {LOAD_ROWS_PER_TRANSACTION:,} rows a transaction; on PostgreSQL the "
            "HNSW index is dropped for the load and rebuilt after it (then VACUUM ANALYZE). "
            + "; ".join(embed_note) + ".",
            "Baseline (same run, same queries): embed the query with the same embedder, then a brute-force numpy "
            "scan of the owner's vectors, top 10 — no filters, no keyword signal, no fusion, no database.",
            "In process: `MemoryService.retrieve` in a read session, as the router calls it (end-user lookup, "
            "hybrid search, rows, decryption, prompt block, open-clarification lookup); HTTP adds authentication by "
            "API key, JSON, uvicorn (one worker, a child process) and loopback, with one keep-alive httpx client. "
            "QPS: that one client, one request at a time.",
        ],
    )
    lines += [
        "### Search latency",
        "",
        "| backend | memories | owners | path | p50 | p95 | p99 | QPS | baseline p50 / p95 | ours ÷ baseline p50 / p95 "
        "| embed only p50 | full GCs | load / busy |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        base, embed = p.searches["baseline"], p.searches["embed only"]
        for path in ("in process", "HTTP"):
            run = p.searches.get(path)
            if run is None:
                continue
            lines.append(
                f"| {p.backend} | {p.memories:,} | {p.owners:,} | {path} | {ms(run.p(50))} | {ms(run.p(95))} | {ms(run.p(99))} "
                f"| {run.qps:,.0f} | {ms(base.p(50))} / {ms(base.p(95))} | {ratio(run.p(50), base.p(50))} / "
                f"{ratio(run.p(95), base.p(95))} | {ms(embed.p(50))} | {_collections(run, path)} | {run.load} |"
            )
    lines += [
        "",
        "Full GCs: the generation-2 garbage collections during the in-process timed pass, and how long each took "
        "on average (a pass of 300 queries); the HTTP server's are not observed, but it holds the same caches.",
        "",
        "### Add throughput (messages per second, batches of 64, real embedder)",
        "",
        "| backend | memories before | owners | path | mode | messages | msgs/s | the embedder alongside, texts/s "
        "| share of the embedder's rate | per add p50 / p95 | memories created | load / busy |",
        "|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    embedder = statistics.median(EMBEDDER_RATES) if EMBEDDER_RATES else float("nan")
    for p in points:
        for a in p.adds:
            lines.append(
                f"| {p.backend} | {p.memories:,} | {p.owners:,} | {a.path} | {a.mode} | {a.messages:,} | {a.rate:,.0f} "
                f"| {a.embedder_rate:,.0f} | {a.share:.0%} | {ms(percentile(a.latencies, 50))} / "
                f"{ms(percentile(a.latencies, 95))} | {a.created:,} | {a.load} |"
            )
    lines += [
        "",
        f"Each add row: {batches} adds of 64 messages into the data point's database after its searches "
        "(so a data point grows by what its adds created). infer: false messages are new synthetic memory texts; "
        "the extractor's are synthetic chat turns, some of them small talk that yields nothing. "
        "Share of the embedder's rate: msgs/s over the embedder's own throughput alongside, measured in the same "
        "row: before each add, the embedder alone (no cache in front) embeds a batch of 64 other fresh texts, so a "
        "machine whose speed drifts during the run moves both figures alike. For reference, the embedder's rate "
        f"measured once per backend before its data points: {embedder:,.0f} texts/s (the median of "
        f"{len(EMBEDDER_RATES)}, each {EMBEDDER_RATE_TEXTS:,} fresh texts in batches of 64).",
        "",
        "### Bulk load (storage path, precomputed vectors)",
        "",
        "| backend | data set | rows | rows/s | HNSW rebuild |",
        "|---|---|---:|---:|---:|",
    ]
    for load in loads:
        rebuild = f"{load.index_seconds:.1f} s" if load.backend == "postgresql" else "—"
        lines.append(f"| {load.backend} | {load.label} | {load.rows:,} | {load.rows / load.seconds:,.0f} | {rebuild} |")
    lines += ["", "### Targets (compared, not asserted)", ""]
    lines += targets(points)
    profiled = [p for p in points if p.profiles]
    if profiled:
        lines += [
            "",
            "### Where the time goes (largest size, one end-user)",
            "",
            "Wall time per phase over one extra pass, measured by wrapping the functions of each phase with a timer "
            "(bench/phases.py; about a microsecond a call, so native and Python work keep their true shares); "
            "under each, a cProfile of another pass, by time spent in the function itself.",
        ]
    for p in profiled:
        for what, block in p.profiles.items():
            lines += ["", f"**{what}, {p.backend}, {p.memories:,} memories:**", "", block]
    lines += ["", f"Load: {guard.summary()}"]
    return "\n".join(lines)


def _collections(run: SearchRun, path: str) -> str:
    if path != "in process":
        return "—"  # the server's own process: not observed
    if not run.full_collections:
        return "0"
    pauses = run.full_collections
    return f"{len(pauses)} × {ms(sum(pauses) / len(pauses))}"


def targets(points: Sequence[Point]) -> list[str]:
    out = []
    big = [p for p in points if p.owners == 1 and p.memories >= TARGET_SIZE * 0.99]
    for p in big:
        for path, limit in (("in process", TARGET_IN_PROCESS_P95), ("HTTP", TARGET_HTTP_P95)):
            run = p.searches.get(path)
            if run is not None:
                verdict = "met" if run.p(95) <= limit else "missed"
                out.append(f"- Search p95 ≤ {limit * 1e3:.0f} ms {path}, {p.backend}, {p.memories:,} memories of one end-user: "
                           f"**{verdict}** ({ms(run.p(95))}).")
    if not big:
        out.append(f"- Search targets are stated at {TARGET_SIZE:,} memories of one end-user; this run did not reach that size.")
    for backend in dict.fromkeys(p.backend for p in points):
        shares = [a.share for p in points if p.backend == backend for a in p.adds if a.mode == "infer: false"]
        if shares:
            met = sum(share >= TARGET_EMBEDDER_SHARE for share in shares)
            out.append(
                f"- Verbatim adds ≥ {TARGET_EMBEDDER_SHARE:.0%} of the embedder's throughput alongside, {backend}: "
                f"**{'met' if met == len(shares) else 'missed'}** ({met} of {len(shares)} measurements; lowest "
                f"{min(shares):.0%}, highest {max(shares):.0%})."
            )
    for mode in ("infer: false", "default extractor"):
        rates = [(p, a) for p in points for a in p.adds if a.mode == mode]
        if rates:
            worst_p, worst = min(rates, key=lambda item: item[1].rate)
            best_p, best = max(rates, key=lambda item: item[1].rate)
            met = sum(a.rate >= TARGET_ADD_RATE for _, a in rates)
            out.append(
                f"- Add ≥ {TARGET_ADD_RATE:.0f} messages/s in batches, {mode}: met in {met} of {len(rates)} measurements "
                f"(from {worst.rate:,.0f}/s — {worst_p.backend}, {worst.path}, {worst_p.memories:,} memories — to "
                f"{best.rate:,.0f}/s — {best_p.backend}, {best.path}, {best_p.memories:,})."
            )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="memories of one end-user, comma-separated")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--users", type=int, default=1000,
                        help="end-users sharing each size evenly in the spread data sets (0: skip them)")
    parser.add_argument("--queries", type=int, default=300, help="search queries per data point")
    parser.add_argument("--add-batches", type=int, default=10, help="adds of 64 messages per measurement")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP measurements")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile of the largest size")
    parser.add_argument("--max-wait", type=float, default=45, help="seconds to wait for a quiet machine per section")
    parser.add_argument("--wait-budget", type=float, default=300, help="seconds of such waiting in all")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)

    sizes = sorted({int(s) for s in args.sizes.split(",") if s})
    backends = [b for b in args.backends.split(",") if b]
    if "postgresql" in backends and (problem := postgres_problem()):
        print(f"skipping postgresql: {problem}", file=sys.stderr)
        backends.remove("postgresql")
    pool_size = max(sizes)
    texts = synthetic.memory_texts(pool_size)
    # Verbatim adds (in process and over HTTP, at each data point: each size for one end-user
    # and, with --users, for many) and the embedder's own rate, once per backend, take texts
    # never seen before.
    points_per_backend = len(sizes) * (2 if args.users > 0 else 1)
    reserve = 2 * args.add_batches * MAX_MESSAGES_PER_ADD * points_per_backend + EMBEDDER_RATE_TEXTS * len(backends)
    taken = set(texts)
    fresh = [t for t in synthetic.memory_texts(pool_size + reserve, seed=99) if t not in taken][:reserve]
    # The embedder's own batches between the adds: one per add, never an add's text.
    probes = 4 * args.add_batches * MAX_MESSAGES_PER_ADD * points_per_backend
    taken.update(fresh)
    probe = [t for t in synthetic.memory_texts(pool_size + reserve + probes, seed=101) if t not in taken][:probes]
    questions = synthetic.queries(2 * args.queries)
    work = Workload(
        queries=questions[: args.queries], warm_queries=questions[args.queries :], fresh=fresh, probe=probe,
        chat=synthetic.chat_messages(reserve),
        add_batches=args.add_batches, http=not args.no_http, profile=not args.no_profile,
    )
    guard = LoadGuard(max_wait=args.max_wait, budget=args.wait_budget)
    points: list[Point] = []
    loads: list[LoadRun] = []
    embed_note: list[str] = []
    started = time.perf_counter()
    for backend in backends:
        work._fresh_at = work._chat_at = work._probe_at = 0  # each backend gets the same texts
        if sizes:
            run_one_user(backend, sizes, texts, work, guard, loads, points, embed_note)
        if args.users > 0:
            run_many_users(backend, args.users, sizes, texts, work, guard, loads, points)
    body = render(points, loads, command_line("perf.py", argv), guard, embed_note, backends, args.queries, args.add_batches)
    body += f"\n\nWhole run: {(time.perf_counter() - started) / 60:.1f} minutes."
    print(body)
    if not args.no_doc:
        write_section("perf", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
