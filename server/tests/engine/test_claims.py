"""A service writer's messages as claims about the end-user, and which of two services' contradicting
claims stands (engine.extraction.claims, engine.conflicts.authority)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from memoryos_server.engine.conflicts.authority import NO_AUTHORITY, ClaimFacts, settle
from memoryos_server.engine.extraction import RuleBasedExtractor
from memoryos_server.engine.extraction.claims import as_statements, claim_as_first_person
from memoryos_server.engine.types import ChatMessage

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("claim", "statement"),
    [
        ("Customer is on the Growth plan.", "I am on the Growth plan."),
        ("The customer prefers email over phone calls.", "I prefer email over phone calls."),
        ("This user always watches videos at night.", "I always watch videos at night."),
        ("Customer doesn't want phone calls.", "I don't want phone calls."),
        ("Customer has 40 seats.", "I have 40 seats."),
        ("Client studies law.", "I study law."),
        ("Customer renewed their annual subscription in March.", "I renewed my annual subscription in March."),
        ("Customer's account manager is Dana.", "My account manager is Dana."),
        ("Growth plan since March.", "Growth plan since March."),  # no subject: left for the rules
    ],
)
def test_a_claim_is_read_in_the_end_users_voice(claim: str, statement: str) -> None:
    assert claim_as_first_person(claim) == statement


@pytest.mark.parametrize(
    "text",
    [
        "I have updated the invoice.",  # the service speaking of itself
        "We sent the customer a reminder.",
        "Our records show a refund.",
    ],
)
def test_the_writer_speaking_of_itself_is_no_claim(text: str) -> None:
    assert claim_as_first_person(text) is None


def test_customer_support_is_not_the_customer() -> None:
    assert claim_as_first_person("Customer support previously saw the Starter plan.") == (
        "Customer support previously saw the Starter plan."
    )


def test_a_services_messages_of_any_role_are_extracted_like_the_users_own() -> None:
    extractor = RuleBasedExtractor()
    messages = [
        ChatMessage("assistant", "Customer is on the Growth plan. I have updated the invoice."),
        ChatMessage("system", "The customer prefers email over phone calls."),
        ChatMessage("user", "I live in Lisbon."),  # relayed in the user's own words: unchanged
    ]
    statements = as_statements(messages)
    assert [m.role for m in statements] == ["user", "user", "user"]
    extracted = extractor.extract(statements, now=NOW)
    assert [(m.content, m.category) for m in extracted] == [
        ("Is on the Growth plan", "fact"),
        ("Prefers email over phone calls", "preference"),
        ("Lives in Lisbon", "fact"),
    ]
    # The same messages without a source: only the user's own words are read.
    assert [m.content for m in extractor.extract(messages, now=NOW)] == ["Lives in Lisbon"]


def test_a_message_that_only_speaks_of_the_writer_yields_no_statement() -> None:
    assert as_statements([ChatMessage("assistant", "Got it. I will keep replies short.")]) == [
        ChatMessage("user", "Got it.")
    ]
    assert as_statements([ChatMessage("assistant", "I will keep replies short.")]) == []


def _facts(service: str, priority: int, observed: datetime = NOW, confidence: float = 0.5) -> ClaimFacts:
    return ClaimFacts(service, priority, observed, confidence)


def test_authority_for_the_category_decides_first() -> None:
    verdict = settle(_facts("support", 50, observed=NOW.replace(day=2)), _facts("billing", 80), category="fact")
    assert verdict.winner == "existing"
    assert verdict.reason == "billing (authority 80 for fact) outranks support (authority 50 for fact)"
    assert settle(_facts("billing", 80), _facts("support", 50, confidence=0.9), category="fact").winner == "new"


def test_then_the_newer_observation_then_the_confidence() -> None:
    later = NOW.replace(hour=13)
    assert settle(_facts("crm", 60, observed=later), _facts("sales", 60), category="fact").winner == "new"
    older = settle(_facts("crm", 60), _facts("sales", 60, observed=later), category="fact")
    assert older.winner == "existing" and "sales observed it later" in older.reason
    surer = settle(_facts("crm", 60, confidence=0.9), _facts("sales", 60, confidence=0.5), category="goal")
    assert surer.winner == "new" and "more confidence (0.90 against 0.50)" in surer.reason


def test_a_tie_is_left_to_a_person() -> None:
    verdict = settle(_facts("crm", 60), _facts("sales", 60), category="fact")
    assert verdict.winner is None and "a person must decide" in verdict.reason


def test_a_removed_writer_has_no_authority() -> None:
    verdict = settle(_facts("crm", 0), _facts("gone", NO_AUTHORITY, observed=NOW.replace(hour=13)), category="fact")
    assert verdict.winner == "new" and "no longer a registered writer" in verdict.reason
