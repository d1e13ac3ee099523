"""Every page: labelled controls, grouped choices, one heading to start from, visible focus, and
nothing wider than the screen (a table that scrolls sideways on a phone is hard to read)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page

from memoryos.universal import UniversalMemory
from tests.fixtures.app import LiveServer
from tests.fixtures.passport import AgentHandle, exchange, new_agent  # noqa: F401
from tests.web.browser import PHONE, Person

pytestmark = pytest.mark.browser

_UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), textarea, select')]
    .filter(el => !el.labels || el.labels.length === 0).map(el => el.outerHTML)"""
_UNGROUPED = """() => [...document.querySelectorAll('input[type=radio], input[type=checkbox]')]
    .filter(el => { const set = el.closest('fieldset'); return !set || !set.querySelector('legend'); })
    .map(el => el.outerHTML)"""
_NAMELESS = """() => [...document.querySelectorAll('button, a[href]')]
    .filter(el => !el.textContent.trim() && !el.getAttribute('aria-label')).map(el => el.outerHTML)"""
_FIRST_STOP = """() => document.querySelector('a[href], button, input:not([type=hidden]), textarea, select, summary')
    .textContent.trim()"""
_FOCUS_RING = """() => { const s = getComputedStyle(document.activeElement);
    return [document.activeElement.tagName, s.outlineStyle, parseFloat(s.outlineWidth)]; }"""
_TOO_WIDE = """() => [document.documentElement, ...document.querySelectorAll('.table-wrap')]
    .filter(el => el.scrollWidth > el.clientWidth + 1).map(el => el.className || el.tagName)"""


def _check(page: Page, *, tabs: bool) -> None:
    where = page.url
    assert page.evaluate(_UNLABELLED) == [], where
    assert page.evaluate(_UNGROUPED) == [], where
    assert page.evaluate(_NAMELESS) == [], where
    assert page.locator("h1").count() == 1, where
    assert page.locator("html[lang=en]").count() == 1
    assert page.evaluate(_TOO_WIDE) == [], where
    if tabs:
        assert page.locator("nav[aria-label='Permission center'] [aria-current=page]").count() == 1, where
    # Keyboard users see where they are: the skip link comes first, and each stop has a ring.
    assert page.evaluate(_FIRST_STOP) == "Skip to content", where
    page.locator(".skip").focus()
    for _ in range(3):
        page.keyboard.press("Tab")
        tag, style, width = page.evaluate(_FOCUS_RING)
        assert style != "none" and width >= 2, (where, tag, style, width)


def test_every_page_is_labelled_and_shows_focus(
    person: Callable[..., Person], client: TestClient, live_server: LiveServer, new_agent: Callable[..., AgentHandle]
) -> None:
    agent = new_agent(name="Labelled Agent", default_categories_requested=["goal"])
    ivy = person("ivy.a11y@example.com")
    ivy.open("/login")
    _check(ivy.page, tabs=False)
    ivy.sign_in()
    _check(ivy.page, tabs=True)  # the code page was checked on the way: it is the page signed in from

    cookie = ivy.session_cookie()
    assert cookie is not None
    granted = client.post(
        "/v1/uui/me/grants",
        json={"agent_id": agent.id, "categories_allowed": ["fact", "goal"], "access_type": "read_write"},
        headers={"X-MemoryOS-Session": cookie["value"]},
    ).json()["data"]
    uui = exchange(client, agent, granted["code"])["uui_token"]
    added = []
    for text in ("My exam is on March 10.", "My exam is on March 15.", "My goal is to learn the cello."):
        answer = client.post("/v1/universal/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=agent.headers(uui))
        added.append(answer.json()["results"][0]["id"])
    corrected = client.post(
        f"/v1/uui/me/memories/{added[-1]}/correct",
        json={"corrected_content": "Is learning the cello, with a teacher, twice a week since the spring"},
        headers={"X-MemoryOS-Session": cookie["value"]},
    )
    assert corrected.status_code == 200, corrected.text

    pages = [
        UniversalMemory.consent_url(agent.id, categories=["goal"], base_url=live_server.url),
        "/manage/agents",
        "/manage/connections",
        "/manage/memories",
        f"/manage/memories/{added[-1]}/history",
        "/manage/questions",
        "/manage/activity",
        "/manage/sessions",
        f"/manage/agents/{granted['id']}/revoke",
        "/manage/export",
        "/manage/delete",
    ]
    for viewport in (None, PHONE):
        if viewport:
            ivy.page.set_viewport_size(viewport)
        for path in pages:
            ivy.open(path)
            _check(ivy.page, tabs=path.startswith("/manage"))
