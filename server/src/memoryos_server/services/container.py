"""The services of one process, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from memoryos_server.services.activity import ActivityService
from memoryos_server.services.agents import AgentService
from memoryos_server.services.audit import AuditService
from memoryos_server.services.connections import ConnectionService
from memoryos_server.services.feedback import RetrievalFeedbackService
from memoryos_server.services.email import EmailService
from memoryos_server.services.grants import GrantService
from memoryos_server.services.identity import IdentityService
from memoryos_server.services.memory import MemoryService
from memoryos_server.services.passport import PassportService
from memoryos_server.services.passport_account import PassportAccountService
from memoryos_server.services.passport_scopes import PassportScopes
from memoryos_server.services.passport_sessions import PassportSessionService
from memoryos_server.services.ratelimit import RateLimiter
from memoryos_server.services.runtime import Runtime
from memoryos_server.services.scopes import TenantScopes
from memoryos_server.services.seen import SeenLog
from memoryos_server.services.tenant_audit import TenantAuditService
from memoryos_server.services.tenants import MemberService
from memoryos_server.services.universal import UniversalAccessService
from memoryos_server.services.usage import UsageService
from memoryos_server.services.users import EndUserService


@dataclass
class Services:
    runtime: Runtime
    identity: IdentityService
    members: MemberService
    users: EndUserService
    email: EmailService
    limiter: RateLimiter
    agents: AgentService
    passport: PassportService
    sessions: PassportSessionService
    grants: GrantService
    connections: ConnectionService
    universal: UniversalAccessService
    audit: AuditService
    activity: ActivityService
    memory: MemoryService
    scopes: TenantScopes
    passport_scopes: PassportScopes
    passport_account: PassportAccountService
    feedback: RetrievalFeedbackService
    usage: UsageService
    seen: SeenLog
    tenant_audit: TenantAuditService


def build_services(runtime: Runtime) -> Services:
    audit = AuditService()
    email = EmailService(runtime.settings)
    limiter = RateLimiter.for_runtime(runtime)
    grants = GrantService(runtime, email=email)
    identity = IdentityService(runtime, limiter=limiter)
    memory = MemoryService(runtime)
    passport = PassportService(runtime, email=email, limiter=limiter)
    connections = ConnectionService(runtime)
    universal = UniversalAccessService(runtime, grants=grants)
    passport_scopes = PassportScopes(universal, audit)
    seen = SeenLog()
    tenant_audit = TenantAuditService(audit)
    return Services(
        runtime=runtime,
        identity=identity,
        members=MemberService(runtime, email=email),
        users=EndUserService(runtime, seen=seen, audit=tenant_audit),
        email=email,
        limiter=limiter,
        agents=AgentService(runtime),
        passport=passport,
        sessions=PassportSessionService(passport),
        grants=grants,
        connections=connections,
        universal=universal,
        audit=audit,
        activity=ActivityService(audit),
        memory=memory,
        scopes=TenantScopes(identity, seen=seen),
        passport_scopes=passport_scopes,
        passport_account=PassportAccountService(
            memory, passport=passport, scopes=passport_scopes, grants=grants, connections=connections, audit=audit
        ),
        feedback=RetrievalFeedbackService(audit),
        usage=UsageService(),
        seen=seen,
        tenant_audit=tenant_audit,
    )
