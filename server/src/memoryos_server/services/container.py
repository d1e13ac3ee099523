"""The services of one process, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from memoryos_server.services.identity import IdentityService
from memoryos_server.services.runtime import Runtime
from memoryos_server.services.tenants import MemberService
from memoryos_server.services.users import EndUserService


@dataclass
class Services:
    runtime: Runtime
    identity: IdentityService
    members: MemberService
    users: EndUserService


def build_services(runtime: Runtime) -> Services:
    return Services(
        runtime=runtime,
        identity=IdentityService(runtime),
        members=MemberService(runtime),
        users=EndUserService(runtime),
    )
