"""Is anything stored about this query at all? The evidence a search already holds, and a
small logistic model over it that says whether to answer or return nothing.

A search reads the dense top-k and the keyword top-k of an owner's memories. From those two
lists alone (no further read), ``QueryEvidence.of`` takes three figures:

- ``best_cosine``: the closest memory's cosine to the query;
- ``best_keyword``: the best keyword share (BM25 over the query's ceiling, 0..1): do the
  query's words, rare ones weighing most, appear in any memory at all;
- ``name_missing``: 1 when the query names something (``text.name_terms``: a capitalised word
  inside a sentence, a number: "Who is Dr. Whitfield?", "What is order 4471 about?") that no
  memory the search may read holds, else 0. The keyword read reports which of those terms it
  found (``SearchIndex.keyword``), in the same read of the postings.

``answerability = 1 / (1 + exp(-(intercept + Σ weight_i · feature_i)))``, with the constants of
``ANSWERABILITY`` fitted on the calibration half of the labelled retrieval set (odd-numbered
personas; questions whose answer is in the top 10 against questions nothing stored answers,
both ingest variants pooled, each class weighed equally; ``bench/calibrate_floor.py`` refits
them and prints these constants). A search whose answerability is below ``cutoff`` returns
nothing. Other figures were tried (cross-validated by persona within the calibration half) and
left out: whether the two signals agree on the closest memory (its keyword share: no gain once
the best keyword share is in), the share of the query's words held by any memory (no gain once
the names are in), and the best cosine's lead over the tenth best or over the dense list's mean
(no gain, and they would drift on stores larger than the set's 25–39 memories per person).
The weights are fitted for the default local MiniLM model's cosines: another embedder gets no
model (its similarities live on another scale).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class QueryEvidence:
    """What a search's two reads say about the query as a whole (module docstring)."""

    best_cosine: float = 0.0
    best_keyword: float = 0.0
    name_missing: float = 0.0
    best_relevance: float = 0.0  # not a feature: what a plain relevance floor compares

    @classmethod
    def of(
        cls, cosines: Iterable[float], keyword_shares: Iterable[float], *, name_missing: bool, best_relevance: float
    ) -> QueryEvidence:
        """From the dense hits' cosines and the keyword hits' shares (any order)."""
        return cls(
            best_cosine=max(cosines, default=0.0),
            best_keyword=max(keyword_shares, default=0.0),
            name_missing=1.0 if name_missing else 0.0,
            best_relevance=best_relevance,
        )

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def features(self) -> tuple[float, ...]:
        """The model's inputs, in the order of ``FEATURES``."""
        return (self.best_cosine, self.best_keyword, self.name_missing)


FEATURES = ("best_cosine", "best_keyword", "name_missing")


@dataclass(frozen=True, slots=True)
class AnswerabilityModel:
    """A logistic model over ``QueryEvidence.features()`` and the cutoff below which a search
    returns nothing."""

    intercept: float
    weights: tuple[float, ...]
    cutoff: float

    def probability(self, evidence: QueryEvidence) -> float:
        z = self.intercept + sum(w * x for w, x in zip(self.weights, evidence.features(), strict=True))
        if z < -60:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def answers(self, evidence: QueryEvidence) -> bool:
        return self.probability(evidence) >= self.cutoff


# Fitted by bench/calibrate_floor.py on the calibration split (module docstring). Cutoffs from
# 0.05 to 0.07 all lose the same recall@10 there (0 and 0.6 points, extractor and verbatim; 0.08
# loses 1.3 on verbatim): the default sits in the middle of that plateau.
ANSWERABILITY = AnswerabilityModel(intercept=-7.946, weights=(26.821, 3.249, -4.376), cutoff=0.06)


@dataclass(frozen=True, slots=True)
class SearchFloor:
    """When a search returns nothing at all: its best relevance is below ``min_relevance``, or
    ``model`` (when there is one) finds the query unanswerable. ``SearchFloor()`` never does."""

    min_relevance: float = 0.0
    model: AnswerabilityModel | None = None

    def admits(self, evidence: QueryEvidence) -> bool:
        if evidence.best_relevance < self.min_relevance:
            return False
        return self.model is None or self.model.answers(evidence)


NO_FLOOR = SearchFloor()
