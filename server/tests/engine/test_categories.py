"""Filing chat messages under the right category, and saying when it is not sure.

The phrasings follow the kinds of message in the tune split of bench/data/messages_v2.jsonl
(role and kinship words, pets, requests and negations, habits, plans, modest skills, fragments
without "I", typos) but are written here: no text of the benchmark is copied, and none of its
holdout split was looked at.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from memoryos_server.engine.embeddings import LocalMiniLMEmbedder
from memoryos_server.engine.extraction import RuleBasedExtractor
from memoryos_server.engine.types import ChatMessage, ExtractedMemory

NOW = datetime(2025, 2, 1, 12, 0, tzinfo=timezone.utc)
RULES = RuleBasedExtractor()


def extract(extractor: RuleBasedExtractor, text: str) -> list[ExtractedMemory]:
    return extractor.extract([ChatMessage(role="user", content=text)], now=NOW)


def category(extractor: RuleBasedExtractor, text: str) -> str | None:
    memories = extract(extractor, text)
    return memories[0].category if memories else None


# --- the rules alone ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "my landlady, Mrs. Ferreira, never answers her phone",  # a role word, a title with a dot
        "i have a little brother with autism, hes 9",
        "Tomasz, my brother, drives trucks in Norway",
        "im a single mum to a 4 year old",
        "my bf is a chef so dinners are late",
        "my mil is staying with us for a month",
        "my husbnd works offshore",  # a typo
        "the new nurse on my ward, Ama, is brilliant",
        "i look after my grandad, he has COPD",
        "no kids, never wanted them",
        "im the youngest of five",
        "Dad finally retired from the railway, we had a party for him",  # a parent called so, no "my"
    ],
)
def test_people_in_the_users_life_are_relationships(text: str) -> None:
    assert category(RULES, text) == "relationship"


@pytest.mark.parametrize(
    "text",
    [
        "we have a rescue whippet called Biscuit",
        "my cat is 14 and still bossy",
        "I'm the youngest engineer in my department",  # an order word, but about work
        "im a sophomore at a state university",
        "I'm on sick leave till March",
        "I work four twelves, Friday to Monday",  # a schedule worked to, not a chosen routine
        "my doctor told me to cut back on coffee",  # advice about the user's health
        "I'm working as a paralegal in Accra",
    ],
)
def test_pets_schedules_studies_and_jobs_are_facts(text: str) -> None:
    assert category(RULES, text) == "fact"


@pytest.mark.parametrize(
    "text",
    [
        "when I ask for a workout, just sets and reps",
        "whenever you suggest books, nothing longer than 300 pages",
        "please dont use slang with me",
        "stop ending answers with a question",
        "no emojis in anything you write for me",
        "help me plan meals this week, i dont eat pork",  # the task goes, the wish stays
    ],
)
def test_requests_and_negations_about_every_answer_are_preferences(text: str) -> None:
    assert category(RULES, text) == "preference"


@pytest.mark.parametrize(
    "text",
    [
        "i allways floss before bed",  # a typo
        "every friday i clear my inbox",
        "before I merge I always rebase",
    ],
)
def test_habits_are_procedures(text: str) -> None:
    assert category(RULES, text) == "procedure"


@pytest.mark.parametrize(
    "text",
    [
        "i want my green belt by the summer",
        "applying for nursing school next year",
        "tryna get my credit score up before we buy",
        "help me make a revision plan, I'm sitting my finals in May",
    ],
)
def test_plans_and_aims_are_goals(text: str) -> None:
    assert category(RULES, text) == "goal"


@pytest.mark.parametrize(
    "text",
    [
        "i have my class 2 licence for lorries",
        "got my 2nd dan in aikido last year",
        "ive been a welder for 11 years",
        "I've restored two old Vespas",
        "Im an ex-sous chef, so knife work is no problem",  # a trade held before
        "I'm a former court interpreter",
    ],
)
def test_credentials_and_experience_are_expertise(text: str) -> None:
    assert category(RULES, text) == "expertise"


@pytest.mark.parametrize(
    "text",
    [
        "my daughter asked me why the sky is blue, help",
        "my nephew wants to know how volcanoes work",
        "im so tired",
        "sry i was busy",
        "my laptop is so slow today",
        '"as per my previous email"',
        "is cheese bad for dogs",
    ],
)
def test_relayed_questions_passing_states_and_quotes_yield_nothing(text: str) -> None:
    assert extract(RULES, text) == []


def test_a_consequence_drawn_from_a_fact_does_not_change_what_it_is_about() -> None:
    # "so no …" follows from the condition: the memory is about the condition.
    assert category(RULES, "im celiac so no bread recipes") == "fact"


def test_fragments_without_an_i_need_the_classifier() -> None:
    assert extract(RULES, "Self-employed electrician.") == []  # the rules alone cannot tell


# --- with the real default model -------------------------------------------------------------------


@pytest.fixture(scope="module")
def extractor(tmp_path_factory: pytest.TempPathFactory) -> RuleBasedExtractor:
    return RuleBasedExtractor(embedder=LocalMiniLMEmbedder(tmp_path_factory.mktemp("minilm-categories")))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Brown belt in karate, 10 years training.", "expertise"),
        ("Self-employed electrician.", "fact"),
        ("Vegetarian since 2015.", "preference"),
        ("want to run a sub-25 parkrun by autumn", "goal"),
    ],
)
def test_fragments_about_the_user_are_kept_and_filed(extractor: RuleBasedExtractor, text: str, expected: str) -> None:
    assert category(extractor, text) == expected


@pytest.mark.slow
@pytest.mark.parametrize("text", ["capital of peru", "soft boiled egg timing", "names for a sourdough starter"])
def test_fragments_about_the_world_are_not_kept(extractor: RuleBasedExtractor, text: str) -> None:
    assert extract(extractor, text) == []


@pytest.mark.slow
def test_a_memory_mentioning_someone_in_the_users_life_is_doubted_as_a_relationship(
    extractor: RuleBasedExtractor,
) -> None:
    memory = extract(extractor, "i call my nan every sunday")[0]
    assert memory.category == "procedure"
    assert "relationship" in memory.also_categories


@pytest.mark.slow
def test_a_continuation_takes_the_category_of_the_sentence_it_goes_on_from(extractor: RuleBasedExtractor) -> None:
    memories = extract(extractor, "My brother is a firefighter. He works nights so I rarely see him.")
    assert [m.category for m in memories] == ["relationship", "relationship"]
