"""Memory extraction: the rule-based default, the LLM extractor and the fallback between them.

The LLM extractor talks to a real OpenAI-compatible server started on loopback for these
tests; it answers canned completions chosen by the URL path (good, prose-wrapped, garbage,
broken, failing, slow, strict about ``response_format``).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from memoryos_server.engine.extraction import (
    FallbackExtractor,
    LLMExtractor,
    RuleBasedExtractor,
    build_extractor,
)
from memoryos_server.engine.extraction.validate import memories_from_payload
from memoryos_server.engine.types import CATEGORIES, ChatMessage, ExtractedMemory, Extractor
from memoryos_server.errors import ServiceUnavailable

NOW = datetime(2025, 2, 1, 12, 0, tzinfo=timezone.utc)
DATA = Path(__file__).resolve().parents[3] / "bench" / "data" / "extraction_sentences.jsonl"
SEED = "Please remember that I prefer short, structured explanations and Python examples."


def user(content: str, occurred_at: datetime | None = None) -> ChatMessage:
    return ChatMessage(role="user", content=content, occurred_at=occurred_at)


def extract(*texts: str, now: datetime = NOW) -> list[ExtractedMemory]:
    return RuleBasedExtractor().extract([user(text) for text in texts], now=now)


def only(text: str) -> ExtractedMemory:
    memories = extract(text)
    assert len(memories) == 1, memories
    return memories[0]


# --- the rule-based extractor ------------------------------------------------------------


def test_seed_message_becomes_a_preference_in_the_third_person() -> None:
    memory = only(SEED)
    assert memory.content == "Prefers short, structured explanations and Python examples"
    assert memory.category == "preference"
    assert "explicit" in memory.tags


@pytest.mark.parametrize(
    ("text", "content", "category"),
    [
        ("My exam is on March 10", "Exam is on March 10", "fact"),
        ("I'm training for a marathon in April", "Is training for a marathon in April", "goal"),
        ("My sister Anna lives in Berlin", "Sister Anna lives in Berlin", "relationship"),
        (
            "I've been a backend engineer for 8 years, mostly Go",
            "Has been a backend engineer for 8 years, mostly Go",
            "expertise",
        ),
        (
            "When I deploy, I always run the migrations first",
            "When deploying, always runs the migrations first",
            "procedure",
        ),
        # A chosen diet is a preference (see classify.py); an allergy is a fact.
        ("I'm vegetarian", "Is vegetarian", "preference"),
        ("I'm allergic to peanuts", "Is allergic to peanuts", "fact"),
        ("I don't like long meetings", "Does not like long meetings", "preference"),
    ],
)
def test_examples_from_the_brief(text: str, content: str, category: str) -> None:
    memory = only(text)
    assert (memory.content, memory.category) == (content, category)


@pytest.mark.parametrize(
    ("text", "negation"),
    [
        ("I don't like long meetings", "Does not like long meetings"),
        ("I'm not a fan of horror movies", "Is not a fan of horror movies"),
        ("I can't stand open-plan offices", "Cannot stand open-plan offices"),
        ("I never push directly to main", "Never pushes directly to main"),
        ("I don't eat pork", "Does not eat pork"),
    ],
)
def test_negation_is_preserved(text: str, negation: str) -> None:
    assert only(text).content == negation


@pytest.mark.parametrize(
    ("text", "content"),
    [
        ("I am a nurse", "Is a nurse"),
        ("I have two cats", "Has two cats"),
        ("I work at Acme", "Works at Acme"),
        ("I'm 34 years old", "Is 34 years old"),
        ("I've never used SQL", "Has never used SQL"),
        ("I'd rather take the train", "Would rather take the train"),
        ("I'll be in Tokyo next week", "Will be in Tokyo next week"),
        ("I watch a lot of documentaries", "Watches a lot of documentaries"),
        ("I study with flashcards every evening", "Studies with flashcards every evening"),
        ("I moved to Toronto last year", "Moved to Toronto last year"),
        ("My wife's name is Priya", "Wife's name is Priya"),
        ("I like my coffee black", "Likes their coffee black"),
        ("I'm Brazilian but live in Portugal", "Is Brazilian but lives in Portugal"),
        ("I know Excel well but I've never used SQL", "Knows Excel well but has never used SQL"),
        (
            "Every morning I check my calendar and plan my day",
            "Checks their calendar and plans their day every morning",
        ),
        ("When I'm stuck on a bug I explain it to a rubber duck", "When stuck on a bug, explains it to a rubber duck"),
        ("I prefer aisle seats because I get up a lot", "Prefers aisle seats because they get up a lot"),
        ("My partner and I split the rent", "Splits the rent with their partner"),
        ("Our team uses Jira", "Team uses Jira"),
        ("We squash and merge every pull request", "Team squashes and merges every pull request"),
        ("Always use metric units", "Wants the assistant to always use metric units"),
        # A sentence that only says "always" makes the one before it standing.
        ("Use tables, not prose. Always.", "Wants the assistant to use tables, not prose, always"),
        ("Reply in Spanish. From now on.", "Wants the assistant to reply in Spanish, from now on"),
        ("Call me Dani", "Prefers to be called Dani"),
        ("Love running in the rain", "Loves running in the rain"),
    ],
)
def test_person_and_tense_rewriting(text: str, content: str) -> None:
    assert only(text).content == content


@pytest.mark.parametrize(
    "text",
    [
        # small talk
        "hi",
        "hello!",
        "thanks!",
        "thank you so much",
        "how are you?",
        "lol",
        "ok",
        "sounds good",
        "good night!",
        "I appreciate it",
        ":)",
        "👍",
        # questions to the assistant
        "what's the weather?",
        "can you explain recursion?",
        "how do I center a div",
        "What's the best way to learn SQL?",
        "what did I tell you about my sister?",
        # one-off instructions about the current reply
        "make this reply shorter",
        "translate that to French",
        "try again",
        "shorter please",
        "A bit simpler, please.",
        "more examples pls",
        "Stop.",
        "please continue",
        "rewrite this in a more formal tone",
        "use bullet points for this one",
        "Draft an email to my landlord about the broken heater.",
        "I want you to write a cover letter",
        "Translate this: I love you. I miss you.",
        # content-free or about the conversation
        "I think so",
        "I don't know",
        "I'm not sure",
        "I'll try that",
        "I tried it and it worked",
        "I prefer the second option",
        "that's not what I asked",
        "you misunderstood me",
        "I'm tired today",
        "I'm bored, entertain me",
        # a problem brought to be solved now, an event of the moment
        "my dishwasher is beeping nonstop, how do i reset it",
        "the radiator in my room is cold, help",
        "I ran out of milk this morning",
        "we watched a documentary about bees last night",
        "my tablet keeps restarting",
        "need a toast for my cousin's wedding",
        "Here's my code: x = 1. I think it's broken.",
    ],
)
def test_worthless_input_yields_nothing(text: str) -> None:
    assert extract(text) == []


def test_empty_and_blank_messages_yield_nothing() -> None:
    assert RuleBasedExtractor().extract([], now=NOW) == []
    assert extract("", "   ", "\n\n") == []


def test_one_message_gives_several_memories_with_fillers_dropped() -> None:
    text = (
        "Hi! By the way, I'm vegetarian. Actually, I live in Oslo; I work for Equinor and I love skiing. "
        "Can you suggest a recipe?"
    )
    memories = extract(text)
    assert [(m.content, m.category) for m in memories] == [
        ("Is vegetarian", "preference"),
        ("Lives in Oslo", "fact"),
        ("Works for Equinor", "fact"),
        ("Loves skiing", "preference"),
    ]


def test_memories_point_at_the_message_they_came_from() -> None:
    messages = [
        user("hello"),
        ChatMessage(role="assistant", content="Hi! How can I help?"),
        user("I live in Lyon. My brother Omar works in Dubai."),
    ]
    memories = RuleBasedExtractor().extract(messages, now=NOW)
    assert [(m.content, m.source_index) for m in memories] == [
        ("Lives in Lyon", 2),
        ("Brother Omar works in Dubai", 2),
    ]


def test_assistant_and_system_messages_are_not_the_users_word() -> None:
    messages = [
        ChatMessage(role="system", content="I am a helpful assistant. I prefer concise answers."),
        ChatMessage(role="assistant", content="I think you live in Paris and love jazz."),
    ]
    assert RuleBasedExtractor().extract(messages, now=NOW) == []
    opted_in = RuleBasedExtractor(roles=("user", "assistant")).extract(messages, now=NOW)
    assert [m.source_index for m in opted_in] == [1]


def test_repeated_statements_give_one_memory() -> None:
    assert len(extract("I live in Lyon.", "i live in lyon")) == 1


def test_filed_drafts_are_the_memories_extract_returns() -> None:
    """``filed`` (what bench/category_lexical.py reads) is the extractor's own filing, before
    the memories are built: the same drafts, in the same order, under the same categories."""
    messages = [user("I live in Lyon. My brother Omar works in Dubai."), user("i always run the linter before i push")]
    extractor = RuleBasedExtractor()
    drafts, verdicts = extractor.filed(messages, now=NOW)
    memories = extractor.extract(messages, now=NOW)
    assert [(d.content, v.category) for d, v in zip(drafts, verdicts, strict=True)] == [
        (m.content, m.category) for m in memories
    ]
    assert [v.category for v in verdicts] == ["fact", "relationship", "procedure"]


# --- dates -------------------------------------------------------------------------------


def test_dated_text_gets_valid_at_from_the_message_time() -> None:
    sent = datetime(2025, 2, 1, 9, 30, tzinfo=timezone(timedelta(hours=1)))
    [memory] = RuleBasedExtractor().extract(
        [user("My exam is on March 10", sent)], now=datetime(2030, 1, 1, tzinfo=timezone.utc)
    )
    assert memory.valid_at == datetime(2025, 3, 10, tzinfo=timezone(timedelta(hours=1)))
    assert "valid_at:day" in memory.tags


def test_valid_at_falls_back_to_now_and_rolls_to_the_next_year() -> None:
    [memory] = extract("My exam is on March 10", now=datetime(2025, 4, 1, tzinfo=timezone.utc))
    assert memory.valid_at == datetime(2026, 3, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I have a dentist appointment tomorrow", datetime(2025, 2, 2, tzinfo=timezone.utc)),
        ("I have a dentist appointment on Friday at 3pm", datetime(2025, 2, 7, 15, 0, tzinfo=timezone.utc)),
        ("I failed my driving test yesterday", datetime(2025, 1, 31, tzinfo=timezone.utc)),
        ("My flight to Tokyo leaves on 14 May", datetime(2025, 5, 14, tzinfo=timezone.utc)),
        ("My wedding is on September 21, 2026", datetime(2026, 9, 21, tzinfo=timezone.utc)),
        ("my visa interview is on the 22nd", datetime(2025, 2, 22, tzinfo=timezone.utc)),
        ("I broke my wrist two weeks ago", datetime(2025, 1, 18, tzinfo=timezone.utc)),
    ],
)
def test_dates_resolve(text: str, expected: datetime) -> None:
    assert only(text).valid_at == expected


@pytest.mark.parametrize(
    "text", ["I water the plants every Wednesday", "I lift weights Monday, Wednesday and Friday", "I live in Lyon"]
)
def test_recurring_or_undated_text_has_no_valid_at(text: str) -> None:
    assert only(text).valid_at is None


@pytest.mark.parametrize(
    "text",
    [
        "My birthday is on June 4",  # was dated to the next June 4, a year ahead at times
        "my birthday is June 4th",
        "My birthday is tomorrow",
        "My son's birthday is on the 3rd of May",
        "Our wedding anniversary is on May 3",
        "I was born on June 4",  # no year: only the day that comes round again
        "I pay rent on the 1st of every month",
        "I go to Spain every August",
    ],
)
def test_a_date_that_comes_round_again_is_not_the_memorys_validity(text: str) -> None:
    assert only(text).valid_at is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I moved to Berlin in March", datetime(2024, 3, 1, tzinfo=timezone.utc)),
        ("Since 2021 I work at Google", datetime(2021, 1, 1, tzinfo=timezone.utc)),
        ("Starting next week I work from home", datetime(2025, 2, 8, tzinfo=timezone.utc)),
        ("My birthday party is next Saturday", datetime(2025, 2, 8, tzinfo=timezone.utc)),  # a one-off event
        ("I was born on June 4, 1990", datetime(1990, 6, 4, tzinfo=timezone.utc)),
    ],
)
def test_a_change_or_a_one_off_event_still_sets_valid_at(text: str, expected: datetime) -> None:
    assert only(text).valid_at == expected


def test_a_models_valid_at_for_a_birthday_is_dropped_too() -> None:
    payload = {
        "memories": [
            {"content": "Birthday is on June 4", "category": "fact", "valid_at": "2025-06-04"},
            {"content": "Has a flight to Rome", "category": "fact", "valid_at": "2025-04-02"},
        ]
    }
    birthday, flight = memories_from_payload(payload, messages=[user("x")], user_indexes=[0], reference=NOW)
    assert birthday.valid_at is None
    assert flight.valid_at == datetime(2025, 4, 2, tzinfo=timezone.utc)


# --- scores ------------------------------------------------------------------------------


def test_scores_stay_in_range_and_output_is_deterministic() -> None:
    texts = [json.loads(line)["text"] for line in DATA.read_text(encoding="utf-8").splitlines()]
    first = extract(*texts)
    assert first == extract(*texts)
    for memory in first:
        assert memory.category in CATEGORIES
        assert 1 <= memory.importance <= 10
        assert 0.0 <= memory.confidence <= 1.0
        assert 3 <= len(memory.content) <= 500
        assert not memory.content.startswith(("I ", "I'm", "My ", "my "))


def test_health_and_explicit_requests_weigh_more() -> None:
    plain = only("I like hiking")
    explicit = only("Please remember that I like hiking")
    assert explicit.importance > plain.importance and explicit.confidence > plain.confidence
    assert only("I'm allergic to peanuts").importance > only("I live in Lyon").importance


def test_hedges_lower_confidence() -> None:
    assert only("I think I prefer Rust over Go").confidence < only("I prefer Rust over Go").confidence


def test_labelled_set_is_large_varied_and_valid() -> None:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(rows) >= 300
    assert len({row["text"] for row in rows}) == len(rows)
    assert {row["category"] for row in rows} == {*CATEGORIES, None}
    assert sum(row["category"] is None for row in rows) / len(rows) >= 0.30


# --- the LLM extractor against a real server on loopback ---------------------------------

GOOD_MEMORIES: list[Any] = [
    {"content": "Prefers short answers", "category": "preference", "importance": 8, "confidence": 0.9},
    {"content": "I live in Berlin", "category": "fact", "importance": 42, "confidence": 3},
    {"content": "The user's sister Anna lives in Berlin", "category": "Relationship", "importance": 6.6},
    {"content": "User prefers Python examples", "category": "preference", "importance": True, "confidence": "0.4"},
    {"content": "Exam is on March 10", "category": "fact", "importance": "7", "confidence": 0.8},
    {"content": "Has a flight to Rome", "category": "fact", "valid_at": "2025-04-02"},
    {"content": "Likes cats", "category": "hobby", "importance": 5, "confidence": 0.5},
    {"content": "ok", "category": "fact"},
    {"content": "x" * 501, "category": "fact"},
    {"content": 12, "category": "fact"},
    "not an object",
    {"content": "prefers short answers.", "category": "preference"},
]


def completion(content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
    }


class CannedCompletions(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, format: str, *args: Any) -> None:  # keep the test output quiet
        return

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        CannedCompletions.requests.append(
            {"path": self.path, "body": body, "authorization": self.headers.get("Authorization")}
        )
        mode = self.path.strip("/").split("/")[0]
        if not self.path.endswith("/v1/chat/completions"):
            self._send(404, {"error": "not found"})
        elif mode == "good":
            self._send(200, completion(json.dumps({"memories": GOOD_MEMORIES})))
        elif mode == "empty":
            self._send(200, completion('{"memories": []}'))
        elif mode == "prose":
            text = (
                'Sure! Here they are:\n```json\n{"memories": [{"content": "Lives in Lyon", "category": "fact"}]}\n```'
            )
            self._send(200, completion(text))
        elif mode == "garbage":
            self._send(200, completion("I'm sorry, I can't help with that. {not json"))
        elif mode == "broken":
            self._send_raw(200, b"<html>502 Bad Gateway</html>", "text/html")
        elif mode == "failing":
            self._send(500, {"error": {"message": "overloaded"}})
        elif mode == "slow":
            time.sleep(1.5)
            self._send(200, completion('{"memories": []}'))
        elif mode == "strict" and "response_format" in body:
            self._send(400, {"error": {"message": "response_format is not supported by this model"}})
        else:
            self._send(200, completion('{"memories": [{"content": "Lives in Lyon", "category": "fact"}]}'))

    def _send(self, status: int, payload: Any) -> None:
        self._send_raw(status, json.dumps(payload).encode(), "application/json")

    def _send_raw(self, status: int, data: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (the timeout test): nobody is left to answer


@pytest.fixture(scope="module")
def llm_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), CannedCompletions)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def down_url() -> str:
    # A port that was free a moment ago and has nobody listening on it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def llm(base_url: str, **kwargs: Any) -> LLMExtractor:
    return LLMExtractor(base_url, "test-model", **kwargs)


def test_llm_extractor_validates_the_models_answer(llm_server: str) -> None:
    CannedCompletions.requests.clear()
    messages = [user("I live in Berlin and prefer short answers."), user("My exam is on March 10")]
    with llm(f"{llm_server}/good/v1", api_key="sk-test") as extractor:
        memories = extractor.extract(messages, now=NOW)

    assert [(m.content, m.category, m.importance, m.confidence) for m in memories] == [
        ("Prefers short answers", "preference", 8, 0.9),
        ("Lives in Berlin", "fact", 10, 1.0),  # first person rewritten, scores clamped
        ("Sister Anna lives in Berlin", "relationship", 7, 0.7),  # "The user's" dropped, category lower-cased
        ("Prefers Python examples", "preference", 5, 0.4),  # a boolean is no importance
        ("Exam is on March 10", "fact", 7, 0.8),
        ("Has a flight to Rome", "fact", 5, 0.7),
    ]  # unknown category, too short, too long, non-text, non-object and duplicate items dropped
    by_content = {m.content: m for m in memories}
    assert by_content["Exam is on March 10"].valid_at == datetime(2025, 3, 10, tzinfo=timezone.utc)
    assert by_content["Exam is on March 10"].source_index == 1
    assert by_content["Has a flight to Rome"].valid_at == datetime(2025, 4, 2, tzinfo=timezone.utc)

    [request] = CannedCompletions.requests
    assert request["authorization"] == "Bearer sk-test"
    body = request["body"]
    assert body["model"] == "test-model"
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert '"memories"' in body["messages"][0]["content"]
    assert "My exam is on March 10" in body["messages"][1]["content"]


def test_llm_extractor_finds_json_inside_prose(llm_server: str) -> None:
    with llm(f"{llm_server}/prose/v1") as extractor:
        assert [m.content for m in extractor.extract([user("I live in Lyon")], now=NOW)] == ["Lives in Lyon"]


def test_llm_extractor_retries_without_json_mode_when_refused(llm_server: str) -> None:
    CannedCompletions.requests.clear()
    with llm(f"{llm_server}/strict/v1/") as extractor:
        assert [m.content for m in extractor.extract([user("I live in Lyon")], now=NOW)] == ["Lives in Lyon"]
    assert ["response_format" in r["body"] for r in CannedCompletions.requests] == [True, False]


def test_llm_extractor_asks_nothing_without_user_messages(down_url: str) -> None:
    with llm(down_url) as extractor:
        assert extractor.extract([ChatMessage(role="assistant", content="I live in Paris")], now=NOW) == []


def test_llm_extractor_empty_answer_is_no_error(llm_server: str) -> None:
    with llm(f"{llm_server}/empty/v1") as extractor:
        assert extractor.extract([user("hi")], now=NOW) == []


@pytest.mark.parametrize(
    ("mode", "reason"),
    [("garbage", "unparseable_output"), ("broken", "unparseable_output"), ("failing", "bad_status")],
)
def test_llm_extractor_raises_service_unavailable_on_bad_answers(llm_server: str, mode: str, reason: str) -> None:
    with llm(f"{llm_server}/{mode}/v1") as extractor, pytest.raises(ServiceUnavailable) as caught:
        extractor.extract([user("I live in Lyon")], now=NOW)
    assert caught.value.details == {"extractor": "llm", "reason": reason}


def test_llm_extractor_raises_service_unavailable_when_down(down_url: str) -> None:
    with llm(down_url) as extractor, pytest.raises(ServiceUnavailable) as caught:
        extractor.extract([user("I live in Lyon")], now=NOW)
    assert caught.value.details["reason"] == "unreachable"


def test_llm_extractor_raises_service_unavailable_on_timeout(llm_server: str) -> None:
    with llm(f"{llm_server}/slow/v1", timeout=0.2) as extractor, pytest.raises(ServiceUnavailable) as caught:
        extractor.extract([user("I live in Lyon")], now=NOW)
    assert caught.value.details["reason"] == "timeout"


def test_llm_extractor_repr_hides_the_key() -> None:
    with llm("http://127.0.0.1:9/v1", api_key="sk-secret") as extractor:
        assert "sk-secret" not in repr(extractor)


# --- falling back ------------------------------------------------------------------------


def test_fallback_uses_the_llm_when_it_answers(llm_server: str) -> None:
    extractor = FallbackExtractor(llm(f"{llm_server}/prose/v1"), RuleBasedExtractor())
    outcome = extractor.extract_with_outcome([user("I live in Lyon")], now=NOW)
    assert (outcome.extractor, outcome.fell_back, outcome.fallback_reason) == ("llm", False, None)
    assert [m.tags for m in outcome.memories] == [("llm",)]


@pytest.mark.parametrize(("mode", "reason"), [("garbage", "unparseable_output"), ("failing", "bad_status")])
def test_fallback_to_rules_on_garbage_or_errors(llm_server: str, mode: str, reason: str) -> None:
    extractor = FallbackExtractor(llm(f"{llm_server}/{mode}/v1"), RuleBasedExtractor())
    memories = extractor.extract([user(SEED)], now=NOW)
    assert [m.content for m in memories] == ["Prefers short, structured explanations and Python examples"]
    assert extractor.last_outcome is not None
    assert (extractor.last_outcome.extractor, extractor.last_outcome.fell_back) == ("rules", True)
    assert extractor.last_outcome.fallback_reason == reason


def test_fallback_to_rules_when_the_endpoint_is_down(down_url: str) -> None:
    extractor = FallbackExtractor(llm(down_url), RuleBasedExtractor())
    outcome = extractor.extract_with_outcome([user("My sister Anna lives in Berlin")], now=NOW)
    assert [(m.content, m.category) for m in outcome.memories] == [("Sister Anna lives in Berlin", "relationship")]
    assert (outcome.extractor, outcome.fell_back, outcome.fallback_reason) == ("rules", True, "unreachable")


def test_last_outcome_is_kept_per_thread(down_url: str, llm_server: str) -> None:
    extractor = FallbackExtractor(llm(down_url), RuleBasedExtractor())
    seen: list[object] = []
    worker = threading.Thread(target=lambda: seen.append(extractor.last_outcome))
    extractor.extract([user("I live in Lyon")], now=NOW)
    worker.start()
    worker.join()
    assert seen == [None] and extractor.last_outcome is not None


# --- wiring ------------------------------------------------------------------------------


def test_every_extractor_satisfies_the_protocol() -> None:
    rules = RuleBasedExtractor()
    with llm("http://127.0.0.1:9/v1") as remote:
        for extractor in (rules, remote, FallbackExtractor(remote, rules)):
            assert isinstance(extractor, Extractor)


def test_build_extractor_follows_the_settings() -> None:
    assert isinstance(build_extractor(), RuleBasedExtractor)
    assert isinstance(build_extractor(llm_base_url="http://127.0.0.1:9/v1"), RuleBasedExtractor)
    built = build_extractor(llm_base_url="http://127.0.0.1:9/v1", llm_model="m", llm_timeout_seconds=2.0)
    assert isinstance(built, FallbackExtractor)
    assert isinstance(built.primary, LLMExtractor) and built.primary.timeout == 2.0
    built.primary.close()
