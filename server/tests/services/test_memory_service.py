"""The memory service (SPEC §7): extraction, de-duplication, conflicts and their answers,
filters, versions. Runs on SQLite and PostgreSQL, for tenant and universal owners alike."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from memoryos_server.errors import (
    BadRequest,
    ClarificationClosed,
    ClarificationNotFound,
    MemoryNotFound,
    ReviewNotFound,
)
from memoryos_server.services.container import Services
from memoryos_server.engine.types import ExtractedMemory
from memoryos_server.services.memory import MemoryOwner
from memoryos_server.services.memory.ingest import AddContext
from memoryos_server.storage.repositories.memories import MemoryRepository
from memoryos_server.storage.types import utcnow
from tests.fixtures.memory import (
    ACTOR,
    add,
    contents,
    make_end_user,
    make_passport_user,
    make_workspace,
    retrieve,
    scope_of,
)

SEED = "Please remember that I prefer short, structured explanations and Python examples"


@pytest.fixture
def services(client: TestClient) -> Services:
    """The app's services, after the client's start-up has migrated the database."""
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


@pytest.fixture(params=["end_user", "passport"])
def owner(request: pytest.FixtureRequest, services: Services) -> MemoryOwner:
    """Both memory families behave the same (the passport API reuses this service)."""
    if request.param == "passport":
        return make_passport_user(services)
    return make_end_user(services)


def _history(services: Services, owner: MemoryOwner, memory_id: str) -> list[tuple[str, str]]:
    with services.runtime.db.session(write=False) as session:
        return [(v.event, v.content) for v in services.memory.history(session, scope_of(owner), memory_id)]


def _get(services: Services, owner: MemoryOwner, memory_id: str):  # type: ignore[no-untyped-def]
    with services.runtime.db.session(write=False) as session:
        return services.memory.get(session, scope_of(owner), memory_id)


def test_the_seed_example_is_a_preference(services: Services, owner: MemoryOwner) -> None:
    outcome = add(services, owner, SEED)
    assert outcome.status == "completed" and not outcome.nothing_to_extract
    [event] = outcome.results
    assert event.event == "ADD" and event.category == "preference"
    assert "Python examples" in event.memory and event.memory.startswith("Prefers")
    found = retrieve(services, owner, "How should I explain code to this user?")
    assert found.memories[0].id == event.id
    assert "Prefers short, structured explanations and Python examples" in found.system_prompt_addition


def test_small_talk_and_one_off_instructions_are_nothing_to_extract(services: Services, owner: MemoryOwner) -> None:
    outcome = add(services, owner, "hi, how are you?", "make this reply shorter")
    assert outcome.nothing_to_extract and outcome.results == [] and outcome.status == "completed"
    with services.runtime.db.session(write=False) as session:
        job = services.memory.job(session, scope_of(owner), outcome.job_id)
    assert job.status == "completed" and job.memories_created == 0


def test_infer_false_stores_each_message_verbatim(services: Services, owner: MemoryOwner) -> None:
    outcome = add(services, owner, "Team standup is at 9:30", "hi there", infer=False)
    assert [(e.event, e.memory, e.category) for e in outcome.results] == [
        ("ADD", "Team standup is at 9:30", "fact"),
        ("ADD", "hi there", "fact"),
    ]
    typed = add(services, owner, "Runs code reviews on Fridays", infer=False, category="procedure")
    assert typed.results[0].category == "procedure"
    with pytest.raises(BadRequest):
        add(services, owner, "x", infer=False, category="hobby")


def test_memory_ids_are_uuids_that_grow_with_time(services: Services, owner: MemoryOwner) -> None:
    """Version 7: a later memory's id sorts after an earlier one's, so the indexes keyed by
    memory id grow at their end (the write path's locality depends on it)."""
    first = add(services, owner, "Keeps bees on the roof", infer=False).results[0].id
    time.sleep(0.002)
    later = [r.id for r in add(services, owner, "Brews cider in October", "Owns a cargo bike", infer=False).results]
    for memory_id in (first, *later):
        parsed = uuid.UUID(memory_id)
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122 and str(parsed) == memory_id
    assert all(first < memory_id for memory_id in later)
    assert len({first, *later}) == 3


def test_a_restatement_is_a_noop_and_more_detail_is_an_update(services: Services, owner: MemoryOwner) -> None:
    first = add(services, owner, "I love hiking").results[0]
    again = add(services, owner, "I love hiking").results[0]
    assert (again.event, again.id) == ("NOOP", first.id)
    detailed = add(services, owner, "I love hiking in the Alps").results[0]
    assert (detailed.event, detailed.id) == ("UPDATE", first.id)
    assert detailed.memory == "Loves hiking in the Alps"
    assert _get(services, owner, first.id).content == "Loves hiking in the Alps"
    assert _history(services, owner, first.id) == [("ADD", "Loves hiking"), ("UPDATE", "Loves hiking in the Alps")]
    with services.runtime.db.session(write=False) as session:
        listed = services.memory.list(session, scope_of(owner))
    assert listed.total == 1  # no copies


def test_duplicates_inside_one_add_are_decided_too(services: Services, owner: MemoryOwner) -> None:
    # Extracted memories handed over as they are, so the extractor's own de-duplication of one
    # batch cannot hide ours.
    extracted = [
        ExtractedMemory(content=text, category="preference", importance=5, confidence=0.8)
        for text in ("Loves hiking", "Loves hiking", "Loves hiking in the Alps")
    ]
    with services.runtime.db.session() as session:
        outcome = services.memory.store_extracted(
            session,
            owner=owner,
            extracted=extracted,
            context=AddContext(actor=ACTOR),
            allowed_categories=None,
            extractor="test",
            now=utcnow(),
        )
    assert [e.event for e in outcome.results] == ["ADD", "NOOP", "UPDATE"]
    assert len({e.id for e in outcome.results}) == 1


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("My exam is on March 10", "My exam is on March 15"),  # a changed date
        ("My manager is Alice", "My manager is Bob"),  # a changed name
        ("I like dark mode", "I do not like dark mode"),  # a flipped preference
        ("I have two kids", "I have three kids"),  # a changed number
    ],
)
def test_each_kind_of_contradiction_opens_a_clarification(services: Services, older: str, newer: str) -> None:
    owner = make_end_user(services)
    a = add(services, owner, older).results[0]
    b = add(services, owner, newer).results[0]
    assert b.event == "CONFLICT" and b.id != a.id
    assert _get(services, owner, a.id).disputed and _get(services, owner, b.id).disputed
    found = retrieve(services, owner, newer)
    clarification = found.clarification
    assert clarification is not None
    assert [(o.answer, o.memory_id) for o in clarification.options] == [
        ("A", a.id),
        ("B", b.id),
        ("both", None),
        ("neither", None),
    ]
    assert a.memory in clarification.question and b.memory in clarification.question
    assert "[disputed]" in found.system_prompt_addition


