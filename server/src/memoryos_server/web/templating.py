"""Jinja2 templates and the helpers every page uses."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from memoryos_server.services.logos import initials
from memoryos_server.web.csrf import Csrf

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

CATEGORY_LABELS: dict[str, tuple[str, str]] = {
    "preference": ("Preferences", "How you like things done: tone, formats, tools, likes and dislikes"),
    "fact": ("Facts", "Facts about you: where you live, dates, what you own"),
    "goal": ("Goals", "What you are working towards"),
    "procedure": ("Procedures", "How you do things, step by step"),
    "relationship": ("Relationships", "People in your life and how you know them"),
    "expertise": ("Expertise", "What you know and your experience"),
}

ACCESS_LABELS: dict[str, tuple[str, str]] = {
    "read_only": ("Read only", "It can use what you share, but cannot add to your memory."),
    "read_write": ("Read and write", "It can also remember new things about you, in these categories only."),
}

# (form value, label, days or None for "until I revoke it") — the consent screen's choices.
DURATIONS: tuple[tuple[str, str, int | None], ...] = (
    ("1", "1 day", 1),
    ("7", "7 days", 7),
    ("30", "30 days", 30),
    ("90", "90 days", 90),
    ("365", "1 year", 365),
    ("forever", "Until I revoke it", None),
)
DEFAULT_DURATION = "30"

STATUS_BADGES: dict[str, str] = {"active": "badge-ok", "expired": "badge-warn", "revoked": "badge-bad"}

# A memory version's event, as its history page says it.
EVENT_LABELS: dict[str, str] = {
    "ADD": "Remembered",
    "UPDATE": "Updated",
    "CONFLICT": "Remembered, contradicting another memory",
    "DISPUTE": "Marked disputed",
    "CORRECT": "Corrected by you",
    "FLAG": "Flagged by you: withheld from agents",
    "UNFLAG": "Flag removed: agents may receive it again",
    "ARCHIVE": "Archived",
    "RESOLVE": "Confirmed",
    "UNCONFIRMED": "Marked unconfirmed",
    "DELETE": "Deleted",
}

ANSWER_LABELS: dict[str, str] = {
    "A": "You kept the first version",
    "B": "You kept the second version",
    "both": "You said both are correct",
    "neither": "You said neither is correct",
}


@dataclass(frozen=True)
class Flash:
    kind: str  # ok | warning | error
    text: str
    code: str | None = None  # a one-time consent code, shown once in a box of its own

    def as_dict(self) -> dict[str, str]:
        data = {"kind": self.kind, "text": self.text}
        if self.code:
            data["code"] = self.code
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Flash | None:
        kind, text, code = data.get("kind"), data.get("text"), data.get("code")
        if kind not in ("ok", "warning", "error") or not isinstance(text, str):
            return None
        return cls(kind, text, code if isinstance(code, str) else None)


def format_when(value: datetime | None) -> str:
    """A moment the way people read it: ``21 Nov 2026, 07:55 UTC`` (stored times are UTC)."""
    return value.strftime("%d %b %Y, %H:%M UTC").lstrip("0") if value else "—"


def format_day(value: datetime | None) -> str:
    return value.strftime("%d %b %Y").lstrip("0") if value else "—"


def url_host(value: str | None) -> str:
    """``https://acme.com/x`` → ``acme.com``: where a link goes, in a word."""
    return (urlsplit(value).hostname or "") if value else ""


def spoken_list(values: Iterable[str]) -> str:
    """"Goals", "Facts and Goals", "Facts, Goals and Expertise"."""
    items = [str(value) for value in values]
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}" if items else ""


def category_label(value: str) -> str:
    return CATEGORY_LABELS.get(value, (value, ""))[0]


def actor_label(value: str | None, names: dict[str, str] | None = None) -> str:
    """Who wrote a memory version, from the person's side (actors are ``kind:id …``); an agent
    by its name when ``names`` has it (``VersionView.actor_name``, from the memory service)."""
    if not value:
        return "—"
    if value.startswith("passport_user:"):
        return "You"
    if value.startswith("agent:"):
        return (names or {}).get(value) or "An agent"
    return "MemoryOS"


class Pages:
    """Renders templates with the CSRF token, the signed-in user and flash messages."""

    def __init__(self, csrf: Csrf) -> None:
        self.csrf = csrf
        self.templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
        env = self.templates.env
        env.globals.update(
            CATEGORY_LABELS=CATEGORY_LABELS,
            ACCESS_LABELS=ACCESS_LABELS,
            DURATIONS=DURATIONS,
            STATUS_BADGES=STATUS_BADGES,
            EVENT_LABELS=EVENT_LABELS,
            ANSWER_LABELS=ANSWER_LABELS,
        )
        env.filters.update(
            when=format_when, day=format_day, category=category_label, actor=actor_label, spoken_list=spoken_list, host=url_host,
            initials=initials,
        )  # fmt: skip

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
        flashes: list[Flash] | None = None,
        signed_in_email: str | None = None,
    ) -> HTMLResponse:
        token = self.csrf.token(request)
        values = {
            "csrf_token": token,
            "flashes": flashes or [],
            "signed_in_email": signed_in_email,
            **(context or {}),
        }
        response = self.templates.TemplateResponse(request, template, values, status_code=status_code)
        seed = self.csrf.pending_seed(request)
        if seed:
            self.csrf.set_cookie(response, seed)
        secure_headers(response)
        return response


def secure_headers(response: Any) -> None:
    """No caching of personal pages, no framing, and only our own scripts (there are none)."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    # form-action allows http(s): a consent form's answer is a redirect to the agent's own
    # (registered) address, and browsers apply form-action to that redirect too. Images come
    # only from here: logos are fetched once and served by us (services/logos.py).
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; form-action 'self' http: https:; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
