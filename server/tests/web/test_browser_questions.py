"""Pending Questions in a browser: each of the four answers, and what it does to the two memories.

SPEC §7: ``A``/``B`` keep one and archive the other; ``both`` keeps both, no longer disputed;
``neither`` keeps both, marked unconfirmed, and closes the question.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.fixtures.passport import AgentHandle, exchange, new_agent  # noqa: F401
from tests.web.browser import Person

pytestmark = pytest.mark.browser


def _conflicting_memories(client: TestClient, person: Person, agent: AgentHandle) -> tuple[str, str]:
    """A read-write grant made through the JSON API, and two memories that contradict each other."""
    cookie = person.session_cookie()
    assert cookie is not None
    granted = client.post(
        "/v1/uui/me/grants",
        json={"agent_id": agent.id, "categories_allowed": ["fact", "goal"], "access_type": "read_write"},
        headers={"X-MemoryOS-Session": cookie["value"]},
    )
    assert granted.status_code == 200, granted.text
    uui = exchange(client, agent, granted.json()["data"]["code"])["uui_token"]
    ids = []
    for text in ("My exam is on March 10.", "My exam is on March 15."):
        added = client.post("/v1/universal/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=agent.headers(uui))
        assert added.status_code == 200, added.text
        ids.append(added.json()["results"][0]["id"])
    assert added.json()["results"][0]["event"] == "CONFLICT"
    return ids[0], ids[1]


@pytest.mark.parametrize(
    ("answer", "button", "said", "label", "archived", "unconfirmed"),
    [
        ("A", "The first", "Kept the first version; the other one is archived.", "You kept the first version", {"second"}, False),
        ("B", "The second", "Kept the second version; the other one is archived.", "You kept the second version", {"first"}, False),
        ("both", "Both are correct", "Both versions stay, as correct.", "You said both are correct", set(), False),
        ("neither", "Neither is correct", "Closed. Neither version is treated as confirmed.", "You said neither is correct", set(), True),
    ],
)
def test_each_answer_to_a_pending_question(
    person: Callable[..., Person],
    client: TestClient,
    new_agent: Callable[..., AgentHandle],
    answer: str,
    button: str,
    said: str,
    label: str,
    archived: set[str],
    unconfirmed: bool,
) -> None:
    quinn = person(f"quinn.{answer.lower()}@example.com")
    quinn.sign_in()
    first, second = _conflicting_memories(client, quinn, new_agent(name="Exam Coach"))
    memories = {"first": first, "second": second}
    page = quinn.page

    # Before: both versions are there, both disputed, and one question is open.
    quinn.open("/manage/memories")
    for memory_id in memories.values():
        expect(page.locator(f"#memory-{memory_id} .badge", has_text="Disputed")).to_be_visible()
    quinn.open("/manage/questions")
    question = page.locator(".question")
    expect(question).to_have_count(1)
    expect(question.locator(".version").nth(0)).to_contain_text("March 10")
    expect(question.locator(".version").nth(1)).to_contain_text("March 15")

    question.get_by_role("button", name=button, exact=True).click()
    expect(page.get_by_role("status")).to_contain_text(f"Thanks! {said}")
    expect(page.locator(".question")).to_have_count(0)
    expect(page.get_by_text("No open questions.")).to_be_visible()
    expect(page.get_by_role("link", name="Pending Questions")).not_to_contain_text("1")

    # The question is closed, with the answer given.
    quinn.open("/manage/questions?show=answered")
    expect(page.locator(".question")).to_have_count(1)
    expect(page.locator(".question")).to_contain_text(label)

    # After, on the memories page: what the answer did to each version.
    quinn.open("/manage/memories")
    for which, memory_id in memories.items():
        item = page.locator(f"#memory-{memory_id}")
        expect(item).to_be_visible()  # nothing is deleted by an answer
        expect(item.locator(".badge", has_text="Disputed")).to_have_count(0)
        if which in archived:
            expect(item).to_have_class("memory archived")
            expect(item.locator(".badge", has_text="Archived")).to_be_visible()
        else:
            expect(item).to_have_class("memory")
            expect(item.locator(".badge", has_text="Archived")).to_have_count(0)
        expect(item.locator(".badge", has_text="Unconfirmed")).to_have_count(1 if unconfirmed else 0)