def _conflicted(services: Services, owner: MemoryOwner) -> tuple[str, str, str]:
    a = add(services, owner, "I live in Berlin").results[0]
    b = add(services, owner, "I live in Paris").results[0]
    assert b.event == "CONFLICT"
    with services.runtime.db.session(write=False) as session:
        clarification = services.memory.current_clarification(session, owner=owner)
    assert clarification is not None
    return clarification.id, a.id, b.id


def _answer(services: Services, owner: MemoryOwner, conflict_id: str, answer: str, free_text: str | None = None):  # type: ignore[no-untyped-def]
    with services.runtime.db.session() as session:
        return services.memory.answer(
            session, scope_of(owner), conflict_id, answer=answer, free_text=free_text
        )


@pytest.mark.parametrize("choice", ["A", "B"])
def test_answering_a_or_b_archives_the_other(services: Services, owner: MemoryOwner, choice: str) -> None:
    conflict_id, a, b = _conflicted(services, owner)
    outcome = _answer(services, owner, conflict_id, choice)
    kept, gone = (a, b) if choice == "A" else (b, a)
    assert outcome.resolved and outcome.resolution == choice and outcome.archived_memory_ids == [gone]
    assert _get(services, owner, kept).status == "active" and not _get(services, owner, kept).disputed
    assert _get(services, owner, gone).status == "archived"
    assert [m.id for m in retrieve(services, owner, "Where does the user live?").memories] == [kept]
    assert [e for e, _ in _history(services, owner, gone)][-1] == "ARCHIVE"
    assert [e for e, _ in _history(services, owner, kept)][-1] == "RESOLVE"
    with services.runtime.db.session(write=False) as session:
        assert services.memory.current_clarification(session, owner=owner) is None


