"""The dashboard's Memory Passport: the organisation's agents (seed 001, Step 0) and the links
its users follow (Step 1), on ``AgentService`` and ``ConnectionService`` as ``/v1/agents`` and
``/v1/tenant/memory-passport`` use them.

A new or rotated agent key, and a connector link, travel to the next page in the sealed,
one-read flash cookie (as a consent code does in the permission center): shown once, never
stored, and a reload cannot make a second agent.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from memoryos_server.engine.types import CATEGORIES
from memoryos_server.services.passport.agents import AgentChanges
from memoryos_server.services.passport.links import connect_url, consent_url
from memoryos_server.web.deps import CheckedForm, ReadSession, ServicesDep, SiteDep, WriteSession, field, fields
from memoryos_server.web.routes._dashboard import DashboardRoute, Member, confirmed, render_page
from memoryos_server.web.templating import Flash

router = APIRouter(route_class=DashboardRoute, include_in_schema=False)

PASSPORT = "/dashboard/passport"
KEY_SHOWN_ONCE = "Copy this agent key now and keep it in your backend's secrets: you cannot see it again."


def _redirect_uris(form: FormData) -> list[str]:
    """One redirect URI a line (a textarea), as ``redirect_uris`` is a list in the API."""
    return [line.strip() for line in field(form, "redirect_uris", max_length=20 * 2000).splitlines() if line.strip()]


def _profile(form: FormData) -> dict[str, Any]:
    return {
        "name": field(form, "name", max_length=200),
        "description": field(form, "description", max_length=2000) or None,
        "website_url": field(form, "website_url", max_length=2000) or None,
        "logo_url": field(form, "logo_url", max_length=2000) or None,
        "redirect_uris": _redirect_uris(form),
        "default_categories": fields(form, "categories", max_items=len(CATEGORIES)),
    }


def _agent_path(agent_id: str) -> str:
    return f"{PASSPORT}/agents/{agent_id}"


@router.get("/dashboard/passport")
def passport_page(request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession) -> Response:
    agents = services.agents.list_own(session, principal)
    counts = services.agents.grant_counts(session, principal, agents)
    return render_page(
        site, request, services, session, principal, tab="passport", template="dashboard/passport.html",
        context={"agents": agents, "counts": counts, "categories": CATEGORIES},
    )


def _logo_note(problem: str | None) -> str:
    """What the page says when the logo could not be stored (the agent is saved all the same)."""
    return f" The logo could not be used ({problem}); people see the agent's initials." if problem else ""


@router.post("/dashboard/passport/agents")
def create_agent(request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession) -> Response:
    saved = services.agents.create(session, principal, **_profile(form))
    agent = saved.agent
    text = f"{agent.name} is registered and waits for MemoryOS review.{_logo_note(saved.logo_problem)} {KEY_SHOWN_ONCE}"
    return site.redirect(request, _agent_path(agent.id), Flash("ok", text, code=saved.raw_key))


@router.get("/dashboard/passport/agents/{agent_id}")
def agent_page(
    agent_id: str,
    request: Request,
    site: SiteDep,
    services: ServicesDep,
    principal: Member,
    session: ReadSession,
    build: str | None = None,
    state: str | None = None,
    redirect_uri: str | None = None,
) -> Response:
    agent = services.agents.get_own(session, principal, agent_id)
    counts = services.agents.grant_counts(session, principal, [agent])[agent.id]
    base = services.runtime.settings.resolved_consent_base_url
    chosen = list(agent.default_categories or [])
    built = None
    if build:
        # The builder's form is a GET: ticked boxes arrive as repeated ``categories``.
        # In the consent screen's order, whatever order the query gave them in.
        asked = set(request.query_params.getlist("categories"))
        chosen = [c for c in CATEGORIES if c in asked]
        built = consent_url(base, agent.id, redirect_uri=redirect_uri or None, state=state or None, categories=chosen)
    return render_page(
        site, request, services, session, principal, tab="passport", template="dashboard/agent.html",
        context={
            "agent": agent,
            "counts": counts,
            "categories": CATEGORIES,
            "built_url": built,
            "builder": {"categories": chosen, "state": state or "", "redirect_uri": redirect_uri or ""},
        },
    )


@router.post("/dashboard/passport/agents/{agent_id}/edit")
def edit_agent(
    agent_id: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession
) -> Response:
    saved = services.agents.update(session, principal, agent_id, AgentChanges(**_profile(form)))
    agent = saved.agent
    text = "Saved." if agent.verification_status != "pending" else "Saved. The agent waits for MemoryOS review."
    return site.redirect(request, _agent_path(agent.id), Flash("ok", text + _logo_note(saved.logo_problem)))


@router.post("/dashboard/passport/agents/{agent_id}/rotate")
def rotate_key(
    agent_id: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession
) -> Response:
    agent, raw_key = services.agents.rotate_key(session, principal, agent_id)
    flash = Flash("ok", f"The old key of {agent.name} stopped working. {KEY_SHOWN_ONCE}", code=raw_key)
    return site.redirect(request, _agent_path(agent.id), flash)


@router.get("/dashboard/passport/agents/{agent_id}/delete")
def confirm_delete(agent_id: str, request: Request, site: SiteDep, services: ServicesDep, principal: Member, session: ReadSession) -> Response:
    agent = services.agents.get_own(session, principal, agent_id)
    counts = services.agents.grant_counts(session, principal, [agent])[agent.id]
    lines = [
        f"Its key stops working at once, and the access of the {counts.people} "
        f"{'person' if counts.people == 1 else 'people'} who granted it ends.",
        "This cannot be undone: to come back, register a new agent, and people approve it again.",
    ]
    return render_page(
        site, request, services, session, principal, tab="passport", template="dashboard/confirm.html",
        context={
            "title": f"Delete {agent.name}?",
            "lines": lines,
            "action": f"{_agent_path(agent.id)}/delete",
            "button": "Delete agent",
            "cancel": _agent_path(agent.id),
        },
    )


@router.post("/dashboard/passport/agents/{agent_id}/delete")
def delete_agent(
    agent_id: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession
) -> Response:
    if not confirmed(form.get("confirm")):
        return site.redirect(request, f"{_agent_path(agent_id)}/delete")
    agent = services.agents.delete(session, principal, agent_id)
    return site.redirect(request, PASSPORT, Flash("ok", f"{agent.name} is deleted; its key and every grant ended."))


@router.post("/dashboard/passport/agents/{agent_id}/link")
def connector_link(
    agent_id: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, principal: Member, session: WriteSession
) -> Response:
    """The manual secure link for one test user, as a backend gets it from
    ``POST /v1/tenant/memory-passport/link-token``."""
    issued = services.connections.create_link_token(
        session, principal, agent_id=agent_id, external_user_id=field(form, "external_user_id", max_length=255)
    )
    link = connect_url(services.runtime.settings.resolved_consent_base_url, agent_id, issued.link_token)
    minutes = max(1, issued.expires_in_seconds // 60)
    text = f"A one-time connector link, good for {minutes} minutes. Use it only to check one user flow during development."
    return site.redirect(request, f"{_agent_path(agent_id)}#connector", Flash("ok", text, code=link))
