"""Blending the dense and keyword signals into one relevance, then the lighter signals.

Relevance of memory d to query q, in [0, 1]:

    relevance(d) = min(1, w_dense · max(cos(q, d), 0) + w_keyword · bm25(q, d) / bm25_max(q)
                          + period_bonus · nearness(d's moment, the periods q names))

``nearness`` (``engine.retrieval.dates``) is 1 for a moment in a period the query names (or on
the day after it), ``SLACK_WEIGHT`` in the slack around it, else 0.

``bm25_max(q) = Σ idf(t) · (k1 + 1)`` over the query's terms the index read is the score a
memory holding every one of them, many times, in a short text would reach (a query term no
memory holds adds half the highest idf: it is part of what was asked): so the keyword part is
a share of the query matched, not a rank. Both parts are absolute — comparable from one
query to the next — which a relevance floor needs, and which reciprocal rank fusion (where the
first of any list scores the same however poor the match) cannot give. Weighing normalised
scores also beat rank fusion on every set this project measures (docs/benchmarks.md). With one
signal switched off (the benchmarks compare each alone), the other's weight becomes 1.

Final ranking score:

    final(d) = relevance(d)
             + importance_weight · (importance - 1) / 9
             + recency_weight · 0.5 ** (age_days / recency_half_life_days)

The light signals (by default at most 0.05 and 0.025) reorder near-ties; they are not part of
the relevance a caller sees or the floor compares.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

D = TypeVar("D", bound=Hashable)

NEUTRAL_IMPORTANCE = 5


@dataclass(frozen=True, slots=True)
class RankSignals:
    importance: int = NEUTRAL_IMPORTANCE  # 1..10, as extraction scored it
    # When the memory was last stated or confirmed; None gives no recency bonus.
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the retrievers know of one memory for one query."""

    cosine: float = 0.0  # cosine similarity of the embeddings (0 when the dense signal is off)
    keyword: float = 0.0  # BM25 as a share of the query's bm25_max, 0..1
    # 1 when its moment falls in a period the query names, less in the slack around it
    in_period: float = 0.0


@dataclass(frozen=True, slots=True)
class RankingConfig:
    dense_weight: float = 0.45
    keyword_weight: float = 0.55
    period_bonus: float = 0.3
    importance_weight: float = 0.05
    recency_weight: float = 0.025
    # Facts about a person stay true for a long time; a short half-life would bury them.
    recency_half_life_days: float = 90.0


def relevance(evidence: Evidence, *, dense: bool = True, keyword: bool = True, config: RankingConfig = RankingConfig()) -> float:
    """The memory's relevance in [0, 1] with the signals in use (module docstring)."""
    weight_dense = config.dense_weight if dense else 0.0
    weight_keyword = config.keyword_weight if keyword else 0.0
    total = weight_dense + weight_keyword
    if total <= 0:
        raise ValueError("at least one signal must be in use, with a positive weight")
    score = (weight_dense * max(evidence.cosine, 0.0) + weight_keyword * min(max(evidence.keyword, 0.0), 1.0)) / total
    score += config.period_bonus * evidence.in_period
    return min(score, 1.0)


def rank(
    relevances: Mapping[D, float],
    signals: Mapping[D, RankSignals],
    *,
    now: datetime,
    config: RankingConfig = RankingConfig(),
) -> list[tuple[D, float]]:
    """``(id, final score)`` best first: relevance plus importance and recency (module docstring).

    A memory without signals counts as neutral importance and no recency bonus. Ties keep the
    order of ``relevances``.
    """
    half_life = config.recency_half_life_days
    now_utc = _as_utc(now)
    final: list[tuple[D, float]] = []
    for doc_id, score in relevances.items():
        signal = signals.get(doc_id, RankSignals())
        importance = min(max(signal.importance, 1), 10)
        score += config.importance_weight * (importance - 1) / 9
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
