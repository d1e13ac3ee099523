"""Retrieval quality: recall@5, recall@10 and MRR on the labelled conversations, for hybrid,
dense-only and keyword-only retrieval, in one run.

    .venv/bin/python bench/retrieval_quality.py [--backends sqlite] [--variants extractor,verbatim] [--no-doc]

The set (bench/data/retrieval/*.json) holds, per persona, dated sessions of chat turns and
questions an agent might ask, each labelled with the user turns that answer it.

For each persona (one end-user of one tenant), every user turn goes through the real add path
(``MemoryService.add``, what ``POST /v1/memories/add`` calls) as its own add, dated by its
session, in session order, in one of two variants:

- ``extractor``: the default rule-based extractor (``infer: true``);
- ``verbatim``: ``infer: false``, every user turn stored as it was written.

Each memory the add reports (ADD, CONFLICT, and also UPDATE or NOOP of an existing memory) is
mapped to that turn; a memory an UPDATE rewrote keeps the turns it came from before too. Then
each question is searched for that persona's end-user (top 10) with both signals (hybrid, the
service default), dense only and keyword only — ``Retriever.search(signals=…)``, the function
the service's retrieve calls. A question is a hit at k when a memory mapped to one of its
answer turns is among the first k results. "Answer stored" counts questions for which any
memory maps to an answer turn at all: no ranking can find what extraction did not keep.

**The relevance floor.** Hybrid rows are measured with the server's default floor
(``Runtime.search_floor``: with the local model, the answerability model of
``engine.retrieval.answerable``): a search it does not admit returns nothing. The questions of
``no_answer.json`` (per persona, things the person never said, and questions that have nothing
to do with them) should return nothing; two tables show, for each answerability cutoff and for
each plain floor on the best relevance (what a request's ``min_relevance`` sets), recall@10 and
the share of those questions that come back empty, on the calibration split (odd-numbered
personas, the one the model was fitted and the default chosen on) and the held-aside split.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from common import LoadGuard, command_line, section_preamble, write_section
from perf import forget_query_vectors
from stack import Stack, open_stack, postgres_problem

from memoryos_server.engine.embeddings.local import LocalMiniLMEmbedder
from memoryos_server.engine.retrieval.answerable import NO_FLOOR, QueryEvidence, SearchFloor
from memoryos_server.services.memory.owner import MemoryOwner
from memoryos_server.storage.types import utcnow

DATA = Path(__file__).resolve().parent / "data" / "retrieval"
NO_ANSWER = DATA / "no_answer.json"
FLOORS = (0.0, 0.05, 0.08, 0.09, 0.1, 0.12, 0.15, 0.2, 0.25, 0.3)
CUTOFFS = (0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)
# The default embedder's (LocalMiniLMEmbedder.answerability; Runtime.search_floor applies it).
DEFAULT_MODEL = LocalMiniLMEmbedder.answerability
SIGNALS: dict[str, tuple[str, ...]] = {
    "hybrid": ("dense", "keyword"),
    "dense only": ("dense",),
    "keyword only": ("keyword",),
}
VARIANTS = ("extractor", "verbatim")
TOP = 10
EXAMPLE_MISSES = 6


@dataclass
class Persona:
    persona_id: str
    turns: list[tuple[str, str, datetime]]  # (turn_id, content, session date) — user turns only
    questions: list[dict[str, Any]]
    text_of: dict[str, str]


@dataclass
class Scores:
    hits5: int = 0
    hits10: int = 0
    reciprocal: float = 0.0
    count: int = 0
    answerable: int = 0
    hits10_answerable: int = 0
    misses: list[dict[str, Any]] = field(default_factory=list)
    # Hybrid only, without a floor: (the search's evidence, rank of the first answer or None) per question.
    floorless: list[tuple[QueryEvidence, int | None]] = field(default_factory=list)


def load_personas(directory: Path = DATA) -> list[Persona]:
    personas = []
    for path in sorted(directory.glob("p*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        turns, text_of = [], {}
        for session in data["sessions"]:
            day = datetime.fromisoformat(session["date"]).replace(hour=12, tzinfo=timezone.utc)
            for turn in session["turns"]:
                text_of[turn["turn_id"]] = turn["content"]
                if turn["role"] == "user":
                    turns.append((turn["turn_id"], turn["content"], day))
        personas.append(Persona(data["persona_id"], turns, data["questions"], text_of))
    return personas


def ingest(stack: Stack, persona: Persona, *, infer: bool) -> tuple[dict[str, set[str]], dict[str, str], float]:
    """Add every user turn; returns memory id → turns, memory id → latest text, and seconds spent."""
    turns_of: dict[str, set[str]] = defaultdict(set)
    text: dict[str, str] = {}
    started = time.perf_counter()
    for turn_id, content, day in persona.turns:
        result = stack.add(persona.persona_id, [content], infer=infer, metadata={"turn_id": turn_id}, occurred_at=day)
        for event in result["results"]:
            turns_of[event["id"]].add(turn_id)
            text[event["id"]] = event["memory"]
    return turns_of, text, time.perf_counter() - started


def search(stack: Stack, owner: MemoryOwner, query: str, signals: tuple[str, ...], *, floor: SearchFloor = NO_FLOOR
           ) -> tuple[list[str], QueryEvidence]:
    """Memory ids best first, and the search's evidence (what the floor reads)."""
    memory = stack.services.memory
    forget_query_vectors(stack)  # each signal setting embeds the question itself, as a first search would
    with stack.read_session() as session:
        ranked = memory.retriever.search(
            session, owner, memory.codec(owner), query=query, limit=TOP, categories=None,
            time_filter_days=None, as_of=None, now=utcnow(), signals=signals, floor=floor,
        )
    return [m.id for m in ranked.memories], ranked.evidence


