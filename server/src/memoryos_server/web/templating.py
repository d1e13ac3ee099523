"""Jinja2 templates and the helpers every page uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

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


@dataclass(frozen=True)
class Flash:
    kind: str  # ok | warning | error
    text: str


class Pages:
    """Renders templates with the CSRF token, the signed-in user and flash messages."""

    def __init__(self, csrf: Csrf) -> None:
        self.csrf = csrf
        self.templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
        self.templates.env.globals["CATEGORY_LABELS"] = CATEGORY_LABELS

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
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' https: data:; style-src 'self'; form-action 'self' http: https:; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        return response
