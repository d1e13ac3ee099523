"""The memory service with the real default embedder (local MiniLM): meaning, not just shared
words, finds memories, and de-duplication and conflicts hold with its similarities."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient

from memoryos_server.engine.embeddings import LocalMiniLMEmbedder
from memoryos_server.services.container import Services
from memoryos_server.services.memory import MemoryService
from tests.fixtures.memory import make_end_user, scope_of

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> LocalMiniLMEmbedder:
    return LocalMiniLMEmbedder(tmp_path_factory.mktemp("minilm"))


@pytest.fixture
def memory(client: TestClient, minilm: LocalMiniLMEmbedder) -> tuple[Services, MemoryService]:
    services: Services = client.app.state.services  # type: ignore[attr-defined]
    runtime = dataclasses.replace(services.runtime)  # same database and keys, its own embedder
    runtime.use_embedder(minilm)
    return services, MemoryService(runtime)


def test_minilm_retrieval_dedupe_and_conflicts(memory: tuple[Services, MemoryService]) -> None:
    services, service = memory
    owner = make_end_user(services)

    def add(*texts: str):  # type: ignore[no-untyped-def]
        from memoryos_server.engine.types import ChatMessage

        with services.runtime.db.session() as session:
            return service.add(session, scope_of(owner), messages=[ChatMessage("user", t) for t in texts])

    def search(query: str) -> list[str]:
        # How memories rank by meaning, whatever the relevance floor (test_relevance_floor.py):
        # a paraphrase may share little with its memory ("training for" / "run a marathon").
        with services.runtime.db.session(write=False) as session:
            outcome = service.retrieve(session, scope_of(owner), query=query, limit=3, min_relevance=0)
            return [m.content for m in outcome.memories]

    add(
        "Please remember that I prefer short, structured explanations and Python examples",
        "I am allergic to peanuts",
        "I want to run a marathon next year",
    )
    # No word in common with the memory it should find. (Top two, not first: with one retriever
    # contributing, rank fusion leaves neighbours so close that importance may swap them.)
    assert (
        "Prefers short, structured explanations and Python examples"
        in search("Which programming language should code samples use?")[:2]
    )
    assert "Is allergic to peanuts" in search("Any food I must avoid?")[:2]
    assert "Wants to run a marathon next year" in search("What is the user training for?")[:2]

    assert add("I am allergic to peanuts").results[0].event == "NOOP"
    assert add("I live in Berlin").results[0].event == "ADD"
    conflict = add("I live in Paris").results[0]
    assert conflict.event == "CONFLICT"
