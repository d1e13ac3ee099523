"""Agent logos from our own origin: the image fetched once when the agent was saved.

The consent screen shows an agent before the person has agreed to anything; loading the logo
from the agent's site would hand the agent the person's address at that moment. So the pages
point here (``agent_logo`` in ``_macros.html``), and an agent without a stored logo is shown
by its initials.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from memoryos_server.errors import AgentNotFound
from memoryos_server.services.logos import LOGO_HEADERS
from memoryos_server.web.deps import ReadSession, ServicesDep
from memoryos_server.web.errors import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)


@router.get("/agents/{agent_id}/logo")
def agent_logo(agent_id: Annotated[str, Path(max_length=64)], services: ServicesDep, session: ReadSession) -> Response:
    """An agent's logo: public (as its profile is), and only ever an image."""
    found = services.agents.logo(session, agent_id)
    if found is None:
        raise AgentNotFound("this agent has no logo")
    image, content_type = found
    return Response(image, media_type=content_type, headers=dict(LOGO_HEADERS))