def test_answering_both_keeps_both_undisputed(services: Services, owner: MemoryOwner) -> None:
    conflict_id, a, b = _conflicted(services, owner)
    _answer(services, owner, conflict_id, "both")
    for memory_id in (a, b):
        view = _get(services, owner, memory_id)
        assert view.status == "active" and not view.disputed and not view.unconfirmed
    found = retrieve(services, owner, "Where does the user live?")
    assert {m.id for m in found.memories} == {a, b} and "[disputed]" not in found.system_prompt_addition


def test_answering_neither_keeps_both_unconfirmed_and_closes_the_question(
    services: Services, owner: MemoryOwner
) -> None:
    conflict_id, a, b = _conflicted(services, owner)
    _answer(services, owner, conflict_id, "neither", free_text="I moved to Rome")
    for memory_id in (a, b):
        view = _get(services, owner, memory_id)
        assert view.status == "active" and view.unconfirmed and not view.disputed
        assert _history(services, owner, memory_id)[-1][0] == "UNCONFIRMED"
    with pytest.raises(ClarificationClosed):
        _answer(services, owner, conflict_id, "A")


def test_deleting_one_side_closes_the_question_and_records_the_other_sides_release(
    services: Services, owner: MemoryOwner
) -> None:
    conflict_id, berlin, paris = _conflicted(services, owner)
    assert _get(services, owner, berlin).disputed
    with services.runtime.db.session() as session:
        services.memory.delete(session, scope_of(owner), paris)
    kept = _get(services, owner, berlin)
    assert kept.status == "active" and not kept.disputed
    assert [e for e, _ in _history(services, owner, berlin)][-1] == "RESOLVE"
    with services.runtime.db.session(write=False) as session:
        assert services.memory.current_clarification(session, owner=owner) is None
    with pytest.raises(ClarificationClosed):
        _answer(services, owner, conflict_id, "A")


def test_unknown_or_foreign_question_ids_are_not_found(services: Services) -> None:
    owner, stranger = make_end_user(services), make_end_user(services)
    conflict_id, _, _ = _conflicted(services, owner)
    with pytest.raises(ClarificationNotFound):
        _answer(services, stranger, conflict_id, "A")
    with pytest.raises(ClarificationNotFound):
        _answer(services, owner, "00000000-0000-0000-0000-000000000000", "A")
    with pytest.raises(BadRequest):
        _answer(services, owner, conflict_id, "maybe")


def test_a_workspace_conflict_is_a_review(services: Services) -> None:
    workspace = make_workspace(services)
    add(services, workspace, "Our office is in Berlin")
    outcome = add(services, workspace, "Our office is in Paris")
    assert outcome.results[0].event == "CONFLICT"
    [review_id] = outcome.conflict_ids
    assert review_id.startswith("rev_")
    with services.runtime.db.session(write=False) as session:
        reviews = services.memory.questions(session, scope_of(workspace))
    assert [r.id for r in reviews.items] == [review_id]
    assert retrieve(services, workspace, "office").clarification is None  # reviews go to the dashboard
    _answer(services, workspace, review_id, "B")
    with pytest.raises(ClarificationClosed):
        _answer(services, workspace, review_id, "A")
    with pytest.raises(ReviewNotFound):
        _answer(services, workspace, "rev_unknown", "A")


def test_a_passport_conflict_is_a_pending_question(services: Services) -> None:
    passport = make_passport_user(services)
    add(services, passport, "I live in Berlin")
    add(services, passport, "I live in Paris")
    with services.runtime.db.session(write=False) as session:
        questions = services.memory.questions(session, scope_of(passport))
    assert questions.total == 1 and questions.items[0].kind == "question"
    # Questions of the passport user are for the permission center, not surfaced to agents.
    assert retrieve(services, passport, "Where does the user live?").clarification is None


def test_allowed_categories_drop_and_count_the_rest(services: Services, owner: MemoryOwner) -> None:
    outcome = add(
        services, owner, SEED, "I live in Berlin", "I want to run a marathon next year", allowed_categories=["fact"]
    )
    assert [e.category for e in outcome.results] == ["fact"] and outcome.skipped == 2
    # A memory was found, only not kept: that is not "nothing to extract" (SPEC §5).
    everything_dropped = add(services, owner, SEED, allowed_categories=["goal"])
    assert not everything_dropped.nothing_to_extract and everything_dropped.skipped == 1
    assert everything_dropped.results == []
    small_talk = add(services, owner, "hi, how are you?", allowed_categories=["goal"])
    assert small_talk.nothing_to_extract and small_talk.skipped == 0


