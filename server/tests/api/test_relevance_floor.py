"""The relevance floor on retrieve (SPEC §7 retrieval; docs/memory-engine.md "Retrieving").

With the default embedder (the local MiniLM model), a query nothing stored is about returns
nothing by default (the answerability model) — no memories and no prompt block, so an agent's
``has_context`` is false — while a relevant query still finds its memory; a request replaces
the default with a plain floor on the best relevance through ``min_relevance`` (0: none).
Over HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from memoryos_server.app import create_app
from memoryos_server.engine.embeddings import LocalMiniLMEmbedder
from memoryos_server.engine.retrieval.answerable import ANSWERABILITY, NO_FLOOR, SearchFloor
from memoryos_server.services.runtime import Runtime
from tests.fixtures.factories import TenantHandle

MEMORIES = (
    "I am allergic to peanuts and shellfish",
    "My sister Anna lives in Lisbon with her two cats",
    "I run the deployment checklist every Friday afternoon",
)
UNRELATED = (
    "What is the capital of Mongolia?",
    "Write a haiku about autumn leaves.",
    "Who painted the Mona Lisa?",
    "Who is Dr. Whitfield?",  # a name no memory holds
    "hi there!",
)
RELEVANT = (
    ("Which foods must the user avoid?", MEMORIES[0]),
    ("Where does Anna live?", MEMORIES[1]),
    ("When does the user go through the deployment checklist?", MEMORIES[2]),
)


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> LocalMiniLMEmbedder:
    return LocalMiniLMEmbedder(tmp_path_factory.mktemp("minilm"))


@pytest.fixture
def default_app(client: TestClient, minilm: LocalMiniLMEmbedder) -> Iterator[TestClient]:
    """The app as shipped: the same database and keys as the suite's, the default embedder."""
    runtime: Runtime = dataclasses.replace(client.app.state.runtime)  # type: ignore[attr-defined]
    runtime.use_embedder(minilm)
    with TestClient(create_app(runtime.settings, runtime=runtime), raise_server_exceptions=False) as app_client:
        yield app_client


def _add(client: TestClient, tenant: TenantHandle, user: str) -> None:
    response = client.post(
        "/v1/memories/add",
        json={"messages": [{"role": "user", "content": t} for t in MEMORIES], "infer": False},
        headers=tenant.key_headers(user),
    )
    assert response.status_code == 200, response.text


def _retrieve(client: TestClient, tenant: TenantHandle, user: str, query: str, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/memories/retrieve", json={"query": query, **body}, headers=tenant.key_headers(user))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.slow
def test_with_the_default_embedder_an_unrelated_query_returns_nothing(
    default_app: TestClient, tenant: TenantHandle
) -> None:
    _add(default_app, tenant, "floor-user")
    for query in UNRELATED:
        body = _retrieve(default_app, tenant, "floor-user", query)
        assert body["data"] == [], query
        assert body["system_prompt_addition"] == "" and body["context_token_count"] == 0


@pytest.mark.slow
def test_with_the_default_embedder_a_relevant_query_still_finds_its_memory(
    default_app: TestClient, tenant: TenantHandle
) -> None:
    _add(default_app, tenant, "floor-user")
    for query, expected in RELEVANT:
        body = _retrieve(default_app, tenant, "floor-user", query)
        assert body["data"] and body["data"][0]["content"] == expected, query
        assert expected in body["system_prompt_addition"]


@pytest.mark.slow
def test_a_request_lowers_or_raises_the_floor(default_app: TestClient, tenant: TenantHandle) -> None:
    _add(default_app, tenant, "floor-user")
    everything = _retrieve(default_app, tenant, "floor-user", UNRELATED[0], min_relevance=0)
    assert {m["content"] for m in everything["data"]} == set(MEMORIES)
    assert everything["system_prompt_addition"]

    query, _expected = RELEVANT[0]
    best = _retrieve(default_app, tenant, "floor-user", query)["data"][0]["relevance_score"]
    assert _retrieve(default_app, tenant, "floor-user", query, min_relevance=min(1.0, best + 0.01))["data"] == []


@pytest.mark.slow
def test_a_name_only_an_unrelated_memory_holds_is_still_found(default_app: TestClient, tenant: TenantHandle) -> None:
    _add(default_app, tenant, "floor-user")
    body = _retrieve(default_app, tenant, "floor-user", "Where does Anna live?")
    assert body["data"][0]["content"] == MEMORIES[1]
    body = _retrieve(default_app, tenant, "floor-user", "Who is Anna?")
    assert body["data"] and body["data"][0]["content"] == MEMORIES[1]


def _with(runtime: Runtime, **settings: Any) -> Runtime:
    return dataclasses.replace(runtime, settings=runtime.settings.model_copy(update=settings))


def test_the_settings_and_the_embedder_give_the_default(client: TestClient, minilm: LocalMiniLMEmbedder) -> None:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.settings.retrieval_min_relevance is None
    assert runtime.settings.retrieval_min_answerability is None
    assert runtime.search_floor == NO_FLOOR  # the suite's lexical test embedder has no calibrated model
    with_minilm = dataclasses.replace(runtime)
    with_minilm.use_embedder(minilm)
    assert with_minilm.search_floor == SearchFloor(model=ANSWERABILITY)
    assert LocalMiniLMEmbedder.answerability is ANSWERABILITY
    assert _with(with_minilm, retrieval_min_relevance=0.3).search_floor == SearchFloor(min_relevance=0.3)
    stricter = _with(with_minilm, retrieval_min_answerability=0.4).search_floor
    assert stricter.model is not None and stricter.model.cutoff == 0.4 and stricter.model.weights == ANSWERABILITY.weights
    assert _with(with_minilm, retrieval_min_answerability=0.0).search_floor == NO_FLOOR
    assert _with(runtime, retrieval_min_answerability=0.4).search_floor == NO_FLOOR  # no model to apply it to


def test_a_configured_floor_applies_and_a_request_overrides_it(client: TestClient, tenant: TenantHandle) -> None:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    strict = dataclasses.replace(runtime, settings=runtime.settings.model_copy(update={"retrieval_min_relevance": 1.0}))
    with TestClient(create_app(strict.settings, runtime=strict), raise_server_exceptions=False) as strict_client:
        _add(strict_client, tenant, "floor-user")
        assert _retrieve(strict_client, tenant, "floor-user", "peanuts shellfish allergic")["data"] == []
        found = _retrieve(strict_client, tenant, "floor-user", "peanuts shellfish allergic", min_relevance=0.05)
        assert found["data"][0]["content"] == MEMORIES[0]


def test_min_relevance_outside_zero_to_one_is_a_422(client: TestClient, tenant: TenantHandle) -> None:
    for value in (-0.1, 1.5, "high"):
        response = client.post(
            "/v1/memories/retrieve", json={"query": "x", "min_relevance": value}, headers=tenant.key_headers("u")
        )
        assert response.status_code == 422, response.text
        assert response.json()["code"] == "REQ_422"


def test_the_field_is_in_the_openapi_schema(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert "floor" in schema["RetrieveIn"]["properties"]["min_relevance"]["description"]
    assert "min_relevance" in schema["UniversalRetrieveIn"]["properties"]
