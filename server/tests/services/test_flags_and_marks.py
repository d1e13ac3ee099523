"""What an agent's read may carry (SPEC §6, §7): a memory its owner flagged is withheld from
every retrieve until unflagged, and one the owner answered "neither is correct" about comes
back marked ``unconfirmed`` in the items and in every format of the prompt block.

Runs on SQLite and PostgreSQL, for end-user, passport and workspace owners.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from memoryos_server.services.container import Services
from memoryos_server.services.memory import MemoryOwner
from memoryos_server.storage.types import utcnow
from tests.fixtures.memory import OWNER_KINDS, add, contents, make_end_user, make_owner, retrieve, scope_of


@pytest.fixture
def services(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


@pytest.fixture(params=OWNER_KINDS)
def owner(request: pytest.FixtureRequest, services: Services) -> MemoryOwner:
    return make_owner(services, request.param)


def _flag(services: Services, owner: MemoryOwner, memory_id: str, flagged: bool) -> None:
    with services.runtime.db.session() as session:
        services.memory.flag(session, scope_of(owner), memory_id, flagged=flagged)


KUBERNETES = "I have ten years of experience with Kubernetes"
HELM = "I maintain the Helm charts for our Kubernetes clusters"


def test_a_flagged_memory_is_withheld_from_retrieve_until_unflagged(services: Services, owner: MemoryOwner) -> None:
    [flagged] = add(services, owner, KUBERNETES).results
    [kept] = add(services, owner, HELM).results
    before = retrieve(services, owner, "Kubernetes experience")
    assert flagged.id in [m.id for m in before.memories] and "ten years" in before.system_prompt_addition

    _flag(services, owner, flagged.id, True)
    for fmt in ("bullets", "json", "xml"):
        hidden = retrieve(services, owner, "Kubernetes experience", format=fmt)
        assert [m.id for m in hidden.memories] == [kept.id]
        assert "ten years" not in hidden.system_prompt_addition and "Helm charts" in hidden.system_prompt_addition
    # Withheld inside the search: the one result a limit of 1 allows is the unflagged memory.
    assert [m.id for m in retrieve(services, owner, "ten years of experience with Kubernetes", limit=1).memories] == [
        kept.id
    ]
    # Also when asking about an earlier moment: the flag is the owner's word now.
    assert flagged.id not in [m.id for m in retrieve(services, owner, "Kubernetes", as_of=utcnow()).memories]
    # The owner still sees it, marked.
    with services.runtime.db.session(write=False) as session:
        listed = {m.id: m for m in services.memory.list(session, scope_of(owner)).items}
    assert listed[flagged.id].flagged and not listed[kept.id].flagged

    _flag(services, owner, flagged.id, False)
    back = retrieve(services, owner, "ten years of experience with Kubernetes", limit=1)
    assert [m.id for m in back.memories] == [flagged.id] and "ten years" in back.system_prompt_addition


def test_restating_a_flagged_memory_makes_no_unflagged_copy(services: Services, owner: MemoryOwner) -> None:
    [flagged] = add(services, owner, KUBERNETES).results
    _flag(services, owner, flagged.id, True)
    [again] = add(services, owner, KUBERNETES).results
    assert (again.event, again.id) == ("NOOP", flagged.id)
    [verbatim] = add(
        services, owner, "has ten years of experience with  Kubernetes", infer=False, category=flagged.category
    ).results
    assert (verbatim.event, verbatim.id) == ("NOOP", flagged.id)
    # The writer gets back its own text, not the wording the owner withheld.
    assert verbatim.memory == "has ten years of experience with  Kubernetes"
    assert retrieve(services, owner, "Kubernetes experience").memories == []


def test_an_update_flags_and_unflags_too(services: Services, owner: MemoryOwner) -> None:
    [memory] = add(services, owner, KUBERNETES).results
    with services.runtime.db.session() as session:
        view = services.memory.update(session, scope_of(owner), memory.id, flagged=True)
    assert view.flagged
    assert retrieve(services, owner, "Kubernetes").memories == []
    with services.runtime.db.session() as session:
        services.memory.update(session, scope_of(owner), memory.id, flagged=False)
        events = [v.event for v in services.memory.history(session, scope_of(owner), memory.id)]
    assert events == ["ADD", "FLAG", "UNFLAG"]
    assert [m.id for m in retrieve(services, owner, "Kubernetes").memories] == [memory.id]


def test_neither_is_correct_marks_both_memories_unconfirmed_for_agents(services: Services, owner: MemoryOwner) -> None:
    older = add(services, owner, "Our office is in Berlin").results[0]
    newer = add(services, owner, "Our office is in Paris").results[0]
    assert newer.event == "CONFLICT"
    disputed = retrieve(services, owner, "Where is the office?")
    assert all(m.disputed and not m.unconfirmed for m in disputed.memories)
    with services.runtime.db.session(write=False) as session:
        [question] = services.memory.questions(session, scope_of(owner)).items
    with services.runtime.db.session() as session:
        services.memory.answer(session, scope_of(owner), question.id, answer="neither")

    found = retrieve(services, owner, "Where is the office?")
    assert {m.id for m in found.memories} == {older.id, newer.id}
    assert all(m.unconfirmed and not m.disputed for m in found.memories)
    bullets = found.system_prompt_addition
    assert "Office is in Berlin [unconfirmed]" in bullets and "Office is in Paris [unconfirmed]" in bullets
    as_json = json.loads(retrieve(services, owner, "Where is the office?", format="json").system_prompt_addition)
    assert all(item.get("unconfirmed") is True for item in as_json["memories"]["fact"]) and "unconfirmed_note" in as_json
    as_xml = ET.fromstring(retrieve(services, owner, "Where is the office?", format="xml").system_prompt_addition)
    assert [m.get("unconfirmed") for m in as_xml.iter("memory")] == ["true", "true"]
    # A memory outside the question carries no mark.
    [other] = add(services, owner, "I prefer tea in the afternoon").results
    tea = retrieve(services, owner, "tea", time_filter_days=1)
    assert {m.id: m.unconfirmed for m in tea.memories}.get(other.id) is False
    assert "Prefers tea in the afternoon" in contents(tea)


def test_time_window_and_flag_filters_combine(services: Services) -> None:
    owner = make_end_user(services)
    [first] = add(services, owner, KUBERNETES).results
    [second] = add(services, owner, HELM).results
    _flag(services, owner, second.id, True)
    found = retrieve(services, owner, "Kubernetes", time_filter_days=1)
    assert [m.id for m in found.memories] == [first.id]
    assert retrieve(services, owner, "Kubernetes", as_of=utcnow() - timedelta(days=1)).memories == []