def test_category_and_time_filters_apply_inside_the_search(services: Services, owner: MemoryOwner) -> None:
    add(services, owner, SEED, "I live in Berlin", "I want to run a marathon next year")
    only_goals = retrieve(services, owner, "Python explanations Berlin marathon", categories=["goal"])
    assert [m.category for m in only_goals.memories] == ["goal"]
    everything = retrieve(services, owner, "Python explanations Berlin marathon", categories=[])
    assert len(everything.memories) == 3
    recent = retrieve(services, owner, "Python explanations Berlin marathon", time_filter_days=1)
    assert len(recent.memories) == 3
    limited = retrieve(services, owner, "Python explanations Berlin marathon", limit=1)
    assert len(limited.memories) == 1


def test_the_time_filter_leaves_out_older_memories(services: Services, owner: MemoryOwner) -> None:
    old = add(services, owner, "I live in Berlin").results[0].id
    # Written 30 days ago: the row and its first version, before any search has read the row
    # (the next add's neighbour lookup is the first).
    month_ago = utcnow() - timedelta(days=30)
    with services.runtime.db.session() as session:
        repo = MemoryRepository(session, owner.family)
        repo.by_ids(owner.id, [old])[old].created_at = month_ago
        for version in repo.versions_at([old], utcnow()).values():
            version.created_at = month_ago
    recent = add(services, owner, "I want to run a marathon next year").results[0].id
    query = "Berlin marathon next year"
    assert {m.id for m in retrieve(services, owner, query, time_filter_days=7).memories} == {recent}
    assert {m.id for m in retrieve(services, owner, query, time_filter_days=60).memories} == {old, recent}
    assert {m.id for m in retrieve(services, owner, query).memories} == {old, recent}
    # Counted back from as_of when one is given: the week before "25 days ago" holds the old one.
    then = utcnow() - timedelta(days=25)
    assert {m.id for m in retrieve(services, owner, query, time_filter_days=7, as_of=then).memories} == {old}
    assert retrieve(services, owner, query, time_filter_days=3, as_of=then).memories == []


def test_as_of_answers_from_the_memories_valid_then(services: Services, owner: MemoryOwner) -> None:
    hiking = add(services, owner, "I love hiking").results[0]
    time.sleep(0.02)
    before_update = utcnow()
    time.sleep(0.02)
    add(services, owner, "I love hiking in the Alps")
    conflict_id, berlin, paris = _conflicted(services, owner)
    time.sleep(0.02)
    before_answer = utcnow()
    time.sleep(0.02)
    _answer(services, owner, conflict_id, "B")

    then = retrieve(services, owner, "hiking Berlin Paris", as_of=before_update)
    assert contents(then) == ["Loves hiking"]  # the text of that moment, and nothing added later
    assert then.memories[0].id == hiking.id
    middle = retrieve(services, owner, "hiking Berlin Paris", as_of=before_answer)
    assert {m.id for m in middle.memories} == {hiking.id, berlin, paris}  # Berlin not yet archived
    now = retrieve(services, owner, "hiking Berlin Paris")
    assert {m.id for m in now.memories} == {hiking.id, paris}
    assert "Loves hiking in the Alps" in contents(now)
    assert retrieve(services, owner, "hiking", as_of=before_update - timedelta(days=1)).memories == []


@pytest.mark.parametrize("format", ["bullets", "json", "xml"])
def test_formats_and_the_token_budget(services: Services, owner: MemoryOwner, format: str) -> None:
    add(
        services,
        owner,
        *[f"I visited city number {i} last summer and loved the food there" for i in range(30)],
        infer=False,
    )
    roomy = retrieve(services, owner, "city food summer", limit=30, format=format, context_max_tokens=4000)
    tight = retrieve(services, owner, "city food summer", limit=30, format=format, context_max_tokens=60)
    assert roomy.context_token_count > tight.context_token_count
    assert tight.context_token_count <= 60
    if format == "json":
        import json

        assert "memories" in json.loads(roomy.system_prompt_addition)
    elif format == "xml":
        assert roomy.system_prompt_addition.startswith("<user_context")
    else:
        assert roomy.system_prompt_addition.splitlines()[1] == "Facts:"


