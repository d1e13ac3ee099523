"""A coarse name for the device behind a session ("Chrome on Linux"), from its User-Agent.

Only this summary is stored: enough for a person to recognise their own sessions, and nothing a
User-Agent string would add for fingerprinting (versions, build numbers, extensions).
"""

from __future__ import annotations

import re

# Most User-Agents name several browsers ("… Chrome/… Safari/…"): the first match wins.
_BROWSERS: tuple[tuple[str, str], ...] = (
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("EdgiOS/", "Edge"),
    ("OPR/", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("HeadlessChrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
# iPhones and iPads also say "Mac OS X", and Android also says "Linux": the first match wins.
_SYSTEMS: tuple[tuple[str, str], ...] = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Macintosh", "macOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
)
# A program rather than a browser: "curl/8.5.0", "python-httpx/0.27" → its name only.
_PROGRAM = re.compile(r"^([A-Za-z][A-Za-z0-9._-]{0,39})/")
_MAX_READ = 512


def device_summary(user_agent: str | None) -> str | None:
    """"Chrome on Linux", "Safari on iPhone", "curl"; None when nothing is recognised."""
    if not user_agent:
        return None
    text = user_agent[:_MAX_READ]
    browser = next((name for marker, name in _BROWSERS if marker in text), None)
    system = next((name for marker, name in _SYSTEMS if marker in text), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser:
        return browser
    if system and text.startswith("Mozilla/"):
        return f"A browser on {system}"
    program = _PROGRAM.match(text)
    return program.group(1) if program else None