def load_no_answer(path: Path = NO_ANSWER) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    questions: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["questions"]
    return questions


def owner_of(stack: Stack, end_user: str) -> MemoryOwner:
    with stack.read_session() as session:
        user = stack.services.identity.end_user(session, stack.principal, end_user, create=False)
    return MemoryOwner.end_user(user, tenant_id=stack.principal.tenant_id)


def evaluate(backend: str, variant: str, personas: Sequence[Persona], guard: LoadGuard,
             no_answer: Sequence[dict[str, Any]] = ()) -> tuple[dict[str, Scores], dict[str, Any]]:
    stack = open_stack(backend, label="quality")
    scores = {name: Scores() for name in SIGNALS}
    stats: dict[str, Any] = {"turns": 0, "memories": 0, "add_seconds": 0.0, "search_ms": defaultdict(list),
                             "no_answer": []}
    try:
        stack.runtime.embedder.embed(["warm up"])
        guard.settle(f"quality {backend}/{variant} ingest")
        maps = {}
        for persona in personas:
            turns_of, text, seconds = ingest(stack, persona, infer=variant == "extractor")
            maps[persona.persona_id] = (turns_of, text)
            stats["turns"] += len(persona.turns)
            stats["memories"] += len(turns_of)
            stats["add_seconds"] += seconds
        guard.settle(f"quality {backend}/{variant} search")
        for persona in personas:
            turns_of, text = maps[persona.persona_id]
            owner = owner_of(stack, persona.persona_id)
            for question in persona.questions:
                answers = set(question["answer_turn_ids"])
                relevant = {mid for mid, turns in turns_of.items() if turns & answers}
                for name, signals in SIGNALS.items():
                    started = time.perf_counter()
                    floor = stack.runtime.search_floor if name == "hybrid" else NO_FLOOR
                    found, evidence = search(stack, owner, question["question"], signals, floor=floor)
                    stats["search_ms"][name].append((time.perf_counter() - started) * 1e3)
                    s = scores[name]
                    if name == "hybrid":
                        unfloored = found if floor.admits(evidence) else search(stack, owner, question["question"], signals)[0]
                        first = next((i + 1 for i, mid in enumerate(unfloored) if mid in relevant), None)
                        s.floorless.append((evidence, first))
                    s.count += 1
                    s.answerable += bool(relevant)
                    rank = next((i + 1 for i, mid in enumerate(found) if mid in relevant), None)
                    if rank is not None:
                        s.reciprocal += 1.0 / rank
                        s.hits10 += 1
                        s.hits5 += rank <= 5
                        s.hits10_answerable += 1
                    else:
                        s.misses.append({
                            "persona": persona.persona_id,
                            "question": question["question"],
                            "answer": " / ".join(persona.text_of[t] for t in question["answer_turn_ids"]),
                            "stored": [text[m] for m in relevant],
                            "top": [text.get(m, "?") for m in found[:3]],
                        })
        by_persona = {p.persona_id: p for p in personas}
        for item in no_answer:
            if item["persona_id"] not in by_persona:
                continue
            owner = owner_of(stack, item["persona_id"])
            _found, evidence = search(stack, owner, item["question"], SIGNALS["hybrid"])
            stats["no_answer"].append({**item, "evidence": evidence})
    finally:
        stack.close()
    return scores, stats


