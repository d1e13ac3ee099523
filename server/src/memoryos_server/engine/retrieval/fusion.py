"""Reciprocal rank fusion of the dense and keyword lists, then the lighter signals.

Fusion (Cormack, Clarke & Büttcher, SIGIR 2009), with 1-based ranks r:

    fused(d) = w_dense / (k + r_dense(d)) + w_keyword / (k + r_keyword(d))

where a list that does not contain d contributes nothing. Ranks, not raw scores, are fused
because cosine similarities and BM25 scores live on unrelated scales.

Final score, applied by ``rank_final``:

    final(d) = fused(d) / fused_max
             + importance_weight · (importance - 1) / 9
             + recency_weight · 0.5 ** (age_days / recency_half_life_days)

``fused_max = (w_dense + w_keyword) / (k + 1)`` is the score of a memory ranked first by
both retrievers, so the relevance part lies in [0, 1] and the two light signals (by default
at most 0.10 and 0.05) can reorder near-ties but cannot lift an irrelevant memory over a
relevant one: with k = 60, rank 1 in both lists scores 1.0 and rank 1 in only one scores 0.5.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple, TypeVar

D = TypeVar("D", bound=Hashable)

NEUTRAL_IMPORTANCE = 5


class FusionWeights(NamedTuple):
    dense: float = 1.0
    keyword: float = 1.0


@dataclass(frozen=True, slots=True)
class RankSignals:
    importance: int = NEUTRAL_IMPORTANCE  # 1..10, as extraction scored it
    # When the memory was last stated or confirmed; None gives no recency bonus.
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RankingConfig:
    rrf_k: int = 60  # the usual constant: damps the gap between the very top ranks
    weights: FusionWeights = field(default_factory=FusionWeights)
    importance_weight: float = 0.10
    recency_weight: float = 0.05
    # Facts about a person stay true for a long time; a short half-life would bury them.
    recency_half_life_days: float = 90.0


def fuse(
    dense: Sequence[tuple[D, float]],
    keyword: Sequence[tuple[D, float]],
    *,
    k: int = 60,
    weights: FusionWeights = FusionWeights(),
) -> list[tuple[D, float]]:
    """Reciprocal rank fusion; best first.

    Each input is ``(id, score)`` from one retriever. It is ranked by score, highest first
    (stable, so equal scores keep their given order); a repeated id keeps its best rank.
    Ties in the fused score go to the id seen first (dense list, then keyword list).
    """
    if k < 0:
        raise ValueError("k must be non-negative")
    fused: dict[D, float] = {}
    for ranked, weight in ((dense, weights.dense), (keyword, weights.keyword)):
        seen: set[D] = set()
        ordered = sorted(ranked, key=lambda item: -item[1])
        rank = 0
        for doc_id, _score in ordered:
            if doc_id in seen:
                continue
            seen.add(doc_id)
            rank += 1
            fused[doc_id] = fused.get(doc_id, 0.0) + weight / (k + rank)
    # dicts keep first-insertion order, and sort is stable: that is the tie-break.
    return sorted(fused.items(), key=lambda item: -item[1])


def rank_final(
    fused: Sequence[tuple[D, float]],
    signals: Mapping[D, RankSignals],
    *,
    now: datetime,
    config: RankingConfig = RankingConfig(),
) -> list[tuple[D, float]]:
    """Blend fused relevance with importance and recency (formula in the module docstring).

    ``fused`` must come from ``fuse`` called with the same ``rrf_k`` and ``weights`` as
    ``config``. A memory without signals counts as neutral importance and no recency bonus.
    """
    fused_max = (config.weights.dense + config.weights.keyword) / (config.rrf_k + 1)
    if fused_max <= 0:
        raise ValueError("fusion weights must sum to a positive number")
    half_life = config.recency_half_life_days
    now_utc = _as_utc(now)

    final: list[tuple[D, float]] = []
    for doc_id, fused_score in fused:
        signal = signals.get(doc_id, RankSignals())
        importance = min(max(signal.importance, 1), 10)
        score = fused_score / fused_max + config.importance_weight * (importance - 1) / 9
        if signal.updated_at is not None and half_life > 0:
            # A date in the future (an upcoming exam stated as valid_at) counts as fresh.
            age_days = max((now_utc - _as_utc(signal.updated_at)).total_seconds() / 86_400, 0.0)
            score += config.recency_weight * 0.5 ** (age_days / half_life)
        final.append((doc_id, score))
    final.sort(key=lambda item: -item[1])
    return final


def _as_utc(moment: datetime) -> datetime:
    # Storage may hand back naive UTC timestamps (SQLite); compare them as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
