"""Where the time of a search or an add goes: wall time per phase, by wrapping the functions
that make up each phase with a timer for the length of one pass (the measured passes run
unwrapped). The wrappers cost about a microsecond a call, so, unlike cProfile, they hardly
distort the share of pure-Python work against native code (ONNX Runtime, SQLite, libpq).
Time is exclusive: a phase running inside another counts only for the inner one."""

from __future__ import annotations

import cProfile
import functools
import io
import pstats
import re
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from memoryos_server.engine.embeddings.local import LocalMiniLMEmbedder
from memoryos_server.engine.extraction.rules import RuleBasedExtractor
from memoryos_server.services.identity import IdentityService
from memoryos_server.services.memory import ingest, jobs, service
from memoryos_server.services.memory.codec import MemoryCodec
from memoryos_server.services.memory.query_vectors import PendingVector
from memoryos_server.services.memory.writer import MemoryWriter
from memoryos_server.storage.repositories.memories import MemoryRepository
from sqlalchemy.orm import Session

Target = tuple[str, Any, str]  # (phase, the class or module holding it, attribute name)
# A phase's time on another thread than the calls' (a search's query embedding, started early).
PARALLEL = "(on its own thread, alongside the rest)"


def search_targets(index_class: type) -> list[Target]:
    return [
        ("resolve the end-user", IdentityService, "end_user"),
        ("embed the query", LocalMiniLMEmbedder, "embed"),
        ("dense index", index_class, "dense_and_similarities"),
        ("keyword index", index_class, "keyword"),
        ("wait for the query vector", PendingVector, "result"),
        ("fetch the rows", MemoryRepository, "search_rows"),
        ("decrypt", MemoryCodec, "open"),
        ("open clarification lookup", service.MemoryService, "current_clarification"),
        ("render the prompt block", service, "render"),
        ("commit / close", Session, "commit"),
    ]


def add_targets(index_class: type) -> list[Target]:
    return [
        ("resolve the end-user", IdentityService, "resolve_end_user"),
        ("extract (rules)", RuleBasedExtractor, "extract"),
        ("embed", LocalMiniLMEmbedder, "embed"),
        ("de-dup: nearest neighbours", index_class, "dense"),
        ("de-dup: rows by hash and id", MemoryRepository, "active_by_hashes"),
        ("de-dup: rows by hash and id", MemoryRepository, "by_ids"),
        ("de-dup: conflict checks (detect)", ingest, "detect"),
        ("write: rows, encryption, terms", MemoryWriter, "insert"),
        ("write: flush, versions, postings", MemoryWriter, "finish"),
        ("job record", jobs, "record_completed"),
        ("commit", Session, "commit"),
    ]


class PhaseTimer:
    def __init__(self, targets: Sequence[Target]) -> None:
        self.targets = list(targets)
        self.seconds: dict[str, float] = defaultdict(float)
        self.total = 0.0
        self.units = 0
        # Per thread: [phase, time its clock last (re)started]. A phase timed on another thread
        # than the one running the calls (the query's embedding, started early) overlaps the
        # calls' own phases: kept apart, out of their sum (``parallel``).
        self._local = threading.local()
        self._caller: int | None = None
        self.parallel: set[str] = set()

    @contextmanager
    def installed(self) -> Iterator[PhaseTimer]:
        saved = []
        for phase, holder, name in self.targets:
            original = holder.__dict__[name] if isinstance(holder, type) else getattr(holder, name)
            saved.append((holder, name, original))
            setattr(holder, name, self._wrap(phase, original))
        try:
            yield self
        finally:
            for holder, name, original in reversed(saved):
                setattr(holder, name, original)

    def _wrap(self, phase: str, original: Callable[..., Any]) -> Callable[..., Any]:
        # Exclusive time: while a phase runs inside another (the extractor embedding its
        # sentences), the outer phase's clock stops, so no second is counted twice.
        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            opened = self._opened()
            if self._caller is not None and threading.get_ident() != self._caller:
                phase_here = f"{phase} {PARALLEL}"
                self.parallel.add(phase_here)
            else:
                phase_here = phase
            now = time.perf_counter()
            if opened:
                outer = opened[-1]
                self.seconds[outer[0]] += now - outer[1]
            opened.append([phase_here, now])
            try:
                return original(*args, **kwargs)
            finally:
                now = time.perf_counter()
                inner = opened.pop()
                self.seconds[inner[0]] += now - inner[1]
                if opened:
                    opened[-1][1] = now

        return timed

    def _opened(self) -> list[list[Any]]:
        opened: list[list[Any]] | None = getattr(self._local, "open", None)
        if opened is None:
            opened = self._local.open = []
        return opened

    def run(self, calls: Sequence[Callable[[], object]]) -> PhaseTimer:
        self._caller = threading.get_ident()
        with self.installed():
            for call in calls:
                started = time.perf_counter()
                call()
                self.total += time.perf_counter() - started
                self.units += 1
        return self

    def table(self, unit: str) -> str:
        per = 1e3 / max(1, self.units)
        lines = [f"| phase | ms per {unit} | share |", "|---|---:|---:|"]
        known = 0.0
        for name in dict.fromkeys(p for p, _, _ in self.targets):
            for phase in (name, f"{name} {PARALLEL}"):
                seconds = self.seconds.get(phase, 0.0)
                if seconds <= 0:
                    continue
                if phase in self.parallel:  # on another thread, meanwhile: not part of the sum
                    lines.append(f"| {phase} | {seconds * per:.2f} | — |")
                    continue
                known += seconds
                lines.append(f"| {phase} | {seconds * per:.2f} | {100 * seconds / self.total:.0f}% |")
        rest = max(0.0, self.total - known)
        lines.append(f"| everything else (sessions, SQL not listed, fusion, Python) | {rest * per:.2f} | {100 * rest / self.total:.0f}% |")
        lines.append(f"| **total** | **{self.total * per:.2f}** | 100% |")
        return "\n".join(lines)


