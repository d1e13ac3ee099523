"""The answerability model and the names a query asks about (engine.retrieval.answerable,
engine.retrieval.text.name_terms)."""

from __future__ import annotations

import dataclasses

import pytest

from memoryos_server.engine.retrieval.answerable import (
    ANSWERABILITY,
    FEATURES,
    NO_FLOOR,
    AnswerabilityModel,
    QueryEvidence,
    SearchFloor,
)
from memoryos_server.engine.retrieval.text import name_terms


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Who is Dr. Whitfield?", ["whitfield"]),
        ("What did Mrs. Kaplan say about it?", ["kaplan"]),
        ("What is LH 470?", ["lh", "470"]),
        ("When does version 4.2 release?", ["4.2"]),
        ('Translate "good morning" into German.', ["german"]),
        ("Which city? Lisbon or Porto", ["porto"]),  # a sentence's first word is no name by its capital
        ("I think I'm moving", []),
        ("What car does the user drive?", []),
        ("who is dr whitfield", []),  # all lower case: no names by this rule
        ("", []),
    ],
)
def test_name_terms(text: str, expected: list[str]) -> None:
    assert name_terms(text) == expected


def test_evidence_takes_the_best_of_each_read() -> None:
    evidence = QueryEvidence.of([0.2, 0.5, 0.1], [0.3, 0.0], name_missing=True, best_relevance=0.4)
    assert evidence == QueryEvidence(best_cosine=0.5, best_keyword=0.3, name_missing=1.0, best_relevance=0.4)
    assert evidence.features() == (0.5, 0.3, 1.0)
    assert len(FEATURES) == len(evidence.features()) == len(ANSWERABILITY.weights)
    assert QueryEvidence.of([], [], name_missing=False, best_relevance=0.0).features() == (0.0, 0.0, 0.0)


def test_the_shipped_model_reads_its_features_the_expected_way() -> None:
    base = QueryEvidence(best_cosine=0.3, best_keyword=0.2)
    p = ANSWERABILITY.probability
    assert p(dataclasses.replace(base, best_cosine=0.4)) > p(base)  # closer: more answerable
    assert p(dataclasses.replace(base, best_keyword=0.5)) > p(base)  # words found: more answerable
    assert p(dataclasses.replace(base, name_missing=1.0)) < p(base)  # a name nothing holds: less
    assert not ANSWERABILITY.answers(QueryEvidence(best_cosine=0.1))
    assert ANSWERABILITY.answers(QueryEvidence(best_cosine=0.5, best_keyword=0.4))
    assert 0 < ANSWERABILITY.cutoff < 1


def test_a_floor_admits_by_relevance_and_by_the_model() -> None:
    weak = QueryEvidence(best_cosine=0.1, best_relevance=0.05)
    strong = QueryEvidence(best_cosine=0.6, best_keyword=0.5, best_relevance=0.55)
    assert NO_FLOOR.admits(weak) and NO_FLOOR.admits(strong)
    assert not SearchFloor(min_relevance=0.1).admits(weak) and SearchFloor(min_relevance=0.1).admits(strong)
    assert not SearchFloor(model=ANSWERABILITY).admits(weak) and SearchFloor(model=ANSWERABILITY).admits(strong)
    never = AnswerabilityModel(intercept=-100.0, weights=(0.0, 0.0, 0.0), cutoff=0.5)
    assert never.probability(strong) == 0.0 and not SearchFloor(model=never).admits(strong)
