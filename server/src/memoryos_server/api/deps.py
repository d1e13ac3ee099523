"""Dependencies routers declare as Annotated aliases. Authentication is on by default."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from memoryos_server.errors import PermissionDenied
from memoryos_server.services.container import Services
from memoryos_server.services.principal import Principal
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
