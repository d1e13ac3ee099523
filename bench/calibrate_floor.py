"""Fit the answerability gate (engine.retrieval.answerable) on the calibration split.

    .venv/bin/python bench/calibrate_floor.py [--cache PATH] [--features best_cosine,best_keyword,…] [--cv]
    .venv/bin/python bench/calibrate_floor.py --locomo [PATH]   # the floor's effect on LoCoMo's dev half

For each ingest variant (extractor, verbatim), every persona of the split is stored as
bench/retrieval_quality.py stores it (SQLite); every labelled question and every question of
no_answer.json is searched (hybrid, no floor) and the search's ``QueryEvidence`` is kept, with
the rank of the first answer (labelled questions) or "no answer". A logistic model is fitted
(Newton's method, a little L2) on: labelled questions whose answer is in the top 10 (positive)
against no-answer questions (negative), both variants pooled. The script prints the fitted
constants and, for a range of cutoffs, the recall@10 kept and the share of no-answer questions
emptied per variant, and the highest cutoff that loses at most one point of recall@10 on both.
Only the calibration split is ever searched, fitted on or printed: the held split is scored by
bench/retrieval_quality.py alone. ``--cache`` keeps the searches' evidence between runs
(delete it after changing what a search reads).

``--features`` picks the model's inputs among the ``QueryEvidence`` fields and these candidate
figures, which the benchmark computes beside each search (the server does not): ``lead_10th``
(the best cosine minus the tenth best of the dense read), ``lead_mean`` (minus the dense read's
mean), ``terms_absent`` (query terms no memory of the person holds), ``top3_coverage`` (the
idf-weighted share of the query's terms that the first three results hold) and ``query_terms``
(how many terms the query has; it mostly tells how the no-answer questions were written:
shorter). ``--cv`` also scores the fit by leaving one persona out at a time: each persona's
searches are judged by a model fitted on the others, the cutoff is chosen on those held-out
probabilities as above, and the table and the emptied share per kind follow. Read the
in-sample table as what the fit can do at best, the cross-validated one as what to expect.

``--locomo`` stores LoCoMo's development conversations as bench/locomo.py does (verbatim,
through the API) and searches each question once (hybrid, top 10, no floor), then reports for
no floor, the plain floor 0.085 (the default before the model) and the model at several
cutoffs: evidence recall@10 of categories 1–4, and the share of questions of categories 1–4
and of category 5 ("adversarial": about something not said, yet with evidence turns; not
no-answer questions) whose search comes back empty.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from retrieval_quality import TOP, VARIANTS, ingest, load_no_answer, load_personas, owner_of
from perf import forget_query_vectors
from stack import open_stack

from memoryos_server.engine.retrieval.answerable import FEATURES, QueryEvidence
from memoryos_server.engine.retrieval.text import keyword_terms
from memoryos_server.storage.index.scoring import idf
from memoryos_server.storage.types import utcnow

CANDIDATES = ("lead_10th", "lead_mean", "terms_absent", "top3_coverage", "query_terms")


class _RecordingIndex:
    """The search index, keeping the cosines of the last dense read (for the candidate figures)."""

    def __init__(self, index: Any) -> None:
        self.index = index
        self.cosines: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.index, name)

    def dense_and_similarities(self, *args: Any, **kwargs: Any) -> Any:
        hits, also = self.index.dense_and_similarities(*args, **kwargs)
        self.cosines = sorted((score for _id, score in hits), reverse=True)
        return hits, also


def candidates(query: str, found: list[str], cosines: list[float], terms_of: dict[str, set[str]]) -> dict[str, float]:
    """The candidate figures of one search (module docstring): ``found`` the result ids best
    first, ``cosines`` the dense read's, ``terms_of`` each memory's keyword terms."""
    terms = list(dict.fromkeys(keyword_terms(query)))
    held = {t: sum(1 for held_terms in terms_of.values() if t in held_terms) for t in terms}
    weight = {t: idf(held[t], len(terms_of)) for t in terms}
    top = set().union(*(terms_of.get(m, set()) for m in found[:3]))
    best = cosines[0] if cosines else 0.0
    return {
        "lead_10th": best - (cosines[min(9, len(cosines) - 1)] if cosines else 0.0),
        "lead_mean": best - (sum(cosines) / len(cosines) if cosines else 0.0),
        "terms_absent": float(sum(1 for t in terms if not held[t])),
        "top3_coverage": sum(weight[t] for t in terms if t in top) / (sum(weight.values()) or 1.0),
        "query_terms": float(len(terms)),
    }


def split_of(persona_id: str) -> str:
    return "calibration" if int(persona_id[1:3]) % 2 == 1 else "held"


def evidence_of(stack: Any, owner: Any, query: str) -> tuple[list[str], QueryEvidence]:
    memory = stack.services.memory
    forget_query_vectors(stack)
    with stack.read_session() as session:
        ranked = memory.retriever.search(
            session, owner, memory.codec(owner), query=query, limit=TOP, categories=None,
            time_filter_days=None, as_of=None, now=utcnow(),
        )
    return [m.id for m in ranked.memories], ranked.evidence


def collect(split: str) -> list[dict[str, Any]]:
    personas = [p for p in load_personas() if split_of(p.persona_id) == split]
    no_answer = [q for q in load_no_answer() if q["split"] == split]
    rows: list[dict[str, Any]] = []
    for variant in VARIANTS:
        stack = open_stack("sqlite", label="floor")
        retriever = stack.services.memory.retriever
        reads = retriever.index = _RecordingIndex(retriever.index)
        try:
            for persona in personas:
                turns_of, text, _s = ingest(stack, persona, infer=variant == "extractor")
                owner = owner_of(stack, persona.persona_id)
                terms_of = {mid: set(keyword_terms(content)) for mid, content in text.items()}
                asked = [(q["question"], "labelled", set(q["answer_turn_ids"])) for q in persona.questions]
                asked += [(q["question"], q["kind"], set()) for q in no_answer if q["persona_id"] == persona.persona_id]
                for query, kind, answers in asked:
                    relevant = {mid for mid, turns in turns_of.items() if turns & answers}
                    found, evidence = evidence_of(stack, owner, query)
                    first = next((i + 1 for i, mid in enumerate(found) if mid in relevant), None)
                    rows.append({"variant": variant, "persona": persona.persona_id, "kind": kind,
                                 "question": query, "first": first,
                                 "evidence": evidence.as_dict() | candidates(query, found, reads.cosines, terms_of)})
                print(f"{variant} {persona.persona_id}", file=sys.stderr)
        finally:
            stack.close()
    return rows


def fit_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float = 1e-3) -> tuple[float, np.ndarray]:
    """Weighted logistic regression by Newton's method; x standardised inside, weights returned
    on the raw scale."""
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([np.ones((len(x), 1)), (x - mean) / std])
    beta = np.zeros(z.shape[1])
    for _ in range(100):
        p = 1 / (1 + np.exp(-z @ beta))
        grad = z.T @ (weight * (p - y)) + l2 * np.r_[0, beta[1:]]
        hess = (z * (weight * p * (1 - p))[:, None]).T @ z + l2 * np.diag(np.r_[0, np.ones(len(beta) - 1)])
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-9:
            break
    raw = beta[1:] / std
    return float(beta[0] - (raw * mean).sum()), raw


def fit(x: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> tuple[float, np.ndarray]:
    """The logistic model of positive against negative searches, each class weighed equally."""
    keep = positive | negative
    weight = np.where(positive, 1.0 / positive.sum(), 1.0 / negative.sum())[keep]
    return fit_logistic(x[keep], positive[keep].astype(float), weight)


def cutoffs(rows: list[dict[str, Any]], p: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> float:
    """Print, per cutoff, the recall@10 lost and the no-answer searches emptied per variant, then
    the highest cutoff losing at most one point on both and what it empties per kind."""
    labelled = np.asarray([r["kind"] == "labelled" for r in rows])
    kinds = np.asarray([r["kind"] for r in rows])
    variants = [np.asarray([r["variant"] == variant for r in rows]) for variant in VARIANTS]
    print("| cutoff | " + " | ".join(f"recall@10 lost, {v} | empty, {v}" for v in VARIANTS) + " |")
    print("|---:|" + "---:|---:|" * len(VARIANTS))
    best_cutoff = 0.0
    for cutoff in np.round(np.arange(0.01, 0.81, 0.01), 2):
        cells, within = [], True
        for v in variants:
            lost = (v & positive & (p < cutoff)).sum() / (v & labelled).sum()
            empty = (v & negative & (p < cutoff)).sum() / (v & negative).sum()
            within &= lost <= 0.01
            cells += [f"{100 * lost:.1f} pt", f"{100 * empty:.1f}%"]
        print(f"| {cutoff:.2f} | " + " | ".join(cells) + " |")
        if within:
            best_cutoff = float(cutoff)
    print(f"highest cutoff losing at most one point of recall@10 on both variants: {best_cutoff:.2f}")
    for variant, v in zip(VARIANTS, variants, strict=True):
        shares = []
        for kind in sorted(set(kinds[negative])):
            asked = v & (kinds == kind)
            shares.append(f"{kind} {(asked & (p < best_cutoff)).sum()}/{asked.sum()}")
        print(f"  at {best_cutoff:.2f}, {variant}: " + ", ".join(shares) + " emptied")
    return best_cutoff


def locomo_effect(path: Path | None) -> None:
    import dataclasses

    import httpx
    import locomo

    from memoryos_server.engine.retrieval.answerable import ANSWERABILITY, SearchFloor

    conversations = [c for c in locomo.load(locomo.data_path(str(path) if path else None)) if c.half == "dev"]
    stack = open_stack("sqlite", label="floor-locomo")
    asked: list[tuple[int, frozenset[str], set[str], QueryEvidence]] = []
    try:
        with stack.http_server() as base, httpx.Client(base_url=base, timeout=120) as client:
            stored = {c.sample_id: locomo.store_verbatim(client, stack, c) for c in conversations}
        for conversation in conversations:
            owner = locomo.owner_of(stack, conversation.sample_id)
            for question in conversation.questions:
                found, evidence = evidence_of(stack, owner, question.text)
                turns = {t for mid in found for t in stored[conversation.sample_id].turns_of.get(mid, ())}
                asked.append((question.category, question.evidence, turns, evidence))
            print(f"{conversation.sample_id}: {len(conversation.questions)} questions", file=sys.stderr)
    finally:
        stack.close()
    floors = [("no floor", SearchFloor()), ("min_relevance 0.085", SearchFloor(min_relevance=0.085))]
    floors += [(f"model, cutoff {c}", SearchFloor(model=dataclasses.replace(ANSWERABILITY, cutoff=c)))
               for c in sorted({ANSWERABILITY.cutoff, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7})]
    scored = [a for a in asked if a[0] in locomo.SCORED_CATEGORIES]
    adversarial = [a for a in asked if a[0] not in locomo.SCORED_CATEGORIES]
    print(f"LoCoMo dev: {len(conversations)} conversations, {len(scored)} questions of categories 1-4, "
          f"{len(adversarial)} of category 5")
    print("| floor | evidence recall@10, cat. 1-4 | empty, cat. 1-4 | empty, cat. 5 |")
    print("|---|---:|---:|---:|")
    for name, floor in floors:
        recall = sum(len(ev & found) / len(ev) for _c, ev, found, e in scored if ev and floor.admits(e))
        count = sum(1 for _c, ev, _f, _e in scored if ev)
        empty = sum(1 for *_rest, e in scored if not floor.admits(e))
        empty5 = sum(1 for *_rest, e in adversarial if not floor.admits(e))
        print(f"| {name} | {recall / count:.3f} | {100 * empty / len(scored):.1f}% "
              f"| {100 * empty5 / max(len(adversarial), 1):.1f}% |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/floor-features-calibration.json"))
    parser.add_argument("--features", default=",".join(FEATURES))
    parser.add_argument("--cv", action="store_true", help="also score the fit leaving one persona out at a time")
    parser.add_argument("--locomo", nargs="?", const="", default=None, metavar="PATH",
                        help="report the floor's effect on LoCoMo's dev half instead (PATH as bench/locomo.py's --data)")
    args = parser.parse_args(argv)
    if args.locomo is not None:
        locomo_effect(Path(args.locomo) if args.locomo else None)
        return 0
    if args.cache.exists():
        rows = json.loads(args.cache.read_text())
    else:
        rows = collect("calibration")
        args.cache.write_text(json.dumps(rows))
    used = args.features.split(",")
    if unknown := set(used) - set(FEATURES) - set(QueryEvidence().as_dict()) - set(CANDIDATES):
        parser.error(f"unknown features {sorted(unknown)}")
    if missing := [name for name in used if name not in rows[0]["evidence"]]:
        parser.error(f"the cache at {args.cache} has no {missing}: delete it to search again")
    x = np.asarray([[r["evidence"][name] for name in used] for r in rows])
    positive = np.asarray([r["kind"] == "labelled" and r["first"] is not None for r in rows])
    negative = np.asarray([r["kind"] != "labelled" for r in rows])
    intercept, coef = fit(x, positive, negative)
    print(f"features: {used}")
    print(f"intercept={intercept:.3f}, weights=({', '.join(f'{c:.3f}' for c in coef)})")
    print("In-sample (the fit scores the searches it was fitted on):")
    cutoffs(rows, 1 / (1 + np.exp(-(intercept + x @ coef))), positive, negative)
    if args.cv:
        persona = np.asarray([r["persona"] for r in rows])
        held_out = np.zeros(len(rows))
        for left_out in sorted(set(persona)):
            test = persona == left_out
            b0, b = fit(x[~test], positive[~test], negative[~test])
            held_out[test] = 1 / (1 + np.exp(-(b0 + x[test] @ b)))
        print(f"Cross-validated (leave one of {len(set(persona))} personas out):")
        cutoffs(rows, held_out, positive, negative)
    return 0


if __name__ == "__main__":
    sys.exit(main())
