"""Dependencies routers declare as Annotated aliases. Authentication is on by default."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from memoryos_server.errors import PermissionDenied
from memoryos_server.services.container import Services
from memoryos_server.services.passport import SESSION_COOKIE, PassportCaller
from memoryos_server.services.principal import Principal
from memoryos_server.services.universal import AgentCaller
from memoryos_server.services.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


def get_services(request: Request) -> Services:
    return request.app.state.services


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
ServicesDep = Annotated[Services, Depends(get_services)]


def get_principal(
    services: ServicesDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """The tenant caller: dashboard JWT, tenant API key, or OAuth client token."""
    return services.identity.authenticate_request(authorization=authorization, x_api_key=x_api_key)


TenantPrincipal = Annotated[Principal, Depends(get_principal)]


def get_operator(principal: TenantPrincipal) -> Principal:
    if not principal.is_operator:
        raise PermissionDenied("operator access only")
    return principal


OperatorPrincipal = Annotated[Principal, Depends(get_operator)]

EndUserHeader = Annotated[
    str | None,
    Header(alias="X-End-User-ID", description="The tenant's id for the end-user (API key and OAuth callers)."),
]


def get_passport_caller(
    request: Request,
    services: ServicesDep,
    x_memoryos_session: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> PassportCaller:
    """The signed-in passport user: ``X-MemoryOS-Session`` header, else the session cookie."""
    token = x_memoryos_session or request.cookies.get(SESSION_COOKIE)
    return services.passport.authenticate_request(token)


PassportUser = Annotated[PassportCaller, Depends(get_passport_caller)]


def get_agent(
    services: ServicesDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> AgentCaller:
    """An agent by its ``agent_sk_…`` key alone (consent exchange, user resolve)."""
    with services.runtime.db.session(write=False) as session:
        return services.universal.authenticate(session, authorization=authorization, uui_token=None, needs_user=False)


def get_agent_for_user(
    services: ServicesDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_memoryos_uui: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> AgentCaller:
    """An agent and the passport user its ``X-MemoryOS-UUI`` names for it."""
    with services.runtime.db.session(write=False) as session:
        return services.universal.authenticate(
            session, authorization=authorization, uui_token=x_memoryos_uui, needs_user=True
        )


AgentKey = Annotated[AgentCaller, Depends(get_agent)]
AgentForUser = Annotated[AgentCaller, Depends(get_agent_for_user)]