_REPEATS = (  # (a run of one fragment, what the run becomes)
    (re.compile(r"(?:WHEN %\(param\)s::\w+ THEN %\(param\)s ){2,}"), "WHEN … THEN … "),  # one arm per query term
    (re.compile(r"(?: UNION ALL SELECT %\(param\)s::INTEGER AS ord, CAST\(%\(param\)s AS VECTOR\(\d+\)\) AS v)+"),
     " UNION ALL …"),  # one row per query vector
    (re.compile(r"(?:%\(param\)s|\?)(?:, (?:%\(param\)s|\?))+"), "…"),  # IN lists
)


def statement_shape(statement: str, *, head: int = 150, tail: int = 120) -> str:
    """One key for the statements that differ only in how many values they list: repeated
    fragments written once, and, for what is still long, its start and its end."""
    text = re.sub(r"%\((\w+?)_\d+\)s", r"%(\1)s", " ".join(statement.split()))
    text = re.sub(r"\banon_\d+", "anon", text)
    for pattern, replacement in _REPEATS:
        text = pattern.sub(replacement, text)
    return text if len(text) <= head + tail else f"{text[:head]} … {text[-tail:]}"


class StatementTimer:
    """Time spent in each SQL statement (by its text) while installed on an engine."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextmanager
    def installed(self) -> Iterator[StatementTimer]:
        from sqlalchemy import event

        def before(conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool) -> None:
            conn.info.setdefault("_bench_started", []).append(time.perf_counter())

        def after(conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
            started = conn.info["_bench_started"].pop()
            key = statement_shape(statement)
            self.seconds[key] += time.perf_counter() - started
            self.calls[key] += 1

        event.listen(self.engine, "before_cursor_execute", before)
        event.listen(self.engine, "after_cursor_execute", after)
        try:
            yield self
        finally:
            event.remove(self.engine, "before_cursor_execute", before)
            event.remove(self.engine, "after_cursor_execute", after)

    def table(self, units: int, unit: str, top: int = 6, width: int = 150) -> str:
        lines = [f"| statement (first {width} characters) | calls per {unit} | ms per {unit} |", "|---|---:|---:|"]
        for key, seconds in sorted(self.seconds.items(), key=lambda item: -item[1])[:top]:
            shown = key if len(key) <= width else key[: width - 1].rstrip() + "…"
            shown = shown.replace("|", "\\|")
            lines.append(f"| `{shown}` | {self.calls[key] / units:.1f} | {1e3 * seconds / units:.2f} |")
        return "\n".join(lines)


def hottest(calls: Sequence[Callable[[], object]], lines: int = 14, root: str = "") -> str:
    """cProfile of ``calls``: the functions with the most time of their own."""
    profiler = cProfile.Profile()
    profiler.enable()
    for call in calls:
        call()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(lines)
    text = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(text) if line.lstrip().startswith("ncalls")), 0)
    return "\n".join(_short_paths(line.replace(root, "")) for line in text[start:])


def _short_paths(line: str) -> str:
    """Paths from the package down: the same in a working tree, a clean checkout or a venv."""
    line = re.sub(r"\S*/(server/src/memoryos_server/)", r"\1", line)
    return re.sub(r"\S*/site-packages/", "", line)
