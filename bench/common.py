"""What every benchmark shares: the machine's description, waiting for a quiet machine,
percentiles, and replacing one section of docs/benchmarks.md in place."""

from __future__ import annotations

import math
import os
import platform
import re
import shlex
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "benchmarks.md"
# Sections in the order the page shows them.
SECTIONS = ("perf", "query_overlap", "load", "hnsw", "retrieval_quality", "locomo", "categories", "extraction", "embeddings", "mem0_peer")
QUIET_LOAD = 0.7
CODE_LABEL_ENV = "MEMORYOS_BENCH_CODE_LABEL"

DOC_HEADER = """# Benchmarks

Figures measured on the machine each section names, by the command it shows; every section is
rewritten in place when its benchmark runs again (`make bench` runs them all through
`bench/run_all.py`). Performance is measured here and never asserted in tests; targets are
quoted for comparison only.

The reference machine has two cores shared with other work. Each timed section first waits,
up to a bound, for a quiet machine: a 1-minute load average below {quiet}, or — since that
average still carries the benchmark's own previous section for a minute — processes other
than the benchmark and its children using less than {quiet} cores (sampled over 2 s). Tables
show "load / busy" (the two figures) as each section started; sections that started on a busy
machine after the longest wait are listed under their table, and their figures are pessimistic.
""".format(quiet=QUIET_LOAD)


# --- the machine ---------------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    except OSError:
        pass
    return float("nan")


def postgres_versions() -> str:
    from stack import PG_ADMIN_URL  # noqa: PLC0415 — only when a section asks

    try:
        from sqlalchemy import create_engine, text

        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            server = connection.execute(text("SHOW server_version")).scalar()
            vector = connection.execute(
                text("SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")
            ).scalar()
        engine.dispose()
        return f"PostgreSQL {str(server).split()[0]}, pgvector {vector or 'not installed'}"
    except Exception as exc:  # noqa: BLE001 — the description says what went wrong instead
        return f"PostgreSQL unavailable ({type(exc).__name__})"


def code_version() -> str:
    """The commit measured, and whether the working tree differed from it (others' edits count)."""
    if label := os.environ.get(CODE_LABEL_ENV):  # run_all.py --code REV: a clean checkout of REV
        return label
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "server/src"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"`{commit}`" + (" plus uncommitted changes under server/src" if dirty else "")


def machine_line(*, postgres: bool = True) -> str:
    parts = [
        f"{cpu_model()}, {os.cpu_count()} cores, {ram_gib():.0f} GiB RAM",
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version}",
    ]
    if postgres:
        parts.append(postgres_versions())
    return "; ".join(parts)


# --- a quiet machine -------------------------------------------------------------------------------


def cpu_busy(interval: float = 2.0) -> float:
    """Cores' worth of CPU that processes other than this one and its children used over
    ``interval`` seconds (/proc). Our own idle threads may spin (ONNX Runtime's do), and that
    is not the machine being busy."""

    def sample() -> tuple[int, int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields[:8]), idle, _own_ticks()

    try:
        total0, idle0, own0 = sample()
        time.sleep(interval)
        total1, idle1, own1 = sample()
    except (OSError, ValueError, IndexError):
        return float("nan")
    spent = total1 - total0
    if spent <= 0:
        return 0.0
    busy = (spent - (idle1 - idle0)) - (own1 - own0)
    return max(0.0, (os.cpu_count() or 1) * busy / spent)