def pct(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "n/a"


def render(results: dict[tuple[str, str], tuple[dict[str, Scores], dict[str, Any]]], personas: Sequence[Persona],
           command: str, guard: LoadGuard, backends: Sequence[str]) -> str:
    questions = sum(len(p.questions) for p in personas)
    turns = sum(len(p.turns) for p in personas)
    lines = section_preamble(
        "Retrieval quality (recall@k on the labelled conversations)", command,
        postgres="postgresql" in backends,
        extra=[
            f"Set: {len(personas)} personas, {turns} user turns, {questions} questions (bench/data/retrieval/)",
            "Each user turn is one add through the tenant memory service, dated by its session; each question is "
            f"searched for its persona's end-user, top {TOP}. A hit at k: a memory made from (or restated by) an "
            "answer turn is in the first k. Same adds, same queries for the three signal settings.",
        ],
    )
    lines += [
        "| backend | ingest | signals | recall@5 | recall@10 | MRR@10 | answer stored | recall@10 where stored | search p50 |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for (backend, variant), (scores, stats) in results.items():
        for name, s in scores.items():
            lines.append(
                f"| {backend} | {variant} | {name} | {pct(s.hits5, s.count)} | {pct(s.hits10, s.count)} "
                f"| {s.reciprocal / s.count:.3f} | {pct(s.answerable, s.count)} | {pct(s.hits10_answerable, s.answerable)} "
                f"| {statistics.median(stats['search_ms'][name]):.1f} ms |"
            )
    for (backend, variant), (scores, _stats) in results.items():
        s = scores["hybrid"]
        hits5 = sum(1 for _best, first in s.floorless if first is not None and first <= 5)
        hits10 = sum(1 for _best, first in s.floorless if first is not None)
        mrr = sum(1.0 / first for _best, first in s.floorless if first is not None)
        lines.append(
            f"| {backend} | {variant} | hybrid, no floor | {pct(hits5, s.count)} | {pct(hits10, s.count)} "
            f"| {mrr / s.count:.3f} | {pct(s.answerable, s.count)} | {pct(hits10, s.answerable)} | — |"
        )
    lines += ["", "Hybrid rows use the default floor (the answerability model, cutoff "
              f"{DEFAULT_MODEL.cutoff}); dense and keyword alone, none.", ""]
    lines += _floor_table(results)
    lines.append("")
    for (backend, variant), (_scores, stats) in results.items():
        lines.append(
            f"- {backend}, {variant}: {stats['turns']} adds → {stats['memories']} memories, "
            f"{stats['turns'] / stats['add_seconds']:.0f} adds/s (one turn per add, embedding included)."
        )
    verdicts = []
    for (backend, variant), (scores, _stats) in results.items():
        # Like for like: the blend without the floor against each signal alone (no floor either).
        hybrid = sum(1 for _best, first in scores["hybrid"].floorless if first is not None)
        best_single = max(scores["dense only"].hits10, scores["keyword only"].hits10)
        verdict = "met" if hybrid > best_single else "missed"
        verdicts.append(
            f"- Target (hybrid recall@10, no floor, above both single signals), {backend}/{variant}: **{verdict}** "
            f"({pct(hybrid, scores['hybrid'].count)} vs dense {pct(scores['dense only'].hits10, scores['dense only'].count)}, "
            f"keyword {pct(scores['keyword only'].hits10, scores['keyword only'].count)})."
        )
    lines += ["", *verdicts]
    for (backend, variant), (scores, _stats) in results.items():
        misses = scores["hybrid"].misses
        ranking = [m for m in misses if m["stored"]]
        extraction = [m for m in misses if not m["stored"]]
        picked = _spread(ranking, EXAMPLE_MISSES // 2) + _spread(extraction, EXAMPLE_MISSES // 2)
        if not picked:
            continue
        lines += ["", f"Example misses, hybrid, {backend}/{variant} ({len(ranking)} stored but not in the top {TOP}, "
                  f"{len(extraction)} never stored):", ""]
        for miss in picked:
            stored = "; ".join(f"“{t}”" for t in miss["stored"]) or "nothing (extraction kept no memory)"
            top = "; ".join(f"“{t}”" for t in miss["top"]) or "nothing"
            lines.append(f"- **{miss['question']}** ({miss['persona']}) — answer turn: “{miss['answer']}”; "
                         f"stored as: {stored}; top 3 instead: {top}")
    lines += ["", f"Load: {guard.summary()} Recall does not depend on load; the timings do."]
    return "\n".join(lines)


def _floor_table(results: dict[tuple[str, str], tuple[dict[str, Scores], dict[str, Any]]]) -> list[str]:
    """Recall@10 and the share of no-answer questions returning nothing, for each answerability
    cutoff and each plain relevance floor."""
    keys = list(results)
    if not any(stats["no_answer"] for _scores, stats in results.values()):
        return []
    head = []
    for _backend, variant in keys:
        head += [f"recall@10 {variant}", f"empty, calibration {variant}", f"empty, held {variant}"]

    def rows(settings: list[float], floor_of: Any, default: float | None) -> list[str]:
        out = []
        for setting in settings:
            floor = floor_of(setting)
            cells = [f"**{setting}** (default)" if setting == default else f"{setting}"]
            for key in keys:
                scores, stats = results[key]
                s = scores["hybrid"]
                hits = sum(1 for evidence, first in s.floorless if first is not None and floor.admits(evidence))
                cells.append(pct(hits, s.count))
                for split in ("calibration", "held"):
                    asked = [q for q in stats["no_answer"] if q["split"] == split]
                    cells.append(pct(sum(1 for q in asked if not floor.admits(q["evidence"])), len(asked)))
            out.append("| " + " | ".join(cells) + " |")
        return out

    model = DEFAULT_MODEL
    lines = [
        "The floor: a search it does not admit returns nothing. Recall@10 over all labelled questions; "
        "\"empty\": share of the questions nothing answers (`no_answer.json`) that return nothing, on the "
        "calibration split (odd-numbered personas, where the model was fitted and the default chosen) and "
        "the held-aside one.",
        "",
        "Answerability model (the default; `engine.retrieval.answerable`: logistic over the best cosine, "
        f"the best keyword share and a name no memory holds, intercept {model.intercept}, weights "
        f"{model.weights}), by cutoff "
        "(`MEMORYOS_RETRIEVAL_MIN_ANSWERABILITY`):",
        "",
        "| cutoff | " + " | ".join(head) + " |",
        "|" + "---:|" * (len(head) + 1),
        *rows(sorted({*CUTOFFS, model.cutoff}), lambda c: SearchFloor(model=dataclasses.replace(model, cutoff=c)),
              model.cutoff),
        "",
        "Plain floor on the best match's relevance (a request's `min_relevance`; `MEMORYOS_RETRIEVAL_MIN_RELEVANCE`; "
        "the default before the model, 0.085):",
        "",
        "| min_relevance | " + " | ".join(head) + " |",
        "|" + "---:|" * (len(head) + 1),
        *rows(sorted({*FLOORS, 0.085}), lambda f: SearchFloor(min_relevance=f), None),
    ]
    default = SearchFloor(model=model)
    for (backend, variant), (_scores, stats) in results.items():
        for kind in ("absent_fact", "off_topic"):
            for split in ("calibration", "held"):
                asked = [q for q in stats["no_answer"] if q["split"] == split and q["kind"] == kind]
                if asked:
                    empty = sum(1 for q in asked if not default.admits(q["evidence"]))
                    lines.append(f"- {backend}/{variant}, {kind.replace('_', ' ')}, {split}: {empty}/{len(asked)} "
                                 f"return nothing with the default floor.")
    return lines


def _spread(misses: Sequence[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """Up to ``count`` misses, one per persona."""
    picked: list[dict[str, Any]] = []
    seen: set[str] = set()
    for miss in misses:
        if miss["persona"] not in seen:
            picked.append(miss)
            seen.add(miss["persona"])
        if len(picked) == count:
            break
    return picked


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", default="sqlite", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated: extractor,verbatim")
    parser.add_argument("--max-wait", type=float, default=120, help="seconds to wait for a quiet machine per section")
    parser.add_argument("--no-doc", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)

    backends = [b for b in args.backends.split(",") if b]
    variants = [v for v in args.variants.split(",") if v]
    if unknown := set(variants) - set(VARIANTS):
        parser.error(f"unknown variants {sorted(unknown)}")
    if "postgresql" in backends and (problem := postgres_problem()):
        print(f"skipping postgresql: {problem}", file=sys.stderr)
        backends.remove("postgresql")
    personas = load_personas()
    if not personas:
        print(f"no labelled personas in {DATA}", file=sys.stderr)
        return 1
    guard = LoadGuard(max_wait=args.max_wait)
    results = {}
    for backend in backends:
        for variant in variants:
            print(f"{backend}/{variant}: ingesting {sum(len(p.turns) for p in personas)} turns …", file=sys.stderr)
            results[(backend, variant)] = evaluate(backend, variant, personas, guard, load_no_answer())
    body = render(results, personas, command_line("retrieval_quality.py", argv), guard, backends)
    print(body)
    if not args.no_doc:
        write_section("retrieval_quality", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
