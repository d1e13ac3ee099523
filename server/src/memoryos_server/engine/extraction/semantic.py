"""A second opinion on the category, from sentence embeddings, for when the rules are unsure.

The rules file a memory by cue words; with no cue they fall back to ``fact``, and a weak cue
(a schedule, "is my …") is a guess. People often say what they like, do or know without any
cue word ("Sweets are my downfall", "I keep my notes in plain text files"), and those are
exactly the sentences an embedding places well. So the rules stay in charge when a specific
cue fired, and otherwise the memory's text is compared with the built-in prototypes
(``prototypes.py``):

- a category's score is the mean cosine of its ``k`` nearest prototypes (a small kNN: one
  close prototype is not enough, a whole category's centroid blurs its varied phrasings);
- with nothing fired (strength 0), the best category replaces ``fact`` when it beats ``fact``
  by ``FALLBACK_MARGIN``;
- with a weak cue (strength 1), it replaces the rule's category only by the wider
  ``WEAK_CUE_MARGIN``: the cue is still evidence;
- it never files a memory as ``relationship``: when the nearest prototypes are relationship
  ones it abstains. A relationship memory is about a person or a pet, which the rules' word
  list of people recognises; the embedding also finds "people" in texts that only mention
  them ("Has a cat allergy", "Is on parental leave"), and on the sentences used to choose
  the parameters most of its relationship filings were wrong.

The prototypes are embedded once per classifier (so once per embedder), on first use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ...errors import ServiceUnavailable
from ..types import CATEGORIES, Embedder
from .prototypes import NOT_WORTH_KEEPING, PROTOTYPES

logger = logging.getLogger(__name__)

# Chosen with all-MiniLM-L6-v2 on the benchmark's tuning halves and a separate set of
# sentences written without cue words, never on the held-out halves; each sits in the middle
# of a range of values that scored the same.
NEAREST = 7
FALLBACK_MARGIN = 0.04
WEAK_CUE_MARGIN = 0.10
ABSTAIN_ON = frozenset({"relationship"})
# A category scoring within this of the chosen one makes the memory doubtful (see ``_doubt``);
# a narrower band when a specific cue chose the category.
FRAGMENT_MARGIN = 0.05
DOUBT_MARGIN = 0.03
DOUBT_MARGIN_SURE = -0.02


@dataclass(frozen=True, slots=True)
class Filed:
    category: str
    strength: int  # the scale of ``classify.categorise``: 2 specific, 1 weak, 0 fallback
    by_embedding: bool  # the classifier overruled the rules
    # Other categories close enough to the chosen one that the memory may belong to them.
    doubt: tuple[str, ...] = ()


class PrototypeClassifier:
    """Files memory texts by their nearest prototypes under one embedder."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        prototypes: Mapping[str, Sequence[str]] = PROTOTYPES,
        nearest: int = NEAREST,
        fallback_margin: float = FALLBACK_MARGIN,
        weak_cue_margin: float = WEAK_CUE_MARGIN,
        abstain_on: frozenset[str] = ABSTAIN_ON,
        doubt_margin: float = DOUBT_MARGIN,
        doubt_margin_sure: float = DOUBT_MARGIN_SURE,
    ) -> None:
        unknown = set(prototypes) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"prototypes for unknown categories: {sorted(unknown)}")
        if nearest < 1 or any(len(texts) < nearest for texts in prototypes.values()):
            raise ValueError("every category needs at least `nearest` prototypes")
        self.embedder = embedder
        self.categories = tuple(c for c in CATEGORIES if c in prototypes)
        self.nearest = nearest
        self.fallback_margin = fallback_margin
        self.weak_cue_margin = weak_cue_margin
        self.abstain_on = abstain_on
        self.doubt_margin = doubt_margin
        self.doubt_margin_sure = doubt_margin_sure
        self._texts = [text for c in self.categories for text in prototypes[c]]
        # Prototypes sit in one block per category, in ``categories`` order.
        self._blocks: list[slice] = []
        start = 0
        for category in self.categories:
            self._blocks.append(slice(start, start + len(prototypes[category])))
            start += len(prototypes[category])
        self._matrix: np.ndarray | None = None
        self._null: np.ndarray | None = None
        self.fragment_margin = FRAGMENT_MARGIN
        self._lock = threading.Lock()

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """(n, categories): the mean cosine of each category's ``nearest`` prototypes."""
        # einsum, not a BLAS matrix product: a product this small is done in well under a
        # millisecond on one thread, while BLAS would wake its thread pool, whose spinning
        # threads then slow the embedder's own threads on the same cores.
        similarities = np.einsum("nd,pd->np", np.asarray(vectors, dtype=np.float32), self._prototype_matrix())
        out = np.empty((similarities.shape[0], len(self.categories)), dtype=np.float32)
        for column, block in enumerate(self._blocks):
            own = similarities[:, block]
            out[:, column] = np.partition(own, own.shape[1] - self.nearest, axis=1)[:, -self.nearest :].mean(axis=1)
        return out

    def refine(self, texts: Sequence[str], ruled: Sequence[tuple[str, int]]) -> list[Filed]:
        """The category of each memory text, given what the rules said and how sure they were,
        and the other categories it may belong to (``doubt``).

        All texts are embedded in one call (the add embeds the same texts next, through the
        cache). An embedder that is unavailable leaves the rules' categories as they are and
        records no doubt: filing is a refinement, not a reason to fail.
        """
        filed = [Filed(category, strength, False) for category, strength in ruled]
        if not texts:
            return filed
        try:
            scores = self.scores(self.embedder.embed(list(texts)))
        except ServiceUnavailable as exc:
            logger.info("category classifier skipped: embedder %s unavailable (%s)", self.embedder.name, exc.error)
            return filed
        for i, row in enumerate(scores):
            category, strength = ruled[i]
            if category not in self.categories:
                continue
            best = int(np.argmax(row))
            candidate = self.categories[best]
            if strength < 2 and candidate != category and candidate not in self.abstain_on:
                margin = self.fallback_margin if strength == 0 else self.weak_cue_margin
                if row[best] - row[self.categories.index(category)] >= margin:
                    category, strength = candidate, 1
                    filed[i] = Filed(candidate, 1, True)
            filed[i] = Filed(filed[i].category, filed[i].strength, filed[i].by_embedding,
                             self._doubt(row, category, strength))
        return filed

    def _doubt(self, row: np.ndarray, category: str, strength: int) -> tuple[str, ...]:
        """The categories scoring within the doubt margin of the chosen one (or above it)."""
        chosen = row[self.categories.index(category)]
        margin = self.doubt_margin_sure if strength >= 2 else self.doubt_margin
        return tuple(
            other
            for column, other in enumerate(self.categories)
            if other != category and row[column] >= chosen - margin
        )

    def worth_keeping(self, texts: Sequence[str]) -> list[bool]:
        """For fragments that never name the user ("Black belt, judo"): whether each lies
        closer to some category's prototypes than to ``NOT_WORTH_KEEPING``. Without an
        embedder, none is kept."""
        if not texts:
            return []
        try:
            vectors = np.asarray(self.embedder.embed(list(texts)), dtype=np.float32)
        except ServiceUnavailable:
            return [False] * len(texts)
        kept = self.scores(vectors).max(axis=1)
        similarities = np.einsum("nd,pd->np", vectors, self._null_matrix())
        nearest = min(self.nearest, similarities.shape[1])
        null = np.partition(similarities, similarities.shape[1] - nearest, axis=1)[:, -nearest:].mean(axis=1)
        return [bool(k - n >= self.fragment_margin) for k, n in zip(kept, null, strict=True)]

    def _null_matrix(self) -> np.ndarray:
        matrix = self._null
        if matrix is None:
            with self._lock:
                if self._null is None:
                    self._null = np.asarray(self.embedder.embed(list(NOT_WORTH_KEEPING)), dtype=np.float32)
                matrix = self._null
        return matrix

    def _prototype_matrix(self) -> np.ndarray:
        matrix = self._matrix
        if matrix is None:
            with self._lock:
                if self._matrix is None:
                    self._matrix = np.asarray(self.embedder.embed(self._texts), dtype=np.float32)
                matrix = self._matrix
        return matrix
