"""The services of one process, each built once, here, at start-up.

No service builds another: each takes what it uses as a constructor argument, so this function
is the one place that decides how the process is wired (and tests can build a service with the
parts they choose).
"""

from __future__ import annotations

from dataclasses import dataclass

from memoryos_server.services.audit import AuditService
from memoryos_server.services.email import EmailService
from memoryos_server.services.end_users import EndUserService
from memoryos_server.services.feedback import RetrievalFeedbackService
from memoryos_server.services.identity import IdentityService
from memoryos_server.services.members import MemberService
from memoryos_server.services.operator import OperatorService
from memoryos_server.services.memory import MemoryService
from memoryos_server.services.passport.activity import ActivityService
from memoryos_server.services.passport.agent_access import AgentAccessService
from memoryos_server.services.passport.agents import AgentService
from memoryos_server.services.logos import LogoFetcher
from memoryos_server.services.outbound import OutboundHttp
from memoryos_server.services.passport.connections import ConnectionService
from memoryos_server.services.passport.directory import DirectoryService
from memoryos_server.services.passport.grants import GrantService
from memoryos_server.services.passport.oauth import OAuthConnectorService
from memoryos_server.services.passport.mcp_auth.authorization import McpAuthorizationServer
from memoryos_server.services.passport.mcp_auth.clients import McpClientService
from memoryos_server.services.passport.mcp_auth.documents import ClientMetadataFetcher
from memoryos_server.services.passport.mcp_auth.memory_access import McpMemoryAccess
from memoryos_server.services.passport.pairwise import PairwiseIdentities
from memoryos_server.services.passport.scopes import PassportScopes
from memoryos_server.services.passport.service import PassportService
from memoryos_server.services.provenance import ProvenanceService
from memoryos_server.services.passport.sessions import PassportSessionService
from memoryos_server.services.ratelimit import RateLimiter
from memoryos_server.services.runtime import Runtime
from memoryos_server.services.seen import SeenLog
from memoryos_server.services.tenant_audit import TenantAuditService
from memoryos_server.services.tenant_scopes import TenantScopes
from memoryos_server.services.usage import UsageService


@dataclass
class Services:
    runtime: Runtime
    email: EmailService
    limiter: RateLimiter
    audit: AuditService
    memory: MemoryService
    # a tenant's side
    identity: IdentityService
    members: MemberService
    users: EndUserService
    scopes: TenantScopes
    seen: SeenLog
    tenant_audit: TenantAuditService
    usage: UsageService
    operator: OperatorService
    feedback: RetrievalFeedbackService
    provenance: ProvenanceService
    # the Memory Passport
    passport: PassportService
    sessions: PassportSessionService
    agents: AgentService
    grants: GrantService
    connections: ConnectionService
    directory: DirectoryService
    oauth_connectors: OAuthConnectorService
    outbound: OutboundHttp
    agent_access: AgentAccessService
    passport_scopes: PassportScopes
    activity: ActivityService
    # the Passport over MCP
    mcp_clients: McpClientService
    mcp_auth: McpAuthorizationServer
    mcp_memory: McpMemoryAccess


def build_services(runtime: Runtime) -> Services:
    email = EmailService(runtime.settings)
    limiter = RateLimiter.for_runtime(runtime)
    audit = AuditService()
    memory = MemoryService(runtime)

    identity = IdentityService(runtime, limiter=limiter)
    seen = SeenLog()
    scopes = TenantScopes(identity, seen=seen)
    tenant_audit = TenantAuditService(audit)

    outbound = OutboundHttp(runtime.settings)
    logos = LogoFetcher(outbound)
    agents = AgentService(runtime, audit=audit, logos=logos)
    connections = ConnectionService(runtime, audit=audit)
    directory = DirectoryService(runtime, outbound=outbound, logos=logos, audit=audit)
    pairwise = PairwiseIdentities(runtime)
    grants = GrantService(runtime, email=email, agents=agents, connections=connections, pairwise=pairwise, audit=audit)
    agent_access = AgentAccessService(
        runtime, agents=agents, grants=grants, connections=connections, pairwise=pairwise, audit=audit
    )
    passport_scopes = PassportScopes(agent_access, audit)
    mcp_clients = McpClientService(runtime, limiter=limiter, documents=ClientMetadataFetcher(runtime.settings))
    mcp_auth = McpAuthorizationServer(runtime, limiter=limiter, clients=mcp_clients, grants=grants, agent_access=agent_access)
    passport = PassportService(
        runtime,
        email=email,
        limiter=limiter,
        memory=memory,
        scopes=passport_scopes,
        grants=grants,
        connections=connections,
        audit=audit,
    )
    return Services(
        runtime=runtime,
        email=email,
        limiter=limiter,
        audit=audit,
        memory=memory,
        identity=identity,
        members=MemberService(runtime, identity=identity, email=email),
        users=EndUserService(runtime, identity=identity, seen=seen, audit=tenant_audit),
        scopes=scopes,
        seen=seen,
        tenant_audit=tenant_audit,
        usage=UsageService(),
        operator=OperatorService(),
        feedback=RetrievalFeedbackService(audit),
        provenance=ProvenanceService(runtime, identity=identity, memory=memory, scopes=scopes),
        passport=passport,
        sessions=PassportSessionService(passport, audit=audit),
        agents=agents,
        grants=grants,
        connections=connections,
        directory=directory,
        oauth_connectors=OAuthConnectorService(
            runtime, passport=passport, directory=directory, connections=connections, outbound=outbound
        ),
        outbound=outbound,
        agent_access=agent_access,
        passport_scopes=passport_scopes,
        activity=ActivityService(audit),
        mcp_clients=mcp_clients,
        mcp_auth=mcp_auth,
        mcp_memory=McpMemoryAccess(runtime, server=mcp_auth, scopes=passport_scopes, memory=memory),
    )
