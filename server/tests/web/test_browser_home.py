"""The server's front door in a browser: the landing page leads to the Memory Passport and the
developer links, and the API docs render from this server alone, with other origins cut off."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Route, expect

from tests.web.browser import PHONE, Person
from tests.web.test_browser_accessibility import _check

pytestmark = pytest.mark.browser

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def offline(person: Person) -> list[str]:
    """Abort every request to another host, as on a machine without internet; the list fills
    with what was attempted."""
    attempted: list[str] = []

    def handle(route: Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    person.context.route("**/*", handle)
    return attempted


def test_the_landing_page_leads_to_the_passport_and_the_developer_links(person: Callable[..., Person]) -> None:
    lena = person("lena.home@example.com")
    attempted = offline(lena)
    page = lena.open("/")
    expect(page.get_by_role("heading", name="MemoryOS", level=1)).to_be_visible()
    for name, href in [
        ("API documentation", "/docs"),
        ("/openapi.json", "/openapi.json"),
        ("/healthz", "/healthz"),
        ("/readyz", "/readyz"),
    ]:
        expect(page.get_by_role("link", name=name, exact=True)).to_have_attribute("href", href)
    # The organisation's console: it asks to sign in.
    expect(page.get_by_role("link", name="Dashboard", exact=True)).to_have_attribute("href", "/dashboard")
    lena.shot("home")
    _check(page, tabs=False)
    page.set_viewport_size(PHONE)
    lena.open("/")
    lena.shot("home-phone")
    _check(page, tabs=False)

    page.get_by_role("link", name="Sign in to your Memory Passport").click()
    lena.ask_for_code()
    lena.enter_code(lena.latest_code())
    expect(page).to_have_url(re.compile(r"/manage"))
    lena.open("/")
    page.get_by_role("link", name="Open your Memory Passport").click()
    expect(page).to_have_url(re.compile(r"/manage"))
    assert attempted == []


def test_the_api_docs_render_without_internet(person: Callable[..., Person]) -> None:
    dev = person("dev.docs@example.com")
    attempted = offline(dev)
    blocked: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if message.type == "error" and "Content Security Policy" in message.text:
            blocked.append(message.text)

    dev.page.on("console", watch)
    page = dev.open("/docs")
    # Swagger UI renders the whole document in the page: give a busy two-core machine time.
    expect(page.get_by_role("heading", name=re.compile("MemoryOS"))).to_be_visible(timeout=30_000)
    add = page.locator(".opblock-summary-path", has_text=re.compile(r"^/v1/memories/add$"))
    expect(add.first).to_be_visible()
    assert page.locator(".opblock").count() > 50  # every operation is listed
    add.first.click()  # an operation opens, rendered by Swagger UI's own script and styles
    expect(page.get_by_role("button", name="Try it out").first).to_be_visible()
    assert attempted == [], attempted
    assert blocked == [], blocked
