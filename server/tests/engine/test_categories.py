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


# --- the fourth round: grammatical signals rather than phrases ----------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # kinship and status said without "I"
        ("widowed, two grown sons", "relationship"),
        ("three kids, all under ten", "relationship"),
        ("just became an aunt for the second time", "relationship"),
        ("been friends with Marta since primary school", "relationship"),
        ("Nan turns 80 next week", "relationship"),
        # the user's own goal, taste or skill, with someone named only as context
        ("me and my partner want to move to the coast", "goal"),
        ("my brother loves horror films but honestly I prefer comedies", "preference"),
        ("my uncle taught me to fix engines", "expertise"),
        # tastes said as comparisons and standing wishes said as noun phrases
        ("tea over coffee any day", "preference"),
        ("honestly vinyl beats streaming", "preference"),
        ("kilometres only please", "preference"),
        ("would really appreciate it if you kept replies short", "preference"),
        ("definitely a night-bus person", "preference"),
        # habits opened by "as soon as", a rule of the house, a habit with its reason after the comma
        ("as soon as I get home I change into comfy clothes", "procedure"),
        ("we've got a rule, no phones at breakfast", "procedure"),
        ("I do the dishes every other day, can't stand a full sink", "procedure"),
        # aims with their subject or "to" left out
        ("plan is to retire by the sea", "goal"),
        ("the goal is to learn to swim", "goal"),
        ("working on being less of a perfectionist", "goal"),
        ("I've always wanted to visit Japan", "goal"),
        ("looking for a new flat near work", "goal"),
        ("I want learn Italian for my job", "goal"),
        # skills
        ("I'm a decent swimmer", "expertise"),
        ("ex navy engineer", "expertise"),
        ("trained in first aid through work", "expertise"),
        ("been brewing beer for a decade", "expertise"),
        # faith, health, money, studies, the car one drives
        ("I'm Sikh", "fact"),
        ("I have epilepsy, mostly under control", "fact"),
        ("I'm on a tight budget until spring", "fact"),
        ("I drive an old Land Rover", "fact"),
        ("I'm a nursing student in Cardiff", "fact"),
    ],
)
def test_fourth_round_rules_file_by_grammar(text: str, expected: str) -> None:
    assert category(RULES, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "thanks a lot, that fixed it",
        "never mind, it works now",
        "I think you misread my question",
        "I have a quick question about VAT",
        "I tried that and nothing changed",
        "lol you're funny",
        "nope you got it wrong",
        "brb need to feed the baby",
        "I'll check it tomorrow",
        "I'm shattered, busy day",
        "can parrots eat avocado",
        "my kettle is making a weird noise, what could it be",
        "my bread came out dense, why?",
        "the printer won't connect and I want to scream",
        "let me sleep on it",
        "ignore my previous message",
        "I hate it when that happens",
        "yes keep going",
        "just dropped my phone in the sink",
    ],
)
def test_remarks_about_the_conversation_and_the_moment_yield_nothing(text: str) -> None:
    assert extract(RULES, text) == []


def test_a_task_that_names_someone_keeps_what_it_says_about_them() -> None:
    memories = extract(RULES, "help me choose a present for my dad, he loves fishing")
    assert [(m.category, m.content) for m in memories] == [("relationship", "Dad loves fishing")]


def test_a_statement_kept_only_as_the_problem_behind_a_question_is_dropped_unless_a_cue_files_it() -> None:
    assert extract(RULES, "my sourdough starter smells odd, what went wrong?") == []
    assert category(RULES, "I'm allergic to nuts, what can I bake?") == "fact"


def test_never_with_a_past_form_is_a_statement_not_a_request() -> None:
    assert category(RULES, "never used a mac before") != "preference"


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
