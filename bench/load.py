"""Several workers under a mixed load: throughput, latency per route, errors, and afterwards
every acknowledged write present and nothing else.

    .venv/bin/python bench/load.py [--seconds 60] [--clients 12] [--users 200] [--seed-memories 40]
                                   [--runs postgresql:1,postgresql:2,sqlite:1] [--no-doc]

Each run starts ``memoryos serve --workers N`` (the command an operator runs) in a child
process on a throwaway database and loopback, seeds ``--users`` end-users with
``--seed-memories`` memories each (verbatim adds through the API, untimed), then drives it
for ``--seconds`` with ``--clients`` concurrent clients (one asyncio loop, one keep-alive
connection each). Every request picks an end-user at random; 80% are
``POST /v1/memories/retrieve`` (limit 10, a synthetic question), 20% are
``POST /v1/memories/add`` of 8 synthetic chat messages with the default extractor.

Afterwards, each end-user's memories are read from the database and compared with what the
run acknowledged: every memory a 200 answer named (ADD, UPDATE, NOOP or CONFLICT) must be
there and active, and no active memory may be missing from the seed and those answers.

CPU: the seconds used during the timed phase by the server's process tree, by this load
generator, and by the whole machine (/proc); the machine's less the other two is PostgreSQL's
backends and the rest. On two cores, the sum over the wall time says how close the machine was
to saturation, and which part used it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import synthetic
from common import LoadGuard, command_line, ms, percentile, section_preamble, write_section
from stack import BENCH_MASTER_KEY, MODEL_CACHE, Stack, _free_port, open_stack, postgres_problem, wait_until_healthy
from sqlalchemy import select

from memoryos_server.services.permissions import Permission

ADD_MESSAGES = 8
RETRIEVE_SHARE = 0.8
SEED_BATCH = 64
REQUEST_TIMEOUT = 60.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    backend: str
    workers: int
    clients: int
    seconds: float = 0.0
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    statuses: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    cpu: dict[str, float] = field(default_factory=dict)
    acknowledged: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    memories_before: int = 0
    memories_after: int = 0
    missing: int = 0
    unexpected: int = 0
    load: str = ""

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# --- the server ---------------------------------------------------------------------------------------


@contextmanager
def serve(stack: Stack, workers: int) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``memoryos serve --workers N`` on the stack's database; yields its base URL and process."""
    port = _free_port()
    env = {
        **os.environ,
        "MEMORYOS_DATABASE_URL": stack.url,
        "MEMORYOS_DATA_DIR": str(stack.data_dir / "server"),
        "MEMORYOS_MASTER_KEY": BENCH_MASTER_KEY,
        "MEMORYOS_MODEL_CACHE_DIR": str(MODEL_CACHE),
        "MEMORYOS_EMBEDDER": "local",
        "MEMORYOS_EMAIL_BACKEND": "outbox",
        "MEMORYOS_LOG_LEVEL": "WARNING",
    }
    memoryos = Path(sys.executable).with_name("memoryos")
    log_path = stack.data_dir / f"serve-{port}.log"
    with open(log_path, "wb") as log:
        child = subprocess.Popen(
            [str(memoryos), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base, child, log_path, seconds=120)
            yield base, child
        finally:
            child.terminate()
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _process_tree(root: int) -> list[int]:
    children: dict[int, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[parent].append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _ticks(pids: Sequence[int]) -> int:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def _machine_busy_ticks() -> int:
    """Ticks every core spent busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]


def cpu_sample(server: int) -> dict[str, int]:
    """CPU ticks so far: the server's process tree, this load generator, and the whole machine
    (PostgreSQL's backends come and go with connections, so their share is the rest)."""
    return {
        "server": _ticks(_process_tree(server)),
        "load generator": _ticks([os.getpid()]),
        "machine": _machine_busy_ticks(),
    }


# --- the load ---------------------------------------------------------------------------------------------


async def seed(base: str, stack: Stack, users: Sequence[str], texts: Sequence[str], per_user: int) -> dict[str, set[str]]:
    """Verbatim memories for every end-user, a few adds at a time; returns their ids per user."""
    seeded: dict[str, set[str]] = defaultdict(set)
    queue = [(user, texts[i * per_user + start : i * per_user + min(per_user, start + SEED_BATCH)])
             for i, user in enumerate(users) for start in range(0, per_user, SEED_BATCH)]

    async def worker(client: httpx.AsyncClient) -> None:
        while queue:
            user, batch = queue.pop()
            response = await client.post(
                "/v1/memories/add", headers=stack.headers(user),
                json={"messages": [{"role": "user", "content": t} for t in batch], "infer": False},
            )
            response.raise_for_status()
            seeded[user].update(r["id"] for r in response.json()["results"])

    async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT) as client:
        await asyncio.gather(*(worker(client) for _ in range(4)))
    return seeded


async def drive(base: str, stack: Stack, run: Run, users: Sequence[str], seconds: float, seed_value: int) -> None:
    questions = synthetic.queries(2_000, seed=seed_value)
    chat = synthetic.chat_messages(20_000, seed=seed_value)
    chat_at = 0
    deadline = time.monotonic() + seconds

    async def client_loop(number: int) -> None:
        nonlocal chat_at
        rng = random.Random(seed_value * 1000 + number)
        async with httpx.AsyncClient(base_url=base, timeout=REQUEST_TIMEOUT) as client:
            while time.monotonic() < deadline:
                user = rng.choice(users)
                if rng.random() < RETRIEVE_SHARE:
                    route, body = "retrieve", {"query": rng.choice(questions), "limit": 10}
                else:
                    messages = chat[chat_at : chat_at + ADD_MESSAGES]
                    chat_at = (chat_at + ADD_MESSAGES) % (len(chat) - ADD_MESSAGES)
                    route, body = "add", {"messages": [{"role": "user", "content": t} for t in messages]}
                started = time.perf_counter()
                try:
                    response = await client.post(f"/v1/memories/{route}", headers=stack.headers(user), json=body)
                except httpx.HTTPError as exc:
                    run.errors[f"{route}: {type(exc).__name__}"] += 1
                    continue
                run.latencies[route].append(time.perf_counter() - started)
                run.statuses[response.status_code] += 1
                if response.status_code != 200:
                    run.errors[f"{route}: {response.status_code}"] += 1
                elif route == "add":
                    run.acknowledged[user].update(r["id"] for r in response.json()["results"])

    await asyncio.gather(*(client_loop(i) for i in range(run.clients)))


def verify(stack: Stack, run: Run, seeded: dict[str, set[str]], users: Sequence[str]) -> None:
    """Every acknowledged memory active; no active memory the run did not acknowledge."""
    with stack.read_session() as session:
        for user in users:
            scope = stack.services.scopes.end_user(session, stack.principal, user, permission=Permission.MEMORY_READ)
            owner = scope.owner
            expected = seeded.get(user, set()) | run.acknowledged.get(user, set())
            if owner is None:
                run.missing += len(expected)
                continue
            model = owner.family.memory
            active = set(session.scalars(select(model.id).where(model.owner_id == owner.id, model.status == "active")))
            run.memories_after += len(active)
            run.missing += len(expected - active)
            run.unexpected += len(active - expected)


def one_run(backend: str, workers: int, args: argparse.Namespace, guard: LoadGuard) -> Run:
    run = Run(backend, workers, args.clients)
    stack = open_stack(backend, label="load")
    try:
        users = [f"load-user-{i}" for i in range(args.users)]
        texts = synthetic.memory_texts(args.users * args.seed_memories, seed=23)
        with serve(stack, workers) as (base, child):
            print(f"{backend} × {workers}: seeding {len(texts):,} memories …", file=sys.stderr, flush=True)
            seeded = asyncio.run(seed(base, stack, users, texts, args.seed_memories))
            # Untimed warm-up, several requests per worker: models loaded, caches built.
            warm = Run(backend, workers, args.clients)
            asyncio.run(drive(base, stack, warm, users, 10.0, seed_value=97))
            for user, ids in warm.acknowledged.items():
                seeded[user].update(ids)
            run.memories_before = sum(len(v) for v in seeded.values())
            run.load = guard.settle(f"load {backend} × {workers}")
            print(f"{backend} × {workers}: {args.clients} clients for {args.seconds:.0f} s …", file=sys.stderr, flush=True)
            before, started = cpu_sample(child.pid), time.perf_counter()
            asyncio.run(drive(base, stack, run, users, args.seconds, seed_value=workers))
            run.seconds = time.perf_counter() - started
            after = cpu_sample(child.pid)
            run.cpu = {name: (after[name] - before[name]) / CLOCK_TICKS for name in after}
            run.cpu["rest"] = run.cpu["machine"] - run.cpu["server"] - run.cpu["load generator"]
        verify(stack, run, seeded, users)
    finally:
        stack.close()
    return run


# --- the report ----------------------------------------------------------------------------------------


def render(runs: Sequence[Run], command: str, guard: LoadGuard, args: argparse.Namespace) -> str:
    lines = section_preamble(
        "Several workers under a mixed load", command,
        extra=[
            f"Load: {args.clients} concurrent clients for {args.seconds:.0f} s per run, over {args.users} end-users "
            f"seeded with {args.seed_memories} memories each; {RETRIEVE_SHARE:.0%} `POST /v1/memories/retrieve` "
            f"(limit 10), {1 - RETRIEVE_SHARE:.0%} `POST /v1/memories/add` of {ADD_MESSAGES} chat messages "
            "(default extractor). The server is `memoryos serve --workers N` in a child process; the clients "
            "run in this process, on the same two cores (bench/load.py's docstring).",
        ],
    )
    lines += [
        "| backend | workers | requests/s | retrieve p50 / p95 / p99 | add p50 / p95 / p99 | errors | "
        "CPU in cores: server / PostgreSQL and the rest / clients | acknowledged writes present | unexpected memories "
        "| load / busy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        cores = " / ".join(f"{run.cpu.get(n, 0.0) / run.seconds:.2f}" for n in ("server", "rest", "load generator"))
        errors = sum(run.errors.values())
        acknowledged = sum(len(v) for v in run.acknowledged.values()) + run.memories_before
        lines.append(
            f"| {run.backend} | {run.workers} | {run.throughput:.1f} | {_latency(run, 'retrieve')} | "
            f"{_latency(run, 'add')} | {errors} | {cores} | {acknowledged - run.missing:,} of {acknowledged:,} | "
            f"{run.unexpected} | {run.load} |"
        )
    lines.append("")
    for run in runs:
        if run.errors:
            lines.append(f"- Errors, {run.backend} × {run.workers}: " + ", ".join(f"{k} ×{v}" for k, v in sorted(run.errors.items())))
    pg = {run.workers: run for run in runs if run.backend == "postgresql"}
    if 1 in pg and 2 in pg and pg[1].throughput:
        one, two = pg[1], pg[2]
        lines.append(
            f"- Scaling on PostgreSQL from one worker to two: {two.throughput / one.throughput:.2f}× the requests per "
            f"second ({one.throughput:.1f} → {two.throughput:.1f}); retrieve p95 {ms(percentile(one.latencies['retrieve'], 95))} → "
            f"{ms(percentile(two.latencies['retrieve'], 95))}."
        )
    lines.append(f"- {guard.summary()}")
    return "\n".join(lines)


def _latency(run: Run, route: str) -> str:
    values = run.latencies.get(route, [])
    if not values:
        return "—"
    return " / ".join(ms(percentile(values, q)) for q in (50, 95, 99)) + f" (n={len(values):,})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="timed load per run")
    parser.add_argument("--clients", type=int, default=12, help="concurrent clients")
    parser.add_argument("--users", type=int, default=200, help="end-users the requests spread over")
    parser.add_argument("--seed-memories", type=int, default=40, help="memories each end-user holds before the load")
    parser.add_argument("--runs", default="postgresql:1,postgresql:2,sqlite:1", help="backend:workers, comma-separated")
    parser.add_argument("--max-wait", type=float, default=60, help="seconds to wait for a quiet machine per run")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    plan = [(b, int(w)) for b, w in (item.split(":") for item in args.runs.split(",") if item)]
    if any(b == "postgresql" for b, _ in plan) and (problem := postgres_problem()):
        print(f"skipping postgresql: {problem}", file=sys.stderr)
        plan = [(b, w) for b, w in plan if b != "postgresql"]
    guard = LoadGuard(max_wait=args.max_wait, budget=4 * args.max_wait)
    runs = [one_run(backend, workers, args, guard) for backend, workers in plan]
    body = render(runs, command_line("load.py", argv), guard, args)
    print(body)
    if not args.no_doc:
        write_section("load", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