def test_updates_deletes_and_history(services: Services, owner: MemoryOwner) -> None:
    memory_id = add(services, owner, "I live in Berlin").results[0].id
    with services.runtime.db.session() as session:
        edited = services.memory.update(
            session, scope_of(owner), memory_id, content="Lives in Berlin-Mitte", importance=8
        )
    assert (edited.content, edited.importance, edited.version) == ("Lives in Berlin-Mitte", 8.0, 2)
    assert contents(retrieve(services, owner, "Mitte")) == ["Lives in Berlin-Mitte"]
    with services.runtime.db.session() as session:
        services.memory.delete(session, scope_of(owner), memory_id)
    with pytest.raises(MemoryNotFound):
        _get(services, owner, memory_id)
    assert retrieve(services, owner, "Mitte").memories == []
    hard = add(services, owner, "I work at Acme").results[0].id
    with services.runtime.db.session() as session:
        services.memory.delete(session, scope_of(owner), hard, hard=True)
    with pytest.raises(MemoryNotFound):
        _history(services, owner, hard)


def test_reads_are_counted_in_the_background(services: Services, owner: MemoryOwner) -> None:
    memory_id = add(services, owner, SEED).results[0].id
    retrieve(services, owner, "explanations")
    retrieve(services, owner, "explanations")
    services.memory.flush_access()  # the app's background thread may be flushing too
    deadline = time.monotonic() + 5
    while (view := _get(services, owner, memory_id)).access_count < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert view.access_count == 2 and view.last_accessed is not None
    assert view.updated_at == view.created_at  # a read is not an edit


def test_counting_reads_never_writes_the_memory_row(services: Services, owner: MemoryOwner) -> None:
    memory_id = add(services, owner, SEED).results[0].id
    engine = services.runtime.db.engine
    postgres = engine.dialect.name == "postgresql"
    table = owner.family.memory.__tablename__
    reads_table = owner.family.reads.__tablename__

    def row_version() -> Any:
        # PostgreSQL's xmin changes with every new version of the row (an update); SQLite has
        # no such column, and there the reads table holding the counts is what is checked.
        if not postgres:
            return None
        with engine.connect() as connection:
            return connection.execute(text(f"SELECT xmin::text FROM {table} WHERE id = :id"), {"id": memory_id}).scalar()

    def held() -> dict[str, int]:  # this test's memories' rows (other tests' may share the table)
        with engine.connect() as connection:
            rows = connection.execute(text(f"SELECT memory_id, access_count FROM {reads_table}")).all()
        return {row_id: count for row_id, count in rows if row_id in mine}

    mine = {memory_id}

    before = row_version()
    for _ in range(2):
        assert [m.id for m in retrieve(services, owner, "explanations").memories] == [memory_id]
        services.memory.flush_access()
    deadline = time.monotonic() + 5  # the app's background thread may be the one flushing
    while (view := _get(services, owner, memory_id)).access_count < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert view.access_count == 2 and held() == {memory_id: 2}  # the second flush added to the first's row
    assert row_version() == before

    gone = add(services, owner, "I keep bees on the roof of my building").results[0].id
    mine.add(gone)
    assert gone in [m.id for m in retrieve(services, owner, "bees on the roof").memories]
    with services.runtime.db.session() as session:  # a read counted for a memory deleted before the flush
        services.memory.delete(session, scope_of(owner), gone, hard=True)
    services.memory.flush_access()  # does not fail on the memory that is gone
    assert gone not in held() and held()[memory_id] >= 2
    with services.runtime.db.session() as session:  # a hard delete takes the counts with it
        services.memory.delete(session, scope_of(owner), memory_id, hard=True)
    assert held() == {}


def test_one_owner_never_sees_another(services: Services) -> None:
    alice, bob = make_end_user(services), make_end_user(services)
    memory_id = add(services, alice, SEED).results[0].id
    assert retrieve(services, bob, "Python explanations").memories == []
    with pytest.raises(MemoryNotFound):
        _get(services, bob, memory_id)
    # The same words for bob make his own memory, not a NOOP against alice's.
    assert add(services, bob, SEED).results[0].event == "ADD"


def test_concurrent_adds_for_one_owner_lose_nothing(services: Services, owner: MemoryOwner) -> None:
    threads_count, per_thread = 6, 5
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(per_thread):
                add(services, owner, f"Note {worker}-{i}: the locker code is {worker * 100 + i}", infer=False)
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with services.runtime.db.session(write=False) as session:
        listed = services.memory.list(session, scope_of(owner), limit=200)
    texts = {m.content for m in listed.items}
    assert len(texts) == threads_count * per_thread
    found = retrieve(services, owner, "locker code 203", limit=5)
    assert "Note 2-3: the locker code is 203" in contents(found)
