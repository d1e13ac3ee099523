"""Embedding benchmark: build and load time, single-query latency and batch throughput.

    .venv/bin/python bench/embeddings.py [--queries 300] [--batch 1000] [--runs 3] [--threads N]

Embedders: the local all-MiniLM-L6-v2 graph in int8 (the default: weights per channel,
activations per token row, batches of 32; and one text per run for comparison) and in fp32,
and the hashing embedder. Each ONNX variant is
first built into an empty temporary cache ("build"), then opened from that warm cache by a new
embedder ("load": weights digest memo, session and tokenizer, modules already imported).
Latency embeds one text per call (memory-like texts of 5 to 45 words, about 26 word pieces
on average; and a 13-piece search query); throughput embeds the whole batch in one call, best
of several runs. "cos to fp32" compares each vector with the fp32 vector of the same text.
Prints a markdown table; other processes on the machine show in the load average it reports.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from memoryos_server.engine.embeddings import HashingEmbedder, LocalMiniLMEmbedder
from memoryos_server.engine.types import Embedder

# 13 word pieces with [CLS] and [SEP]: a typical search query, shorter than a stored memory.
SHORT_QUERY = "What do I like to eat for breakfast on weekends?"
_SUBJECTS = ["I", "My sister", "Our team", "The user", "My manager", "We", "My doctor", "The client"]
_VERBS = ["prefer", "usually ask for", "moved", "scheduled", "hate", "want", "switched to", "recommend"]
_OBJECTS = [
    "short answers with Python examples",
    "the meeting to Thursday afternoon",
    "vegetarian restaurants near the office",
    "PostgreSQL instead of MySQL for the billing service",
    "a dentist appointment next Tuesday at 9am",
    "replies in Spanish when the topic is personal",
    "the quarterly budget review of 25,000 euros",
    "hiking in the Alps with the whole family every August",
]
_TAILS = [
    "",
    "because it saves time.",
    "and this has been true since 2019, when we first started working together on the project.",
    "unless the question is about security, deployment or anything that touches customer data, "
    "in which case long and careful explanations with references are better.",
]


def sample_texts(count: int, seed: int) -> list[str]:
    """Memory-like sentences of 5 to ~45 words, reproducible from the seed."""
    rng = random.Random(seed)
    return [
        " ".join(part for part in (rng.choice(_SUBJECTS), rng.choice(_VERBS), rng.choice(_OBJECTS), rng.choice(_TAILS)) if part)
        for _ in range(count)
    ]


@dataclass
class Row:
    name: str
    build_s: float | None
    load_s: float | None
    median_ms: float
    p95_ms: float
    short_ms: float
    texts_per_s: float
    cosine: str = "—"


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def measure(name: str, make: Callable[[], Embedder], queries: list[str], batch: list[str], runs: int,
            build: Callable[[], float] | None = None) -> tuple[Row, np.ndarray]:
    build_s = build() if build else None
    embedder = make()
    load = getattr(embedder, "load", None)
    load_s = timed(load) if callable(load) else None
    embedder.embed(queries[:20])  # warm caches and thread pools
    latencies = sorted(timed(lambda q=q: embedder.embed([q])) for q in queries)
    p95 = latencies[min(len(latencies) - 1, int(round(0.95 * len(latencies))) - 1)]
    short = statistics.median(timed(lambda: embedder.embed([SHORT_QUERY])) for _ in range(len(queries)))
    vectors = embedder.embed(batch)
    best = min(timed(lambda: embedder.embed(batch)) for _ in range(runs))
    row = Row(name, build_s, load_s, statistics.median(latencies) * 1e3, p95 * 1e3, short * 1e3, len(batch) / best)
    return row, vectors


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--queries", type=int, default=300, help="single-text calls for the latency figures")
    parser.add_argument("--batch", type=int, default=1000, help="texts in the throughput batch")
    parser.add_argument("--runs", type=int, default=3, help="throughput runs; the best is reported")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    parser.add_argument("--spin-wait", action="store_true", help="let idle ONNX Runtime threads spin")
    args = parser.parse_args(argv)

    queries = sample_texts(args.queries, seed=1)
    batch = sample_texts(args.batch, seed=2)
    rows: list[Row] = []
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory(prefix="memoryos-bench-") as scratch:
        cache = Path(scratch)
        vectors: dict[str, np.ndarray] = {}
        configs = [  # label, quantized, batch_size (None: the embedder's default), build first
            ("MiniLM int8, batches of 32 (default)", True, None, True),
            ("MiniLM int8, one text per run", True, 1, False),
            ("MiniLM fp32, batches of 32 (default)", False, None, True),
        ]
        for label, quantized, batch_size, cold in configs:
            def make(quantized: bool = quantized, batch_size: int | None = batch_size) -> LocalMiniLMEmbedder:
                return LocalMiniLMEmbedder(
                    cache, quantized=quantized, threads=args.threads, batch_size=batch_size, spin_wait=args.spin_wait
                )

            def build(make: Callable[[], LocalMiniLMEmbedder] = make) -> float:
                return timed(make().load)

            row, vectors[label] = measure(label, make, queries, batch, args.runs, build if cold else None)
            rows.append(row)
        fp32 = vectors[configs[-1][0]]
        for row in rows:
            cos = (vectors[row.name] * fp32).sum(axis=1)
            row.cosine = f"{cos.mean():.4f} (min {cos.min():.4f})" if row is not rows[-1] else "1"
        hashing_row, _ = measure("hashing (384)", HashingEmbedder, queries, batch, args.runs)
        rows.append(hashing_row)

    threads = args.threads or LocalMiniLMEmbedder(Path(".")).threads
    print(f"Embeddings — {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {threads} intra-op thread(s), spin wait {'on' if args.spin_wait else 'off'}; "
          f"{args.queries} single queries, batch of {args.batch} (best of {args.runs}); "
          f"load average {load_before:.2f} → {os.getloadavg()[0]:.2f}\n")
    print("| embedder | build (cold cache) | load (warm cache) | 1 query median | 1 query p95 "
          "| short query median | batch throughput | cos to fp32 |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        build_cell = f"{r.build_s:.2f} s" if r.build_s is not None else "—"
        load_cell = f"{r.load_s * 1e3:.0f} ms" if r.load_s is not None else "—"
        print(f"| {r.name} | {build_cell} | {load_cell} | {r.median_ms:.2f} ms | {r.p95_ms:.2f} ms "
              f"| {r.short_ms:.2f} ms | {r.texts_per_s:,.0f} texts/s | {r.cosine} |")


if __name__ == "__main__":
    sys.exit(main())
