"""A desktop MCP client connects to a person's passport, end to end: the official ``mcp`` SDK's
OAuth client provider and Streamable HTTP transport against a live server, the person in
headless Chromium signing in with the emailed code and approving two categories on the consent
screen, then the tools, a refresh, and the grant revoked in /manage. Both databases.

Playwright's async API runs in the same event loop as the MCP client, so the client's redirect
handler can drive the browser the way a desktop app opens one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from playwright.async_api import Page, async_playwright, expect

from memoryos_server.services.runtime import Runtime
from tests.fixtures.app import LiveServer, free_port
from tests.fixtures.contract import check_contract
from tests.fixtures.passport import AgentHandle, PassportHandle, connected, fresh_ip, latest_code, new_agent, new_passport  # noqa: F401
from tests.web.browser import DESKTOP, LAUNCH_ARGS
from tests.web.conftest import CHROMIUM, SCREENSHOT_DIR, UPDATE_SCREENSHOTS, _browser_missing
from tests.web.mcp_client import AuthorizationRefused, LoopbackRedirect, RecordingStorage, desktop_client

if TYPE_CHECKING:
    from tests.fixtures.databases import TestDatabase

pytestmark = pytest.mark.browser

ACCESS_TOKEN_SECONDS = 8


@pytest.fixture(scope="module")
def mcp_server(runtime: Runtime) -> Iterator[LiveServer]:
    """A live server whose access tokens live a few seconds, so the client has to refresh."""
    from memoryos_server.app import create_app

    if (reason := _browser_missing()) is not None:
        if os.environ.get("MEMORYOS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MEMORYOS_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = runtime.settings.model_copy(
        update={"port": port, "public_url": url, "consent_base_url": url, "mcp_access_token_ttl_seconds": ACCESS_TOKEN_SECONDS}
    )
    server = LiveServer(check_contract(create_app(settings, runtime=dataclasses.replace(runtime, settings=settings))), port)
    server.start()
    yield server
    server.stop()


@dataclasses.dataclass
class PageShots:
    """Pictures for the docs (``make screenshots``), as ``Screenshots`` takes them, for an async page."""

    page: Page
    directory: Path
    enabled: bool

    async def shot(self, name: str) -> None:
        if self.enabled:
            self.directory.mkdir(parents=True, exist_ok=True)
            await self.page.screenshot(path=str(self.directory / f"{name}.png"), full_page=True, animations="disabled", caret="hide")


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    if result.structured_content is not None:
        return dict(result.structured_content)
    return json.loads(result.content[0].text)


async def _sign_in(page: Page, email: str, outbox: Path) -> None:
    await expect(page).to_have_url(re.compile(r"/login"))
    await page.get_by_label("Email address").fill(email)
    await page.get_by_role("button", name="Email me a code").click()
    await expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    await page.get_by_label("Sign-in code").fill(latest_code(outbox, email))
    await page.get_by_role("button", name="Sign in", exact=True).click()


def test_a_desktop_client_connects_reads_writes_refreshes_and_loses_access_when_revoked(
    mcp_server: LiveServer,
    client: TestClient,
    settings: Any,
    test_database: TestDatabase,
    connected: Callable[..., tuple[AgentHandle, PassportHandle, str]],  # noqa: F811
    new_passport: Callable[..., PassportHandle],  # noqa: F811
    new_agent: Callable[..., AgentHandle],  # noqa: F811
) -> None:
    # The person already has memories in three categories, written by an app they use.
    email = "ada.mcp@example.com"
    writer, passport, uui = connected(["preference", "goal", "fact"], "read_write", passport=new_passport(email), agent=new_agent(name="Study Buddy"))
    for text in ("I prefer short answers with Python examples.", "My goal is to run a marathon next spring.", "I live in Lisbon."):
        added = client.post("/v1/universal/memories/add", json={"messages": [{"role": "user", "content": text}]}, headers=writer.headers(uui))
        assert added.status_code == 200 and added.json()["results"], added.text
    outbox = settings.resolved_outbox_dir
    directory = SCREENSHOT_DIR if UPDATE_SCREENSHOTS else Path(settings.data_dir) / "screenshots"

    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {"browser_opened": []}
        redirect = LoopbackRedirect()
        storage = RecordingStorage()
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
            context = await browser.new_context(base_url=mcp_server.url, viewport=DESKTOP, extra_http_headers={"X-Forwarded-For": fresh_ip()})
            context.set_default_timeout(15_000)
            page = await context.new_page()
            shots = PageShots(page, directory, enabled=test_database.backend == "sqlite")

            async def open_browser(url: str) -> None:
                seen["browser_opened"].append(url)
                await page.goto(url)
                if len(seen["browser_opened"]) == 1:
                    await _sign_in(page, email, outbox)
                consent = page.locator(".consent")
                await expect(consent.get_by_role("heading", name="Desk Assistant wants to use your Memory Passport")).to_be_visible()
                warning = page.locator("#unregistered-warning")
                seen.setdefault("warning", await warning.inner_text())
                if len(seen["browser_opened"]) > 1:
                    # Asked again after revoking: this time the person says no.
                    await page.get_by_role("button", name="Deny").click()
                    return
                # What the client asked for is ticked: every category, read only (its scope).
                for box in await page.locator("input[name=categories]").all():
                    assert await box.is_checked()
                assert await page.get_by_role("radio", name=re.compile("^Read only")).is_checked()
                await shots.shot("mcp-consent")
                # The person shares two categories, and lets it write.
                for name in ("Facts", "Procedures", "Relationships", "Expertise"):
                    await page.get_by_role("checkbox", name=re.compile(f"^{name}")).uncheck()
                await page.get_by_role("radio", name=re.compile("^Read and write")).check()
                await page.get_by_role("button", name="Approve").click()
                await expect(page.locator("#result")).to_have_text("Connected. You can close this window.")

            provider = desktop_client(mcp_server.url, redirect, storage, open_browser)
            try:
                async with httpx2.AsyncClient(auth=provider, timeout=30) as http:
                    async with streamable_http_client(f"{mcp_server.url}/mcp", http_client=http) as (read, write):
                        async with ClientSession(read, write) as session:
                            await session.initialize()
                            tools = (await session.list_tools()).tools
                            seen["tools"] = {tool.name: tool.annotations.read_only_hint for tool in tools if tool.annotations}
                            seen["access"] = _structured(await session.call_tool("my_access", {}))
                            seen["context"] = _structured(await session.call_tool("get_context", {"query": "What should I know about this person?", "limit": 10}))
                            seen["listed"] = _structured(await session.call_tool("list_memories", {}))
                            seen["unticked"] = _structured(await session.call_tool("get_context", {"query": "where do I live", "categories": ["fact"]}))
                            seen["added"] = _structured(
                                await session.call_tool(
                                    "add_memory",
                                    {"messages": [{"role": "user", "content": "I prefer dark mode in every editor."}, {"role": "user", "content": "I live in Porto now."}]},
                                )
                            )
                            # Past the access token's life: the client refreshes it by itself.
                            seen["tokens_before_refresh"] = len(storage.tokens)
                            await anyio.sleep(ACCESS_TOKEN_SECONDS + 1)
                            seen["after_refresh"] = _structured(await session.call_tool("list_memories", {"category": "preference"}))
                            seen["tokens_after_refresh"] = [t.refresh_token for t in storage.tokens]

                            # The person revokes the app in their permission center.
                            await page.goto("/manage/agents")
                            card = page.locator(".grant", has_text="Desk Assistant")
                            seen["card"] = await card.inner_text()
                            await shots.shot("manage-agents-mcp")
                            await card.get_by_role("link", name=re.compile("Revoke access")).click()
                            await page.get_by_role("button", name="Revoke access").click()
                            await expect(page.get_by_role("status")).to_contain_text("Desk Assistant can no longer use your Memory Passport")
                            try:
                                with anyio.fail_after(60):
                                    await session.call_tool("get_context", {"query": "anything"})
                                seen["after_revoke"] = "answered"
                            except Exception as exc:  # noqa: BLE001 — the test reads what failed
                                seen["after_revoke"] = exc
            except Exception as exc:  # noqa: BLE001
                seen.setdefault("after_revoke", exc)
            finally:
                await browser.close()
                redirect.close()
        seen["storage"] = storage
        return seen

    seen = anyio.run(scenario)

    # The consent screen said who asked, that no one vouches for it, and where the answer goes.
    assert "Not a registered agent — only continue if you trust it" in seen["warning"]
    assert re.search(r"127\.0\.0\.1:\d+", seen["warning"])
    assert seen["tools"] == {"get_context": True, "list_memories": True, "my_access": True, "add_memory": False}

    access = seen["access"]
    assert access["app"] == "Desk Assistant"
    assert access["can_read"] == ["preference", "goal"] and access["can_write"] == ["preference", "goal"]
    assert access["scope"] == "memory:preference:write memory:goal:write"
    assert access["person_id"].startswith("uui_") and access["person_id"] != uui  # pairwise: not the other app's

    assert {m["category"] for m in seen["context"]["memories"]} == {"preference", "goal"}
    assert "Lisbon" not in seen["context"]["system_prompt_addition"]
    assert {m["category"] for m in seen["listed"]["memories"]} == {"preference", "goal"} and seen["listed"]["total"] == 2
    assert seen["unticked"]["memories"] == [] and seen["unticked"]["permission_status"] == "categories_not_granted"
    # Only the granted category was kept from what it tried to add.
    assert [r["category"] for r in seen["added"]["stored"]] == ["preference"] and seen["added"]["skipped"] == 1
    assert {m["content"] for m in seen["after_refresh"]["memories"]} >= {"Prefers dark mode in every editor"} or any(
        "dark mode" in m["content"] for m in seen["after_refresh"]["memories"]
    )
    refresh_tokens = seen["tokens_after_refresh"]
    assert len(refresh_tokens) == seen["tokens_before_refresh"] + 1 and len(set(refresh_tokens)) == len(refresh_tokens)

    assert "Desk Assistant" in seen["card"] and "Connected through MCP" in seen["card"]
    # After the revocation the next call fails: its token is refused, the app asks the person
    # again, and they say no.
    assert _raised(seen["after_revoke"], AuthorizationRefused), seen["after_revoke"]
    assert len(seen["browser_opened"]) == 2

    # The person's activity names the app and what it read and wrote.
    activity = client.get("/v1/uui/me/activity", headers=passport.headers()).json()["data"]
    lines = [item["summary"] for item in activity]
    assert any(line.startswith("Desk Assistant stored 1 memory") for line in lines), lines
    assert any(line.startswith("Desk Assistant read") for line in lines), lines
    assert any("revoked Desk Assistant's access" in line for line in lines), lines

    # The old token is refused outright too.
    last = seen["storage"].tokens[-1]
    answer = httpx.post(f"{mcp_server.url}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                        headers={"Authorization": f"Bearer {last.access_token}", "Accept": "application/json, text/event-stream"})
    assert answer.status_code == 401 and 'error="invalid_token"' in answer.headers["www-authenticate"]


def _raised(outcome: object, kind: type[BaseException]) -> bool:
    """Whether ``outcome`` is, or (in an exception group) holds, an exception of ``kind``."""
    if isinstance(outcome, kind):
        return True
    return isinstance(outcome, BaseExceptionGroup) and any(_raised(inner, kind) for inner in outcome.exceptions)
