"""The README's gallery, docs/screenshots/ and the pictures the browser tests take stay in step:
every picture a test takes is in the folder, every picture in the folder is taken by a test (none
left over from a page that changed name) and shown in the README's Consent app section."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "docs" / "screenshots"


def _taken_by_tests() -> set[str]:
    names: set[str] = set()
    for source in Path(__file__).parent.glob("test_browser_*.py"):
        names.update(re.findall(r'\.shot\("([a-z0-9-]+)"\)', source.read_text(encoding="utf-8")))
    return names


def _consent_app_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## Consent app")
    following = readme.find("\n## ", start + 1)
    return readme[start : following if following != -1 else None]


def test_every_picture_a_test_takes_is_in_docs_and_nothing_else_is() -> None:
    in_docs = {path.stem for path in SCREENSHOTS.glob("*.png")}
    taken = _taken_by_tests()
    assert len(taken) >= 30
    assert taken - in_docs == set(), "taken by a test but not in docs/screenshots: run `make screenshots`"
    assert in_docs - taken == set(), "in docs/screenshots but no test takes it any more"


def test_the_readme_shows_every_picture() -> None:
    section = _consent_app_section()
    shown = set(re.findall(r"docs/screenshots/([a-z0-9-]+)\.png", section))
    assert {path.stem for path in SCREENSHOTS.glob("*.png")} - shown == set()
    for name in shown:
        assert (SCREENSHOTS / f"{name}.png").is_file(), f"the README shows {name}.png, which does not exist"