def _own_ticks() -> int:
    """CPU ticks (user + system) of this process and its descendants, alive now."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        ticks[pid] = int(fields[11]) + int(fields[12])
    mine = {os.getpid()}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in mine and pid not in mine:
                mine.add(pid)
                grew = True
    return sum(ticks.get(pid, 0) for pid in mine)


@dataclass
class LoadGuard:
    """Waits for a quiet machine before a timed section, for at most ``max_wait`` seconds per
    section and ``budget`` seconds in all, and records what it saw.

    Quiet: the 1-minute load average is below ``quiet``, or — since that average still holds
    the benchmark's own previous section for a minute or so — other processes than the
    benchmark and its children used less than ``quiet`` cores over 2 s.
    """

    quiet: float = QUIET_LOAD
    max_wait: float = 180.0
    budget: float = 900.0
    waited: float = 0.0
    notes: list[str] = field(default_factory=list)
    seen: list[tuple[float, float]] = field(default_factory=list)  # (load average, cores busy) at each start

    def settle(self, label: str) -> str:
        """Wait if needed; returns "load average / cores busy" as the section starts."""
        start = time.monotonic()
        limit = min(self.max_wait, max(0.0, self.budget - self.waited))
        while True:
            load, busy = os.getloadavg()[0], cpu_busy()
            quiet = load <= self.quiet or busy <= self.quiet
            if quiet or time.monotonic() - start >= limit:
                break
            time.sleep(3)
        spent = time.monotonic() - start
        self.waited += spent
        self.seen.append((load, busy))
        if not quiet:
            self.notes.append(f"{label}: load {load:.2f}, {busy:.2f} cores busy, after waiting {spent:.0f} s")
            print(f"  [{label}: load {load:.2f}, {busy:.2f} cores busy by others after waiting {spent:.0f} s: "
                  "measuring anyway]", file=sys.stderr)
        return f"{load:.2f} / {busy:.2f}"

    def summary(self) -> str:
        """What the machine was doing when the timed sections started."""
        if not self.seen:
            return "no timed section ran"
        busy = [b for _, b in self.seen]
        loads = [a for a, _ in self.seen]
        noisy = len(self.notes)
        text = (
            f"{len(self.seen)} timed sections; at their start the 1-minute load average was {min(loads):.2f}–"
            f"{max(loads):.2f} (it includes this benchmark's own previous section) and other processes used "
            f"{min(busy):.2f}–{max(busy):.2f} of the {os.cpu_count()} cores; {self.waited:.0f} s spent waiting."
        )
        if noisy:
            text += (f" {noisy} section(s) started on a busy machine after the longest wait allowed "
                     "(their figures are pessimistic): " + "; ".join(self.notes[:6]) + ("; …" if noisy > 6 else "") + ".")
        return text


# --- statistics ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> str:
    if seconds != seconds:
        return "—"
    value = seconds * 1e3
    return f"{value:.1f} ms" if value < 100 else f"{value:,.0f} ms"


def ratio(a: float, b: float) -> str:
    if not b or a != a or b != b:
        return "—"
    return f"{a / b:.1f}×"


# --- docs/benchmarks.md -------------------------------------------------------------------------------


def command_line(script: str, argv: Sequence[str] | None) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join([".venv/bin/python", f"bench/{script}", *map(shlex.quote, args)])


def stamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def section_preamble(title: str, command: str, *, postgres: bool = True, extra: Sequence[str] = ()) -> list[str]:
    lines = [
        f"## {title}",
        "",
        f"- Command: `{command}`",
        f"- Date: {stamp()}; code {code_version()}",
        f"- Machine: {machine_line(postgres=postgres)}",
    ]
    lines += [f"- {item}" for item in extra]
    return [*lines, ""]


def write_section(name: str, body: str, doc: Path = DOC) -> None:
    """Replace (or add, in the page's order) the section ``name`` of docs/benchmarks.md."""
    if name not in SECTIONS:
        raise ValueError(f"unknown section {name!r}")
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    block = f"{begin}\n{body.strip()}\n{end}"
    text = doc.read_text(encoding="utf-8") if doc.exists() else DOC_HEADER
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _m: block, text)
    else:
        later = [s for s in SECTIONS[SECTIONS.index(name) + 1 :] if f"<!-- BEGIN {s} -->" in text]
        if later:
            anchor = text.index(f"<!-- BEGIN {later[0]} -->")
            text = text[:anchor] + block + "\n\n" + text[anchor:]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text, encoding="utf-8")
