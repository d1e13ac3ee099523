"""A question that names a period finds what was said then (docs/memory-engine.md "Retrieving",
"Periods a query names"): the memories of that period are searched as well, so a memory the
words alone rank below many others still comes back. Over HTTP, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

import memoryos_server.services.memory.retrieve as retrieve
from tests.fixtures.factories import TenantHandle

USER = "period-user"
# Every distractor (96 of them, each its own memory) says more of the question's words than the
# answer does, so on words alone (and on the suite's lexical embedder) all of them outrank it.
DISTRACTOR = "We went hiking in the hills again, hiking all day long, trip {}"
ANSWER = "Hiked the lake loop with Priya"
ANSWER_MOMENT = datetime(2024, 3, 14, 18, 0, tzinfo=UTC)


def _distractor_moments() -> list[datetime]:
    # Four a month through 2022 and 2023: nowhere near March 2024 or its slack.
    return [
        datetime(year, month, day, 12, 0, tzinfo=UTC) for year in (2022, 2023) for month in range(1, 13) for day in (3, 10, 17, 24)
    ]


def _add(client: TestClient, tenant: TenantHandle, messages: list[dict[str, Any]]) -> None:
    for start in range(0, len(messages), 64):  # the API's limit per add
        response = client.post(
            "/v1/memories/add",
            json={"messages": messages[start : start + 64], "infer": False},
            headers=tenant.key_headers(USER),
        )
        assert response.status_code == 200, response.text


def _retrieve(client: TestClient, tenant: TenantHandle, query: str) -> list[str]:
    body = {"query": query, "limit": 10}
    response = client.post("/v1/memories/retrieve", json=body, headers=tenant.key_headers(USER))
    assert response.status_code == 200, response.text
    return [item["content"] for item in response.json()["data"]]


@pytest.fixture
def stored(client: TestClient, tenant: TenantHandle) -> None:
    messages = [
        {"role": "user", "content": DISTRACTOR.format(number), "occurred_at": moment.isoformat()}
        for number, moment in enumerate(_distractor_moments(), 1)
    ]
    messages.insert(50, {"role": "user", "content": ANSWER, "occurred_at": ANSWER_MOMENT.isoformat()})
    _add(client, tenant, messages)


@pytest.mark.usefixtures("stored")
def test_a_question_naming_a_month_finds_what_was_said_that_month(client: TestClient, tenant: TenantHandle) -> None:
    found = _retrieve(client, tenant, "Where did we go hiking in March 2024?")
    assert found[0] == ANSWER
    # The same words without the month: the answer is lost among the distractors.
    assert ANSWER not in _retrieve(client, tenant, "Where did we go hiking?")


@pytest.mark.usefixtures("stored")
def test_without_the_period_search_the_answer_is_not_a_candidate(
    client: TestClient, tenant: TenantHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the test above relies on: ranking the usual candidates alone would not find it.
    monkeypatch.setattr(retrieve, "WINDOW_POOL", 0)
    assert ANSWER not in _retrieve(client, tenant, "Where did we go hiking in March 2024?")
