"""Operator routes: agents waiting for review, and the verification decision."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from memoryos_server.api.deps import OperatorPrincipal, RuntimeDep, ServicesDep
from memoryos_server.api.envelope import ok, page
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.passport import VerificationIn, agent_public_read, agent_review_read, iso

router = APIRouter(prefix="/v1/admin", tags=["operator"], route_class=AuthenticatedRoute)


@router.get("/agents", summary="Agents by verification status (operators only)")
def list_agents(
    operator: OperatorPrincipal,
    runtime: RuntimeDep,
    services: ServicesDep,
    status: Annotated[Literal["pending", "verified", "rejected", "all"], Query()] = "pending",
) -> dict[str, Any]:
    with runtime.db.session(write=False) as session:
        rows = services.agents.list_for_review(session, operator, status=None if status == "all" else status)
        items = [agent_review_read(agent, tenant) for agent, tenant in rows]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.post("/agents/{agent_id}/verification", summary="Verify or reject an agent (operators only)")
def decide(
    agent_id: str, body: VerificationIn, operator: OperatorPrincipal, runtime: RuntimeDep, services: ServicesDep
) -> dict[str, Any]:
    with runtime.db.session() as session:
        agent = services.agents.set_verification(session, agent_id, body.decision, body.note, actor=operator.credential_id)
        data = {**agent_public_read(agent), "verification_note": agent.verification_note, "verified_at": iso(agent.verified_at)}
    return ok(data)
