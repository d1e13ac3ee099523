"""What ranks a verbatim conversation well (docs/memory-engine.md "Retrieving"): a message is
dated by its ``occurred_at`` and a query naming that day prefers it; a reply in a dialogue is
found by the words of the question it answers (and the question, saying them itself, first); a
query word no memory holds counts in the keyword share; a list of separate facts is not blended.
On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from memoryos_server.engine.types import ChatMessage
from memoryos_server.services.container import Services
from memoryos_server.services.memory import AddOutcome, MemoryOwner
from memoryos_server.storage.types import utcnow
from tests.fixtures.memory import make_end_user, scope_of

MAY_3 = datetime(2023, 5, 3, 19, 30, tzinfo=UTC)
AUGUST_10 = datetime(2023, 8, 10, 20, 0, tzinfo=UTC)


@pytest.fixture
def services(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


def _add(services: Services, owner: MemoryOwner, *messages: ChatMessage) -> AddOutcome:
    with services.runtime.db.session() as session:
        return services.memory.add(session, scope_of(owner), messages=list(messages), infer=False)


def _search(services: Services, owner: MemoryOwner, query: str, **options: object) -> list[str]:
    with services.runtime.db.session(write=False) as session:
        ranked = services.memory.retriever.search(
            session, owner, services.memory.codec(owner), query=query, limit=10, categories=None,
            time_filter_days=None, as_of=None, now=utcnow(), **options,  # type: ignore[arg-type]
        )
    return [m.content for m in ranked.memories]


def test_a_verbatim_message_is_dated_by_when_it_was_said(services: Services) -> None:
    owner = make_end_user(services)
    [event] = _add(services, owner, ChatMessage("user", "We had dinner at the Italian place", MAY_3)).results
    with services.runtime.db.session(write=False) as session:
        view = services.memory.get(session, scope_of(owner), event.id)
    assert view.valid_at is not None and view.valid_at.replace(tzinfo=UTC) == MAY_3


def test_a_query_naming_a_day_prefers_what_was_said_then(services: Services) -> None:
    owner = make_end_user(services)
    _add(services, owner, ChatMessage("user", "Dinner at the Thai place, the best dinner this year", AUGUST_10))
    _add(services, owner, ChatMessage("user", "Dinner was pasta at the Italian place", MAY_3))
    # Without a date the Thai dinner matches more words; the day named decides.
    assert _search(services, owner, "What did we have for dinner?")[0].startswith("Dinner at the Thai")
    assert _search(services, owner, "What did we have for dinner on May 3, 2023?")[0].startswith("Dinner was pasta")
    assert _search(services, owner, "What did we have for dinner in August 2023?")[0].startswith("Dinner at the Thai")


def test_a_reply_in_a_dialogue_is_found_by_the_words_of_the_question_it_answers(services: Services) -> None:
    owner = make_end_user(services)
    _add(
        services,
        owner,
        ChatMessage("assistant", "Congratulations on the contract! Which team did you sign with?", MAY_3),
        ChatMessage("user", "The Minnesota Wolves!", MAY_3),
        ChatMessage("assistant", "Great city for basketball.", MAY_3),
    )
    found = _search(services, owner, "team sign", signals=("keyword",))
    assert "The Minnesota Wolves!" in found


def test_in_a_dialogue_the_messages_that_say_the_words_rank_above_a_neighbour_that_does_not(services: Services) -> None:
    owner = make_end_user(services)
    _add(
        services,
        owner,
        ChatMessage("assistant", "How was the team dinner?", MAY_3),
        ChatMessage("user", "Fun, the whole team came", MAY_3),
        ChatMessage("assistant", "Nice!", MAY_3),
    )
    with services.runtime.db.session(write=False) as session:
        ranked = services.memory.retriever.search(
            session, owner, services.memory.codec(owner), query="team", limit=10, categories=None,
            time_filter_days=None, as_of=None, now=utcnow(), signals=("keyword",),
        ).memories
    shares = {m.content: m.relevance for m in ranked}
    # All three hold "team" (each is indexed with the others), but a message's own words count
    # twice as much as its neighbours': "Nice!" is found, last.
    assert [m.content for m in ranked][-1] == "Nice!"
    assert 0 < shares["Nice!"] < min(shares["How was the team dinner?"], shares["Fun, the whole team came"])


def test_a_dialogue_message_is_found_by_the_words_of_the_second_message_after_it(services: Services) -> None:
    owner = make_end_user(services)
    _add(
        services,
        owner,
        ChatMessage("user", "I finally booked it last night!", MAY_3),
        ChatMessage("assistant", "Booked what?", MAY_3),
        ChatMessage("user", "The cooking class in Lisbon", MAY_3),
    )
    assert "I finally booked it last night!" in _search(services, owner, "cooking class", signals=("keyword",))


def test_a_query_word_no_memory_holds_lowers_the_keyword_share(services: Services) -> None:
    owner = make_end_user(services)
    _add(services, owner, ChatMessage("user", "I love hiking"), ChatMessage("user", "My cat is called Miso"))
    with services.runtime.db.session(write=False) as session:
        shares = [
            services.memory.retriever.search(
                session, owner, services.memory.codec(owner), query=query, limit=10, categories=None,
                time_filter_days=None, as_of=None, now=utcnow(), signals=("keyword",),
            ).best_relevance
            for query in ("hiking", "hiking volcanoes", "hiking Miso")
        ]
    # "volcanoes" is part of what was asked though nothing holds it; "Miso" is held elsewhere.
    assert 0 < shares[1] < shares[0]
    assert 0 < shares[2] < shares[0]
    assert shares[1] != shares[2]


def test_separate_facts_added_together_are_indexed_one_by_one(services: Services) -> None:
    owner = make_end_user(services)
    _add(services, owner, ChatMessage("user", "I love hiking"), ChatMessage("user", "My cat is called Miso"))
    assert _search(services, owner, "hiking", signals=("keyword",)) == ["I love hiking"]
