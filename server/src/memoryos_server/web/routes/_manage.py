"""What the permission center's tabs share: the tab bar and rendering a tab for its owner."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from memoryos_server.services.container import Services
from memoryos_server.services.passport.service import PassportCaller
from memoryos_server.web.redirects import local_path
from memoryos_server.web.site import Site

# (key, label, path): each tab is a page of its own, reachable by a plain link.
TABS: tuple[tuple[str, str, str], ...] = (
    ("agents", "Agents", "/manage/agents"),
    ("connections", "Connections", "/manage/connections"),
    ("memories", "Memories", "/manage/memories"),
    ("questions", "Pending Questions", "/manage/questions"),
    ("activity", "Activity", "/manage/activity"),
    ("sessions", "Sessions", "/manage/sessions"),
    ("export", "Export", "/manage/export"),
    ("delete", "Delete passport", "/manage/delete"),
)


def render_tab(
    site: Site,
    request: Request,
    services: Services,
    session: Session,
    caller: PassportCaller,
    *,
    tab: str,
    template: str,
    context: dict[str, Any],
) -> Response:
    scope = services.passport_scopes.passport_user(caller.user)
    open_questions = services.memory.questions(session, scope, status="open", limit=1).total
    values = {"tabs": TABS, "current_tab": tab, "open_questions": open_questions, **context}
    return site.render(request, template, values, email=caller.user.email)


def back_to(value: str, default: str) -> str:
    """Where a form returns to: a page of the permission center, nothing else."""
    path = local_path(value, default)
    return path if path.startswith("/manage") else default


CONFIRMED = "yes"


def confirmed(form: FormData) -> bool:
    """Whether a form is the confirming one of a change that asks once (revoke, disconnect, sign
    out): its confirm page sends ``confirm=yes``. A form without it, an older page's or a
    hand-made one's, leads to the confirm page instead of changing anything."""
    value = form.get("confirm")
    return isinstance(value, str) and value == CONFIRMED
