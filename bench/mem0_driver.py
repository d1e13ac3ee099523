"""Drives mem0 for bench/mem0_peer.py. Runs inside mem0's own venv; imports nothing of ours.

    .cache/mem0-venv/bin/python bench/mem0_driver.py JOB.json RESULT.json

JOB.json (written by mem0_peer.py): sizes, texts (the load pool), queries, fresh (texts for the
measured adds), batch (messages per add), add_batches, model_dir (MiniLM folder), scratch
(a temporary directory), quiet and max_wait (the load-average wait before timed sections).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def cpu_busy(interval: float = 2.0) -> float:
    """Cores' worth of CPU used by other processes than this one over ``interval`` seconds
    (as bench/common.py, which also leaves out children; this driver starts none)."""

    def sample() -> tuple[int, int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        own = Path("/proc/self/stat").read_text()
        own_fields = own[own.rindex(")") + 2 :].split()
        return sum(fields[:8]), fields[3] + fields[4], int(own_fields[11]) + int(own_fields[12])

    total0, idle0, own0 = sample()
    time.sleep(interval)
    total1, idle1, own1 = sample()
    spent = total1 - total0
    busy = (spent - (idle1 - idle0)) - (own1 - own0)
    return max(0.0, (os.cpu_count() or 1) * busy / spent) if spent > 0 else 0.0


def settle(quiet: float, max_wait: float) -> str:
    """Wait for a quiet machine (as bench/common.py's LoadGuard); "load average / cores busy"."""
    start = time.monotonic()
    while True:
        load, busy = os.getloadavg()[0], cpu_busy()
        if load <= quiet or busy <= quiet or time.monotonic() - start >= max_wait:
            return f"{load:.2f} / {busy:.2f}"
        time.sleep(3)


def main() -> int:
    job = json.loads(Path(sys.argv[1]).read_text())
    scratch = Path(job["scratch"])
    from mem0 import Memory  # imported here: the venv, not ours

    memory = Memory.from_config({
        "embedder": {"provider": "huggingface", "config": {"model": job["model_dir"], "embedding_dims": 384}},
        "vector_store": {"provider": "qdrant", "config": {
            "collection_name": "bench", "path": str(scratch / "qdrant"), "embedding_model_dims": 384, "on_disk": False,
        }},
        "history_db_path": str(scratch / "history.db"),
    })
    user = "user-0"
    texts, fresh, batch = job["texts"], job["fresh"], job["batch"]
    filters = {"user_id": user}
    result: dict[str, object] = {"points": [], "load_rates": [], "notes": []}
    loaded, at, count = 0, 0, 0

    def add(messages: list[str]) -> int:
        out = memory.add([{"role": "user", "content": t} for t in messages], user_id=user, infer=False)
        return len(out["results"])

    memory.search("warm up", filters=filters, top_k=10)
    for size in job["sizes"]:
        need = size - count
        if need > 0:
            started = time.perf_counter()
            for start in range(loaded, loaded + need, batch):
                count += add(texts[start : min(start + batch, loaded + need)])
                if (start - loaded) % (20 * batch) == 0:
                    rate = (start - loaded + batch) / (time.perf_counter() - started)
                    print(f"mem0: {start - loaded + batch:,}/{need:,} at {rate:.0f}/s", file=sys.stderr, flush=True)
            seconds = time.perf_counter() - started
            result["load_rates"].append({"rows": need, "rate": need / seconds})  # type: ignore[union-attr]
            print(f"mem0: loaded {need:,} in {seconds:.0f} s", file=sys.stderr, flush=True)
            loaded += need
        memories = count
        for query in job["warm_queries"]:  # warm pass on other queries, as for ours
            memory.search(query, filters=filters, top_k=10)
        search_load = settle(job["quiet"], job["max_wait"])
        latencies = []
        wall_start = time.perf_counter()
        for query in job["queries"]:
            t0 = time.perf_counter()
            memory.search(query, filters=filters, top_k=10)
            latencies.append(time.perf_counter() - t0)
        wall = time.perf_counter() - wall_start
        add_load = settle(job["quiet"], job["max_wait"])
        adds = []
        for _ in range(job["add_batches"]):
            chunk, at = fresh[at : at + batch], at + batch
            t0 = time.perf_counter()
            count += add(chunk)
            adds.append(time.perf_counter() - t0)
        result["points"].append({  # type: ignore[union-attr]
            "size": size, "memories": memories, "search": latencies, "search_wall": wall, "search_load": search_load,
            "add": adds, "add_load": add_load, "messages": job["add_batches"] * batch,
        })
        print(f"mem0: {memories:,} memories measured", file=sys.stderr, flush=True)
    import mem0

    result["notes"].append(f"mem0 {getattr(mem0, '__version__', '?')} from {Path(mem0.__file__).parent}")  # type: ignore[union-attr]
    Path(sys.argv[2]).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
