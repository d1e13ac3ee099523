"""The consent app in a real browser: headless Chromium driven by Playwright against a live server.

Chromium comes from the system (``/usr/lib/chromium/chromium``; ``MEMORYOS_CHROMIUM`` to point
elsewhere). When it is missing the browser tests are skipped with a loud banner, unless
``MEMORYOS_REQUIRE_BROWSER=1`` (set by CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.fixtures.app import LiveServer
from tests.fixtures.databases import TestDatabase
from tests.fixtures.passport import fresh_ip

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.web.browser import Person, Screenshots

CHROMIUM = Path(os.environ.get("MEMORYOS_CHROMIUM", "/usr/lib/chromium/chromium"))
REQUIRE_BROWSER = os.environ.get("MEMORYOS_REQUIRE_BROWSER") == "1"
SCREENSHOT_DIR = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
# Screenshots are always taken (the code path stays tested) but only replace the ones in docs/
# when asked (`make screenshots`), so a test run leaves the working tree clean.
UPDATE_SCREENSHOTS = os.environ.get("MEMORYOS_UPDATE_SCREENSHOTS") == "1"

_skipped_reason: list[str] = []

try:
    import playwright.sync_api  # noqa: F401

    _NO_PLAYWRIGHT = None
except ImportError:
    _NO_PLAYWRIGHT = "the playwright package is not installed (pip install -e 'server[test]')"

if _NO_PLAYWRIGHT is not None:
    # The browser test modules import Playwright: without it they are not collected at all.
    if REQUIRE_BROWSER:
        raise pytest.UsageError(f"MEMORYOS_REQUIRE_BROWSER=1 but {_NO_PLAYWRIGHT}")
    collect_ignore_glob = ["test_browser_*.py"]
    _skipped_reason.append(_NO_PLAYWRIGHT)


def _browser_missing() -> str | None:
    if _NO_PLAYWRIGHT is not None:
        return _NO_PLAYWRIGHT
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (run .ci/install-browser.sh, or set MEMORYOS_CHROMIUM)"
    return None


# Per module, not per session: Playwright's synchronous API keeps an asyncio loop marked as
# running in this thread while it is open, which other tests' own event loops would trip over.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = _browser_missing()
    if reason is not None:
        if REQUIRE_BROWSER:
            pytest.fail(f"MEMORYOS_REQUIRE_BROWSER=1 but {reason}")
        if not _skipped_reason:
            _skipped_reason.append(reason)
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        from tests.web.browser import LAUNCH_ARGS

        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield launched
        launched.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    # Under pytest-xdist the skips happen in the workers: the controller looks for itself.
    if not _skipped_reason and not REQUIRE_BROWSER and _browser_missing() is not None:
        _skipped_reason.append(_browser_missing() or "")
    if _skipped_reason:
        line = "!" * 78
        terminalreporter.write_line(
            f"{line}\n!! THE BROWSER TESTS OF THE CONSENT APP WERE SKIPPED: {_skipped_reason[0]}\n{line}", red=True, bold=True
        )


@pytest.fixture
def screenshots(test_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    """Pictures for the docs, taken once per run: on the SQLite half (the pages are the same)."""
    from tests.web.browser import Screenshots

    directory = SCREENSHOT_DIR if UPDATE_SCREENSHOTS else tmp_path_factory.getbasetemp() / "screenshots"
    return Screenshots(directory, enabled=test_database.backend == "sqlite")


@pytest.fixture
def person(browser: Browser, live_server: LiveServer, settings: Any, screenshots: Screenshots) -> Iterator[Callable[..., Person]]:
    """A new person at their own browser (own cookies, own network address)."""
    from tests.web.browser import DESKTOP, Person

    opened: list[Person] = []

    def make(email: str, *, viewport: dict[str, int] | None = None, server: LiveServer | None = None, outbox: Path | None = None) -> Person:
        base = server or live_server
        context = browser.new_context(
            base_url=base.url,
            viewport=viewport or DESKTOP,
            # The live server trusts X-Forwarded-For from loopback (as a proxy there would be
            # configured: MEMORYOS_TRUSTED_PROXIES): each person gets an address
            # of their own, as people do, so one test's per-address limits do not spill over.
            extra_http_headers={"X-Forwarded-For": fresh_ip()},
            accept_downloads=True,
        )
        context.set_default_timeout(15_000)
        opened.append(
            Person(context, context.new_page(), email=email, base_url=base.url, outbox=outbox or settings.resolved_outbox_dir, shots=screenshots)
        )
        return opened[-1]

    yield make
    for each in opened:
        each.context.close()
