"""An add's exact-text check is a read: a writer limited to some categories (an agent's grant)
recognises a memory it restates word for word only if it could read that memory back — filed
under one of its categories with its doubt within them too. Otherwise it would learn from the
NOOP that the memory exists, and its id and text. Its words are then stored as its own memory,
as the near-match step does (``doubt_within``). On SQLite and PostgreSQL, through
``MemoryService.store_extracted``, where an inline add and the queued worker both land; and
a memory in doubt is not found by id by such a reader either."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from memoryos_server.engine.types import ExtractedMemory
from memoryos_server.errors import MemoryNotFound
from memoryos_server.services.container import Services
from memoryos_server.services.memory import AddOutcome, MemoryOwner
from memoryos_server.services.memory.ingest import AddContext
from memoryos_server.storage.types import utcnow
from tests.fixtures.memory import make_end_user, scope_of

ROUTINE = "Calls their grandmother every Sunday"


@pytest.fixture
def services(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


def _store(services: Services, owner: MemoryOwner, memory: ExtractedMemory, allowed: list[str] | None) -> AddOutcome:
    with services.runtime.db.session() as session:
        return services.memory.store_extracted(
            session, owner=owner, extracted=[memory], context=AddContext(actor="agent:test"),
            allowed_categories=allowed, extractor="test", now=utcnow(),
        )


def test_a_writer_without_every_category_of_a_memory_in_doubt_does_not_recognise_it(services: Services) -> None:
    owner = make_end_user(services)
    in_doubt = ExtractedMemory(ROUTINE, "procedure", 5, 0.9, also_categories=("relationship",))
    [stored] = _store(services, owner, in_doubt, None).results
    assert stored.event == "ADD"

    plain = ExtractedMemory(ROUTINE, "procedure", 5, 0.9)  # the same words, filed without doubt
    [event] = _store(services, owner, plain, ["procedure"]).results
    assert event.event == "ADD" and event.id != stored.id

    # A writer holding both categories, and one with no limit, still recognise it.
    [both] = _store(services, owner, plain, ["procedure", "relationship"]).results
    assert (both.event, both.id) == ("NOOP", stored.id)
    [unlimited] = _store(services, owner, plain, None).results
    assert unlimited.event == "NOOP" and unlimited.id in {stored.id, event.id}


def test_a_reader_limited_to_some_categories_finds_no_memory_in_doubt_by_its_id(services: Services) -> None:
    """No route gives an agent a memory by id today; the rule holds there anyway (``_row``)."""
    owner = make_end_user(services)
    [stored] = _store(services, owner, ExtractedMemory(ROUTINE, "procedure", 5, 0.9, also_categories=("relationship",)), None).results
    with services.runtime.db.session(write=False) as session:
        with pytest.raises(MemoryNotFound):
            services.memory.get(session, scope_of(owner, categories=["procedure"]), stored.id)
        with pytest.raises(MemoryNotFound):
            services.memory.history(session, scope_of(owner, categories=["procedure"]), stored.id)
        assert services.memory.get(session, scope_of(owner, categories=["procedure", "relationship"]), stored.id).id == stored.id
