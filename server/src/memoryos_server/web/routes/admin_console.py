"""The operator console, ``/admin``: agents to review, organisations and their usage, extraction
jobs that died. For accounts whose platform role is admin (``memoryos admin create-operator``),
signed in with the dashboard's password sign-in; on ``AgentService`` and ``OperatorService``,
as ``/v1/admin`` uses them. It shows no tenant's memories: counts, profiles and errors only."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response

from memoryos_server.web.deps import CheckedForm, ReadSession, ServicesDep, SiteDep, WriteSession, field
from memoryos_server.web.routes._dashboard import ADMIN_HOME, AdminRoute, Operator, render_page
from memoryos_server.web.templating import Flash

router = APIRouter(route_class=AdminRoute, include_in_schema=False)

STATUSES = ("pending", "verified", "rejected", "all")


def _render(request: Request, site: SiteDep, services: ServicesDep, session: ReadSession, operator: Operator, template: str, tab: str, context: dict) -> Response:  # type: ignore[type-arg]
    tabs = [("agents", "Agents to review", ADMIN_HOME), ("organisations", "Organisations", "/admin/organisations"), ("jobs", "Dead jobs", "/admin/jobs")]
    return render_page(
        site, request, services, session, operator, tab=tab, template=template, context={"admin_tabs": tabs, **context}
    )


@router.get("/admin")
def agents_to_review(
    request: Request, site: SiteDep, services: ServicesDep, session: ReadSession, operator: Operator, status: str = "pending"
) -> Response:
    status = status if status in STATUSES else "pending"
    rows = services.agents.list_for_review(session, operator, status=None if status == "all" else status)
    return _render(request, site, services, session, operator, "admin/agents.html", "agents", {"rows": rows, "status": status, "statuses": STATUSES})


@router.post("/admin/agents/{agent_id}/{decision}")
def decide(
    agent_id: str,
    decision: Literal["verify", "reject"],
    request: Request,
    form: CheckedForm,
    site: SiteDep,
    services: ServicesDep,
    session: WriteSession,
    operator: Operator,
) -> Response:
    outcome = "verified" if decision == "verify" else "rejected"
    agent = services.agents.set_verification(session, agent_id, outcome, field(form, "note", max_length=2000) or None, actor=operator.credential_id)
    return site.redirect(request, ADMIN_HOME, Flash("ok", f"{agent.name} is {outcome}."))


@router.get("/admin/organisations")
def organisations(request: Request, site: SiteDep, services: ServicesDep, session: ReadSession, operator: Operator) -> Response:
    rows = services.operator.organisations(session, operator)
    return _render(request, site, services, session, operator, "admin/organisations.html", "organisations", {"rows": rows})


@router.get("/admin/jobs")
def dead_jobs(request: Request, site: SiteDep, services: ServicesDep, session: ReadSession, operator: Operator) -> Response:
    rows = services.operator.dead_jobs(session, operator)
    return _render(request, site, services, session, operator, "admin/jobs.html", "jobs", {"rows": rows})


@router.post("/admin/jobs/{job_id}/retry")
def retry_job(job_id: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, session: WriteSession, operator: Operator) -> Response:
    services.operator.retry_job(session, operator, job_id)
    return site.redirect(request, "/admin/jobs", Flash("ok", f"Job {job_id} is queued again."))


@router.post("/admin/jobs/{job_id}/drop")
def drop_job(job_id: str, request: Request, form: CheckedForm, site: SiteDep, services: ServicesDep, session: WriteSession, operator: Operator) -> Response:
    services.operator.drop_job(session, operator, job_id)
    return site.redirect(request, "/admin/jobs", Flash("ok", f"Job {job_id} is dropped; its messages are erased."))
