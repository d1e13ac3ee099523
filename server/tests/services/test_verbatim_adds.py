"""Verbatim adds (``infer: false``, SPEC §5 and §7): every message becomes its own memory.

Only a text identical after whitespace and case normalisation to an active memory of the same
owner and category is a NOOP; a verbatim add never rewrites another memory and never opens a
conflict. Runs on SQLite and PostgreSQL, for tenant and universal owners alike.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from fastapi.testclient import TestClient

from memoryos_server.services.container import Services
from memoryos_server.services.memory import MemoryOwner
from memoryos_server.storage.repositories.memories import MemoryRepository
from tests.fixtures.memory import OWNER_KINDS, add, make_owner, retrieve, scope_of


@pytest.fixture
def services(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


@pytest.fixture(params=OWNER_KINDS)
def owner(request: pytest.FixtureRequest, services: Services) -> MemoryOwner:
    return make_owner(services, request.param)


def _listed(services: Services, owner: MemoryOwner) -> list:  # type: ignore[type-arg]
    with services.runtime.db.session(write=False) as session:
        return services.memory.list(session, scope_of(owner), limit=500).items


def _versions(services: Services, owner: MemoryOwner, memory_id: str) -> list[tuple[str, str]]:
    with services.runtime.db.session(write=False) as session:
        return [(v.event, v.content) for v in services.memory.history(session, scope_of(owner), memory_id)]


def test_texts_that_differ_by_an_identifier_or_a_number_are_two_memories(
    services: Services, owner: MemoryOwner
) -> None:
    first = add(services, owner, "The deploy token for staging is aaaa1111, rotate it monthly", infer=False)
    second = add(services, owner, "The deploy token for staging is 9999, rotate it monthly", infer=False)
    [a], [b] = first.results, second.results
    assert (a.event, b.event) == ("ADD", "ADD") and a.id != b.id
    assert b.memory == "The deploy token for staging is 9999, rotate it monthly"
    stored = {m.id: m.content for m in _listed(services, owner)}
    assert stored == {
        a.id: "The deploy token for staging is aaaa1111, rotate it monthly",
        b.id: "The deploy token for staging is 9999, rotate it monthly",
    }
    assert _versions(services, owner, a.id) == [("ADD", "The deploy token for staging is aaaa1111, rotate it monthly")]
    assert not any(m.disputed for m in _listed(services, owner)) and not first.conflict_ids + second.conflict_ids


def test_the_same_text_again_is_a_noop_whatever_its_case_and_spacing(services: Services, owner: MemoryOwner) -> None:
    [first] = add(services, owner, "Badge number 4471 opens the north door", infer=False).results
    [again] = add(services, owner, "  badge NUMBER 4471   opens the north door  ", infer=False).results
    assert (again.event, again.id) == ("NOOP", first.id)
    within = add(services, owner, "Locker 12 is mine", "LOCKER 12 IS MINE", infer=False).results
    assert [e.event for e in within] == ["ADD", "NOOP"] and within[0].id == within[1].id
    assert len(_listed(services, owner)) == 2


def test_the_same_text_in_another_category_is_another_memory(services: Services, owner: MemoryOwner) -> None:
    [fact] = add(services, owner, "Runs the release checklist on Fridays", infer=False).results
    [procedure] = add(
        services, owner, "Runs the release checklist on Fridays", infer=False, category="procedure"
    ).results
    assert (fact.event, fact.category) == ("ADD", "fact")
    assert (procedure.event, procedure.category) == ("ADD", "procedure") and procedure.id != fact.id


def test_a_verbatim_add_never_rewrites_an_extracted_memory(services: Services, owner: MemoryOwner) -> None:
    [extracted] = add(services, owner, "I love hiking").results
    assert extracted.memory == "Loves hiking" and extracted.category == "preference"
    [verbatim] = add(services, owner, "Loves hiking in the Alps", infer=False, category="preference").results
    assert verbatim.event == "ADD" and verbatim.id != extracted.id
    assert _versions(services, owner, extracted.id) == [("ADD", "Loves hiking")]


def test_many_similar_verbatim_texts_open_no_conflict(services: Services, owner: MemoryOwner) -> None:
    texts = [f"Ticket {n} is assigned to team {n % 3}, priority {n % 5}" for n in range(40)]
    texts += ["My manager is Alice", "My manager is Bob", "I like dark mode", "I do not like dark mode"]
    outcome = add(services, owner, *texts, infer=False)
    assert [e.event for e in outcome.results] == ["ADD"] * len(texts) and outcome.conflict_ids == []
    listed = _listed(services, owner)
    assert sorted(m.content for m in listed) == sorted(texts)
    assert not any(m.disputed for m in listed)
    with services.runtime.db.session(write=False) as session:
        assert services.memory.questions(session, scope_of(owner)).total == 0
    assert retrieve(services, owner, "Who is the manager?").clarification is None


def test_concurrent_verbatim_writers_never_rewrite_an_acknowledged_memory(
    services: Services, owner: MemoryOwner
) -> None:
    """Six writers of near-identical texts (they differ by a number or an identifier): every
    acknowledged memory keeps exactly the text it was acknowledged with."""
    writers, per_writer = 6, 8
    acknowledged: dict[str, str] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work(writer: int) -> None:
        try:
            for i in range(per_writer):
                text = f"Session token for device {writer} is {writer:02d}{i:02d}ab, expires in {i + 1} days"
                [event] = add(services, owner, text, infer=False).results
                assert event.event == "ADD" and event.memory == text, event
                with lock:
                    acknowledged[event.id] = text
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(acknowledged) == writers * per_writer
    listed = {m.id: m for m in _listed(services, owner)}
    assert {memory_id: m.content for memory_id, m in listed.items()} == acknowledged
    assert not any(m.disputed or m.version != 1 for m in listed.values())


LONG_ADD = 64  # the most messages one add takes


def test_a_long_verbatim_add_keeps_each_message_with_its_own_vector_and_order(
    services: Services, owner: MemoryOwner
) -> None:
    texts = [f"Warehouse bin {n} holds part {n * 7919 % 10007} for line {n % 4}" for n in range(LONG_ADD)]
    texts[40] = texts[2].upper()  # restates an earlier message
    texts[-1] = texts[-2]  # and the one just before
    outcome = add(services, owner, *texts, infer=False)
    events = outcome.results
    assert [e.memory for e in events[:3]] == texts[:3]
    assert (events[40].event, events[40].id) == ("NOOP", events[2].id)
    assert (events[-1].event, events[-1].id) == ("NOOP", events[-2].id)
    added = [(e.id, text) for e, text in zip(events, texts, strict=True) if e.event == "ADD"]
    assert len(added) == LONG_ADD - 2 and all(e.memory == text for e, text in zip(events, texts, strict=True) if e.event == "ADD")
    expected = services.runtime.embedder.embed([text for _, text in added])
    with services.runtime.db.session(write=False) as session:
        rows = MemoryRepository(session, owner.family).by_ids(owner.id, [memory_id for memory_id, _ in added])
        stored = np.stack([np.asarray(rows[memory_id].embedding, dtype=np.float32) for memory_id, _ in added])
    # Each row holds its own text's vector, whatever order the embedder batched them in.
    assert np.allclose(stored, expected, atol=1e-5)
    last = texts[LONG_ADD - 3]
    assert retrieve(services, owner, last, limit=1).memories[0].content == last
