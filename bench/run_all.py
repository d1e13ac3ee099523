"""Run every benchmark and rewrite docs/benchmarks.md (what `make bench` does).

    .venv/bin/python bench/run_all.py [--only perf,retrieval_quality,...] [--skip mem0_peer] [--quick]

Each benchmark runs as its own process, one after another. perf.py, retrieval_quality.py,
locomo.py (when the LoCoMo file is there; it says where to get it), load.py and mem0_peer.py write their
own sections; the output of extraction.py, embeddings.py, query_overlap.py and hnsw.py (which
print markdown) is wrapped here in a section with its command, date and machine. A benchmark
that fails leaves its previous section as it was; the run then exits non-zero.

``--code REV`` measures a clean checkout of REV (a git worktree under .cache, put first on
PYTHONPATH for every benchmark and the servers they start) instead of the working tree, so
others' unfinished edits neither break a long run nor end up in its figures; the sections
then name that commit.

``--quick`` is a smoke run with small sizes (minutes, not half an hour) that prints its
figures and leaves docs/benchmarks.md alone.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from common import CODE_LABEL_ENV, DOC, ROOT, LoadGuard, section_preamble, write_section

BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable
CHECKOUT = ROOT / ".cache" / "bench-code"

FULL: dict[str, list[str]] = {
    "perf": [],
    "query_overlap": [],
    "load": [],
    "hnsw": [],
    "retrieval_quality": [],
    "locomo": ["--if-present"],
    "categories": [],
    "extraction": [],
    "embeddings": [],
    "mem0_peer": [],
}
QUICK: dict[str, list[str]] = {
    "perf": ["--sizes", "1000,5000", "--users", "50", "--queries", "60", "--add-batches", "3",
             "--max-wait", "0", "--no-doc"],
    "query_overlap": ["--sizes", "1000", "--queries", "60", "--max-wait", "0"],
    "load": ["--seconds", "10", "--clients", "4", "--users", "20", "--seed-memories", "8", "--max-wait", "0", "--no-doc"],
    "hnsw": ["--rows", "5000", "--graphs", "8:64", "--queries", "100", "--max-wait", "0"],
    "retrieval_quality": ["--max-wait", "0", "--no-doc"],
    "locomo": ["--if-present", "--max-wait", "0", "--no-doc"],
    "categories": ["--no-doc", "--no-timing"],
    "extraction": ["--runs", "2"],
    "embeddings": ["--queries", "60", "--batch", "200", "--runs", "1"],
    "mem0_peer": ["--sizes", "500", "--queries", "60", "--add-batches", "2", "--max-wait", "0", "--no-doc"],
}
# Scripts that print markdown and leave the page to us.
WRAPPED = {
    "query_overlap": "Query embedding started early, and questions asked again (in-process search latency)",
    "hnsw": "HNSW graph parameters (insert cost, recall, query time; PostgreSQL)",
    "extraction": "Extraction (the default rule-based extractor on the labelled sentences)",
    "embeddings": "Embeddings (load, single-query latency, batch throughput)",
}


def display(script: str, args: Sequence[str]) -> str:
    return " ".join([".venv/bin/python", f"bench/{script}.py", *args])


def run(name: str, args: list[str], guard: LoadGuard, *, write: bool, env: dict[str, str], scripts: Path) -> bool:
    # Others' benchmarks come from the code measured (they import its newest parts); ours, which
    # write the page and keep their caches in this tree, from here.
    command = [PYTHON, str((scripts if name in WRAPPED else BENCH) / f"{name}.py"), *args]
    print(f"\n=== {display(name, args)}", file=sys.stderr, flush=True)
    started = time.perf_counter()
    if name in WRAPPED:
        guard.settle(name)
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
        sys.stderr.write(done.stderr)
        if done.returncode != 0:
            print(f"{name} failed ({done.returncode})", file=sys.stderr)
            return False
        lines = section_preamble(WRAPPED[name], display(name, args), postgres=False)
        body = "\n".join(lines) + "\n" + _demote(done.stdout)
        if write:
            write_section(name, body)
        print(done.stdout)
    else:
        done = subprocess.run(command, cwd=ROOT, env=env)
        if done.returncode != 0:
            print(f"{name} failed ({done.returncode})", file=sys.stderr)
            return False
    print(f"=== {name}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    return True


@contextmanager
def checkout(revision: str | None) -> Iterator[tuple[dict[str, str], Path]]:
    """The environment for the benchmarks and the bench/ folder of the code measured: as is, or
    a clean checkout of ``revision``."""
    if revision is None:
        yield dict(os.environ), BENCH
        return
    git = ["git", "-C", str(ROOT)]
    sha = subprocess.run([*git, "rev-parse", "--short", revision], capture_output=True, text=True, check=True).stdout.strip()
    _remove_checkout(git)
    subprocess.run([*git, "worktree", "add", "--detach", str(CHECKOUT), sha], check=True, capture_output=True)
    paths = [str(CHECKOUT / "server" / "src"), str(CHECKOUT / "sdk" / "src")]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    try:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), CODE_LABEL_ENV: f"`{sha}` (a clean checkout)"}
        yield env, CHECKOUT / "bench"
    finally:
        _remove_checkout(git)


def _remove_checkout(git: list[str]) -> None:
    if CHECKOUT.exists():
        subprocess.run([*git, "worktree", "remove", "--force", str(CHECKOUT)], capture_output=True)
        shutil.rmtree(CHECKOUT, ignore_errors=True)
    subprocess.run([*git, "worktree", "prune"], capture_output=True)


def _demote(markdown: str) -> str:
    """Headings of a wrapped script's output one level below the section's own."""
    out = []
    for line in markdown.strip().splitlines():
        if line.startswith("#"):
            line = "#" + line if line.startswith("##") else "###" + line[1:]
        out.append(line)
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated benchmarks to run (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated benchmarks to leave out")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not reference figures")
    parser.add_argument("--code", metavar="REV", help="measure a clean checkout of REV instead of the working tree")
    args = parser.parse_args(argv)

    plan = QUICK if args.quick else FULL
    names = [n for n in (args.only.split(",") if args.only else plan) if n]
    if unknown := [n for n in names + [s for s in args.skip.split(",") if s] if n not in plan]:
        parser.error(f"unknown benchmarks: {', '.join(unknown)}; known: {', '.join(plan)}")
    names = [n for n in names if n not in args.skip.split(",")]
    guard = LoadGuard(max_wait=0 if args.quick else 120)
    started = time.perf_counter()
    with checkout(args.code) as (env, scripts):
        failed = [name for name in names
                  if not run(name, list(plan[name]), guard, write=not args.quick, env=env, scripts=scripts)]
    minutes = (time.perf_counter() - started) / 60
    outcome = "left alone (--quick)" if args.quick else "rewritten"
    print(f"\nAll done in {minutes:.1f} minutes; {DOC.relative_to(ROOT)} {outcome}"
          + (f"; FAILED: {', '.join(failed)}" if failed else "."), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
