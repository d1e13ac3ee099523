"""Operator routes: agents waiting for review, and the verification decision."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from memoryos_server.api.deps import OperatorPrincipal, ReadSession, ServicesDep, WriteSession
from memoryos_server.api.envelope import Envelope, Paged, ok, page
from memoryos_server.api.routing import AuthenticatedRoute
from memoryos_server.api.schemas.passport import AgentReviewOut, VerificationIn, VerificationOut

router = APIRouter(prefix="/v1/admin", tags=["operator"], route_class=AuthenticatedRoute)


@router.get("/agents", summary="Agents by verification status (operators only)", response_model=Paged[AgentReviewOut])
def list_agents(
    operator: OperatorPrincipal,
    session: ReadSession,
    services: ServicesDep,
    status: Annotated[Literal["pending", "verified", "rejected", "all"], Query()] = "pending",
) -> dict[str, Any]:
    rows = services.agents.list_for_review(session, operator, status=None if status == "all" else status)
    items = [AgentReviewOut.of(agent, tenant) for agent, tenant in rows]
    return page(items, next_cursor=None, limit=len(items), total=len(items))


@router.post(
    "/agents/{agent_id}/verification",
    summary="Verify or reject an agent (operators only)",
    response_model=Envelope[VerificationOut],
)
def decide(
    agent_id: str, body: VerificationIn, operator: OperatorPrincipal, session: WriteSession, services: ServicesDep
) -> dict[str, Any]:
    agent = services.agents.set_verification(session, agent_id, body.decision, body.note, actor=operator.credential_id)
    return ok(VerificationOut.of(agent))
