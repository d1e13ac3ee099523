"""The retriever's ``signals`` switch (used by bench/retrieval_quality.py): each signal alone,
and both by default. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from memoryos_server.services.container import Services
from memoryos_server.services.memory import MemoryOwner
from memoryos_server.storage.types import utcnow
from tests.fixtures.memory import add, make_end_user


@pytest.fixture
def services(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


def _search(services: Services, owner: MemoryOwner, query: str, **options: object) -> list[str]:
    with services.runtime.db.session(write=False) as session:
        ranked = services.memory.retriever.search(
            session,
            owner,
            services.memory.codec(owner),
            query=query,
            limit=10,
            categories=None,
            time_filter_days=None,
            as_of=None,
            now=utcnow(),
            **options,  # type: ignore[arg-type]
        )
    return [m.content for m in ranked.memories]


def test_each_signal_alone_and_both_by_default(services: Services) -> None:
    owner = make_end_user(services)
    add(services, owner, "Team standup is at 9:30", "Allergic to peanuts", infer=False)

    # No query word occurs in any memory: the keyword signal finds nothing, the dense one ranks all.
    assert _search(services, owner, "xylophone quartz", signals=("keyword",)) == []
    assert sorted(_search(services, owner, "xylophone quartz", signals=("dense",))) == [
        "Allergic to peanuts",
        "Team standup is at 9:30",
    ]
    assert _search(services, owner, "peanuts", signals=("keyword",)) == ["Allergic to peanuts"]
    both = _search(services, owner, "peanuts")
    assert both[0] == "Allergic to peanuts" and set(both) == {"Allergic to peanuts", "Team standup is at 9:30"}
    assert _search(services, owner, "peanuts", signals=("dense", "keyword")) == both


@pytest.mark.parametrize("signals", [(), ("sparse",), ("dense", "bm25")])
def test_unknown_or_no_signals_are_refused(services: Services, signals: tuple[str, ...]) -> None:
    owner = make_end_user(services)
    with pytest.raises(ValueError, match="signals"):
        _search(services, owner, "anything", signals=signals)
