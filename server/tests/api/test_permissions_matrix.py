"""Every credential against every route that checks a permission, on both databases.

Credentials: a dashboard JWT for each membership role, a tenant API key and an OAuth client
(both made by the owner, so they act with the ``service`` role), and an operator (a platform
admin with no organisation). What each may do is read from the one table,
``services/permissions.py``, through the same ``Principal`` check the services use; what the
HTTP answer must be is written here: the route's own success status when allowed, ``403
AUTH_003`` when not. ``test_the_table_says_what_spec_4_says`` holds the table itself to SPEC §4,
and ``test_every_tenant_route_is_in_the_matrix`` walks the app so a new route cannot slip past.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from httpx import Response

from memoryos_server.api.deps import get_principal
from memoryos_server.engine.types import ChatMessage
from memoryos_server.services.memory import MemoryOwner, MemoryScope
from memoryos_server.services.permissions import MEMBERSHIP_ROLES, ROLE_PERMISSIONS, SERVICE_ROLE, Permission
from memoryos_server.services.principal import Principal
from tests.fixtures.factories import TenantHandle, create_tenant, operator_headers

P = Permission
CREDENTIALS = (*MEMBERSHIP_ROLES, "api_key", "oauth_client", "operator")
END_USER = "eu-matrix"
# One subject per review opened: a restated pair would be a duplicate, not a new conflict.
_DESKS = iter(("billing", "sales", "press", "travel", "legal", "payroll", "security", "reception", "catering", "archive") * 3)
MESSAGE = {"messages": [{"role": "user", "content": "The blue folder is on the top shelf"}], "infer": False}


@dataclass
class Org:
    client: TestClient
    handle: TenantHandle
    headers: dict[str, dict[str, str]]
    agent_id: str

    @property
    def services(self):  # type: ignore[no-untyped-def]
        return self.client.app.state.services  # type: ignore[attr-defined]

    def principal(self, credential: str) -> Principal:
        authorization = self.headers[credential]["Authorization"]
        return self.services.identity.authenticate_request(authorization=authorization, x_api_key=None)

    def call(self, credential: str, method: str, path: str, **kwargs: object) -> Response:
        headers = {**self.headers[credential], "X-End-User-ID": END_USER}
        return self.client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]

    def owner_of(self, credential: str, session: object) -> MemoryOwner:
        """Whose memories ``credential`` works on: its own (JWT) or END_USER's (key, client)."""
        principal = self.principal(credential)
        user = self.services.identity.resolve_end_user(session, principal, header_value=END_USER, body_value=None)
        return MemoryOwner.end_user(user, tenant_id=principal.tenant_id)

    def workspace(self, session: object) -> MemoryOwner:
        handle = self.handle
        tenant = self.services.identity.describe(session, self.principal("owner"))
        assert tenant["tenant_id"] == handle.tenant_id
        owner_principal = self.principal("owner")
        user = self.services.identity.workspace_owner(session, owner_principal.tenant_id, handle.tenant_id)
        return MemoryOwner.workspace(user)

    def add(self, owner: MemoryOwner, session: object, *texts: str, infer: bool = False) -> tuple[str, list[str]]:
        """Store ``texts`` for ``owner`` (verbatim unless ``infer``: only extracted memories
        open conflicts); the last memory's id and the conflicts opened."""
        outcome = None
        conflicts: list[str] = []
        for text in texts:
            outcome = self.services.memory.add(
                session, MemoryScope.for_owner(owner, actor="test:matrix"), messages=[ChatMessage("user", text)], infer=infer
            )
            conflicts += outcome.conflict_ids
        assert outcome is not None
        return outcome.results[0].id, conflicts

    def own_memory(self, credential: str) -> str:
        if credential == "operator":
            return str(uuid.uuid4())  # refused before any lookup
        with self.services.runtime.db.session() as session:
            memory_id, _ = self.add(self.owner_of(credential, session), session, f"Shelf {secrets.token_hex(3)} holds the atlas")
        return memory_id

    def workspace_memory(self) -> str:
        with self.services.runtime.db.session() as session:
            memory_id, _ = self.add(self.workspace(session), session, f"Room {secrets.token_hex(3)} has a projector")
        return memory_id

    def open_review(self) -> str:
        desk = next(_DESKS)
        with self.services.runtime.db.session() as session:
            _, conflicts = self.add(
                self.workspace(session),
                session,
                f"Our {desk} desk opens at 8am",
                f"Our {desk} desk opens at 9am",
                infer=True,
            )
        assert conflicts, "two contradicting workspace memories open a review"
        return conflicts[0]

    def new_agent(self) -> str:
        created = self.client.post(
            "/v1/agents/global", json={"name": "Matrix agent"}, headers=self.handle.jwt_headers()
        )
        assert created.status_code == 201, created.text
        return str(created.json()["data"]["id"])

    def writer(self) -> str:
        """A new service writer's key (registered by the owner)."""
        key = f"svc-{secrets.token_hex(4)}"
        created = self.client.post("/v1/tenant/service-writers", json={"service_key": key}, headers=self.handle.jwt_headers())
        assert created.status_code == 201, created.text
        return key

    def end_user(self) -> str:
        name = f"eu-{secrets.token_hex(4)}"
        principal = self.services.identity.authenticate_request(
            authorization=f"ApiKey {self.handle.api_key}", x_api_key=None
        )
        with self.services.runtime.db.session() as session:
            self.services.identity.end_user(session, principal, name, create=True)
        return name


Call = Callable[[Org, str], Response]


@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str  # the route's template, as the app declares it
    permission: Permission | None  # None: operators only
    success: int  # the status an allowed caller gets
    call: Call

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def _jobs(o: Org, c: str) -> Response:
    added = o.client.post("/v1/memories/add", json=MESSAGE, headers=o.handle.key_headers(END_USER))
    return o.call(c, "GET", f"/v1/memories/jobs/{added.json()['job_id']}")


def _clarification(o: Org, c: str) -> Response:
    if c == "operator" or not principal_may(c, P.MEMORY_WRITE):
        clarification = str(uuid.uuid4())
    else:
        with o.services.runtime.db.session() as session:
            topic = secrets.token_hex(2)
            _, conflicts = o.add(
                o.owner_of(c, session),
                session,
                f"My exam {topic} is on March 10",
                f"My exam {topic} is on March 12",
                infer=True,
            )
        clarification = conflicts[0]
    return o.call(c, "POST", f"/v1/memories/clarifications/{clarification}/answer", json={"answer": "both"})


# A directory entry whose URLs need no name lookup (an address written as one, public): this
# server only checks them when they are registered, and never calls them in these tests.
DIRECTORY_BODY = {
    "display_name": "Matrix Co",
    "oauth_client_id": "matrix",
    "oauth_client_secret": "matrix-secret",
    "oauth_authorization_url": "https://93.184.216.34/authorize",
    "oauth_token_url": "https://93.184.216.34/token",
    "oauth_userinfo_url": "https://93.184.216.34/userinfo",
}


def _with_directory_entry(o: Org, c: str, method: str) -> Response:
    registered = o.client.post("/v1/tenant/directory/register", json=DIRECTORY_BODY, headers=o.handle.jwt_headers())
    assert registered.status_code == 200, registered.text
    return o.call(c, method, "/v1/tenant/directory")


CASES: list[RouteCase] = [
    # Tenant administration: credentials, members, usage, the audit trail.
    RouteCase("POST", "/v1/tenant/api-keys", P.KEYS_MANAGE, 201, lambda o, c: o.call(c, "POST", "/v1/tenant/api-keys", json={"name": "x"})),
    RouteCase("GET", "/v1/tenant/api-keys", P.KEYS_MANAGE, 200, lambda o, c: o.call(c, "GET", "/v1/tenant/api-keys")),
    RouteCase(
        "DELETE", "/v1/tenant/api-keys/{key_id}", P.KEYS_MANAGE, 200,
        lambda o, c: o.call(c, "DELETE", f"/v1/tenant/api-keys/{_victim_key(o)}"),
    ),
    RouteCase("POST", "/v1/tenant/oauth-clients", P.KEYS_MANAGE, 201, lambda o, c: o.call(c, "POST", "/v1/tenant/oauth-clients", json={"name": "x"})),
    RouteCase("GET", "/v1/tenant/oauth-clients", P.KEYS_MANAGE, 200, lambda o, c: o.call(c, "GET", "/v1/tenant/oauth-clients")),
    RouteCase(
        "DELETE", "/v1/tenant/oauth-clients/{client_id}", P.KEYS_MANAGE, 200,
        lambda o, c: o.call(c, "DELETE", f"/v1/tenant/oauth-clients/{_victim_client(o)}"),
    ),
    RouteCase("GET", "/v1/tenant/members", P.MEMBERS_READ, 200, lambda o, c: o.call(c, "GET", "/v1/tenant/members")),
    RouteCase(
        "POST", "/v1/tenant/members", P.MEMBERS_MANAGE, 201,
        lambda o, c: o.call(c, "POST", "/v1/tenant/members", json=_new_member_body()),
    ),
    RouteCase(
        "PATCH", "/v1/tenant/members/{user_id}", P.MEMBERS_MANAGE, 200,
        lambda o, c: o.call(c, "PATCH", f"/v1/tenant/members/{o.handle.add_member('viewer').user_id}", json={"role": "member"}),
    ),
    RouteCase(
        "DELETE", "/v1/tenant/members/{user_id}", P.MEMBERS_MANAGE, 200,
        lambda o, c: o.call(c, "DELETE", f"/v1/tenant/members/{o.handle.add_member('viewer').user_id}"),
    ),
    RouteCase("GET", "/v1/tenant/usage", P.USAGE_READ, 200, lambda o, c: o.call(c, "GET", "/v1/tenant/usage")),
    RouteCase("GET", "/v1/tenant/audit", P.USAGE_READ, 200, lambda o, c: o.call(c, "GET", "/v1/tenant/audit")),
    # The tenant's end-users.
    RouteCase("GET", "/v1/users", P.USERS_READ, 200, lambda o, c: o.call(c, "GET", "/v1/users")),
    RouteCase("GET", "/v1/users/{external_user_id}", P.USERS_READ, 200, lambda o, c: o.call(c, "GET", f"/v1/users/{o.end_user()}")),
    RouteCase(
        "GET", "/v1/users/{external_user_id}/export", P.USERS_EXPORT, 200,
        lambda o, c: o.call(c, "GET", f"/v1/users/{o.end_user()}/export"),
    ),
    RouteCase("DELETE", "/v1/users/{external_user_id}", P.USERS_DELETE, 200, lambda o, c: o.call(c, "DELETE", f"/v1/users/{o.end_user()}")),
    # Tenant memory: a JWT caller's own memories, a backend's END_USER's.
    RouteCase("POST", "/v1/memories/add", P.MEMORY_WRITE, 200, lambda o, c: o.call(c, "POST", "/v1/memories/add", json=MESSAGE)),
    RouteCase("GET", "/v1/memories/jobs/{job_id}", P.MEMORY_READ, 200, _jobs),
    RouteCase("POST", "/v1/memories/retrieve", P.MEMORY_READ, 200, lambda o, c: o.call(c, "POST", "/v1/memories/retrieve", json={"query": "folder"})),
    RouteCase("GET", "/v1/memories", P.MEMORY_READ, 200, lambda o, c: o.call(c, "GET", "/v1/memories")),
    RouteCase("GET", "/v1/memories/{memory_id}", P.MEMORY_READ, 200, lambda o, c: o.call(c, "GET", f"/v1/memories/{o.own_memory(c)}")),
    RouteCase(
        "GET", "/v1/memories/{memory_id}/history", P.MEMORY_READ, 200,
        lambda o, c: o.call(c, "GET", f"/v1/memories/{o.own_memory(c)}/history"),
    ),
    RouteCase(
        "PATCH", "/v1/memories/{memory_id}", P.MEMORY_WRITE, 200,
        lambda o, c: o.call(c, "PATCH", f"/v1/memories/{o.own_memory(c)}", json={"importance_score": 3}),
    ),
    RouteCase("DELETE", "/v1/memories/{memory_id}", P.MEMORY_WRITE, 200, lambda o, c: o.call(c, "DELETE", f"/v1/memories/{o.own_memory(c)}")),
    RouteCase("POST", "/v1/memories/clarifications/{clarification_id}/answer", P.MEMORY_WRITE, 200, _clarification),
    RouteCase(
        "POST", "/v1/memories/retrieval-feedback", P.MEMORY_READ, 200,
        lambda o, c: o.call(c, "POST", "/v1/memories/retrieval-feedback", json={"retrieval_id": "ret_x", "outcome": "ignored"}),
    ),
    # No source review is ever issued: an allowed caller learns that this one does not exist.
    RouteCase(
        "POST", "/v1/memories/source-reviews/{review_id}/answer", P.MEMORY_WRITE, 404,
        lambda o, c: o.call(c, "POST", "/v1/memories/source-reviews/srv_x/answer", json={"version": "1", "action": "dismiss"}),
    ),
    RouteCase("GET", "/v1/memories/edtech-profile", P.MEMORY_READ, 200, lambda o, c: o.call(c, "GET", "/v1/memories/edtech-profile")),
    # Workspace memory and its reviews.
    RouteCase("POST", "/v1/workspace/memories/add", P.WORKSPACE_WRITE, 200, lambda o, c: o.call(c, "POST", "/v1/workspace/memories/add", json=MESSAGE)),
    RouteCase(
        "POST", "/v1/workspace/memories/retrieve", P.WORKSPACE_READ, 200,
        lambda o, c: o.call(c, "POST", "/v1/workspace/memories/retrieve", json={"query": "projector"}),
    ),
    RouteCase("GET", "/v1/workspace/memories", P.WORKSPACE_READ, 200, lambda o, c: o.call(c, "GET", "/v1/workspace/memories")),
    RouteCase(
        "GET", "/v1/workspace/memories/{memory_id}", P.WORKSPACE_READ, 200,
        lambda o, c: o.call(c, "GET", f"/v1/workspace/memories/{o.workspace_memory()}"),
    ),
    RouteCase(
        "GET", "/v1/workspace/memories/{memory_id}/history", P.WORKSPACE_READ, 200,
        lambda o, c: o.call(c, "GET", f"/v1/workspace/memories/{o.workspace_memory()}/history"),
    ),
    RouteCase(
        "PATCH", "/v1/workspace/memories/{memory_id}", P.WORKSPACE_WRITE, 200,
        lambda o, c: o.call(c, "PATCH", f"/v1/workspace/memories/{o.workspace_memory()}", json={"importance_score": 3}),
    ),
    RouteCase(
        "DELETE", "/v1/workspace/memories/{memory_id}", P.WORKSPACE_WRITE, 200,
        lambda o, c: o.call(c, "DELETE", f"/v1/workspace/memories/{o.workspace_memory()}"),
    ),
    RouteCase("GET", "/v1/tenant/reviews", P.REVIEWS_READ, 200, lambda o, c: o.call(c, "GET", "/v1/tenant/reviews")),
    RouteCase(
        "POST", "/v1/tenant/reviews/{review_id}/answer", P.REVIEWS_ANSWER, 200,
        lambda o, c: o.call(c, "POST", f"/v1/tenant/reviews/{o.open_review()}/answer", json={"answer": "both"}),
    ),
    # Memory Passport, tenant side.
    RouteCase(
        "POST", "/v1/agents/global", P.AGENTS_MANAGE, 201,
        lambda o, c: o.call(c, "POST", "/v1/agents/global", json={"name": "A"}),
    ),
    RouteCase("GET", "/v1/agents/global", P.AGENTS_MANAGE, 200, lambda o, c: o.call(c, "GET", "/v1/agents/global")),
    RouteCase(
        "PATCH", "/v1/agents/global/{agent_id}", P.AGENTS_MANAGE, 200,
        lambda o, c: o.call(c, "PATCH", f"/v1/agents/global/{o.new_agent()}", json={"description": "changed"}),
    ),
    RouteCase(
        "POST", "/v1/agents/global/{agent_id}/rotate-key", P.AGENTS_MANAGE, 200,
        lambda o, c: o.call(c, "POST", f"/v1/agents/global/{o.new_agent()}/rotate-key"),
    ),
    RouteCase(
        "DELETE", "/v1/agents/global/{agent_id}", P.AGENTS_MANAGE, 200,
        lambda o, c: o.call(c, "DELETE", f"/v1/agents/global/{o.new_agent()}"),
    ),
    RouteCase(
        "POST", "/v1/tenant/memory-passport/link-token", P.CONNECTORS_MANAGE, 200,
        lambda o, c: o.call(
            c, "POST", "/v1/tenant/memory-passport/link-token", json={"agent_id": o.agent_id, "external_user_id": "customer-1"}
        ),
    ),
    # Provenance: service writers and their source events.
    RouteCase(
        "POST", "/v1/tenant/service-writers", P.WRITERS_MANAGE, 201,
        lambda o, c: o.call(c, "POST", "/v1/tenant/service-writers", json={"service_key": f"svc-{secrets.token_hex(4)}"}),
    ),
    RouteCase("GET", "/v1/tenant/service-writers", P.PROVENANCE_READ, 200, lambda o, c: o.call(c, "GET", "/v1/tenant/service-writers")),
    RouteCase(
        "GET", "/v1/tenant/service-writers/{service_key}", P.PROVENANCE_READ, 200,
        lambda o, c: o.call(c, "GET", f"/v1/tenant/service-writers/{o.writer()}"),
    ),
    RouteCase(
        "PATCH", "/v1/tenant/service-writers/{service_key}", P.WRITERS_MANAGE, 200,
        lambda o, c: o.call(c, "PATCH", f"/v1/tenant/service-writers/{o.writer()}", json={"display_name": "Renamed"}),
    ),
    RouteCase(
        "DELETE", "/v1/tenant/service-writers/{service_key}", P.WRITERS_MANAGE, 200,
        lambda o, c: o.call(c, "DELETE", f"/v1/tenant/service-writers/{o.writer()}"),
    ),
    RouteCase("GET", "/v1/tenant/source-events", P.PROVENANCE_READ, 200, lambda o, c: o.call(c, "GET", "/v1/tenant/source-events")),
    RouteCase(
        "POST", "/v1/tenant/directory/register", P.CONNECTORS_MANAGE, 200,
        lambda o, c: o.call(c, "POST", "/v1/tenant/directory/register", json=DIRECTORY_BODY),
    ),
    RouteCase("GET", "/v1/tenant/directory", P.CONNECTORS_MANAGE, 200, lambda o, c: _with_directory_entry(o, c, "GET")),
    RouteCase("DELETE", "/v1/tenant/directory", P.CONNECTORS_MANAGE, 200, lambda o, c: _with_directory_entry(o, c, "DELETE")),
    # Operators only.
    RouteCase("GET", "/v1/admin/agents", None, 200, lambda o, c: o.call(c, "GET", "/v1/admin/agents")),
    RouteCase(
        "POST", "/v1/admin/agents/{agent_id}/verification", None, 200,
        lambda o, c: o.call(c, "POST", f"/v1/admin/agents/{o.new_agent()}/verification", json={"decision": "verified"}),
    ),
]

# Routes that need a signed-in caller but no permission: about the caller themselves.
AUTHENTICATED_ONLY = {
    ("GET", "/v1/auth/me"): "who the caller is",
    ("POST", "/v1/auth/password"): "the caller's own password (JWT only)",
    ("GET", "/v1/auth/invitations"): "invitations to the caller's own address (JWT only)",
    ("POST", "/v1/auth/invitations/{invitation_id}/accept"): "the caller's own invitation, with its code",
    ("POST", "/v1/auth/invitations/{invitation_id}/decline"): "the caller's own invitation, with its code",
}


def _victim_key(o: Org) -> str:
    created = o.client.post("/v1/tenant/api-keys", json={"name": "victim"}, headers=o.handle.jwt_headers())
    return str(created.json()["data"]["id"])


def _victim_client(o: Org) -> str:
    created = o.client.post("/v1/tenant/oauth-clients", json={"name": "victim"}, headers=o.handle.jwt_headers())
    return str(created.json()["data"]["client_id"])


def _new_member_body() -> dict[str, str]:
    return {"email": f"new-{secrets.token_hex(4)}@example.com", "role": "viewer"}


def _principal_for(credential: str) -> Principal:
    """The principal a credential of the ``org`` fixture authenticates as (ids aside)."""
    if credential == "operator":
        return Principal("user", None, None, "none", "usr_op", 1, "admin")
    if credential in ("api_key", "oauth_client"):
        kind = "api_key" if credential == "api_key" else "oauth_client"
        return Principal(kind, 1, "ten_x", SERVICE_ROLE, "key_x", creator_role="owner")  # type: ignore[arg-type]
    return Principal("user", 1, "ten_x", credential, "usr_x", 1)


def principal_may(credential: str, permission: Permission) -> bool:
    return _principal_for(credential).may(permission)


def expected_allowed(case: RouteCase, credential: str) -> bool:
    if case.permission is None:
        return credential == "operator"
    return principal_may(credential, case.permission)


@pytest.fixture(scope="module")
def org(client: TestClient) -> Org:
    """One organisation with a member of every role, the owner's API key and OAuth client, and an operator."""
    handle = create_tenant(client, "Matrix")
    headers: dict[str, dict[str, str]] = {"owner": handle.jwt_headers(), "api_key": handle.key_headers()}
    for role in MEMBERSHIP_ROLES[1:]:
        headers[role] = handle.add_member(role).headers()
    created = client.post("/v1/tenant/oauth-clients", json={"name": "svc"}, headers=handle.jwt_headers()).json()["data"]
    token = client.post(
        "/v1/oauth/token",
        data={"grant_type": "client_credentials", "client_id": created["client_id"], "client_secret": created["client_secret"]},
    ).json()["access_token"]
    headers["oauth_client"] = {"Authorization": f"Bearer {token}"}
    headers["operator"] = operator_headers(client)
    organisation = Org(client, handle, headers, agent_id="")
    organisation.agent_id = organisation.new_agent()
    return organisation


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_role_route_matrix(org: Org, case: RouteCase) -> None:
    wrong: list[str] = []
    for credential in CREDENTIALS:
        response = case.call(org, credential)
        if expected_allowed(case, credential):
            if response.status_code != case.success:
                wrong.append(f"{credential}: expected {case.success}, got {response.status_code} {response.text[:200]}")
        elif response.status_code != 403 or response.json().get("code") != "AUTH_003":
            wrong.append(f"{credential}: expected 403 AUTH_003, got {response.status_code} {response.text[:200]}")
    assert not wrong, f"{case.name}:\n" + "\n".join(wrong)


def test_every_route_is_allowed_to_someone_and_refused_to_someone() -> None:
    """Each row of the matrix decides something: no route is open to all or closed to all."""
    for case in CASES:
        outcomes = {expected_allowed(case, credential) for credential in CREDENTIALS}
        assert outcomes == {True, False}, case.name


def _needs_tenant_principal(dependant) -> bool:  # type: ignore[no-untyped-def]
    return any(d.call is get_principal or _needs_tenant_principal(d) for d in dependant.dependencies)


def _api_routes(app) -> list[tuple[str, APIRoute]]:  # type: ignore[no-untyped-def]
    """(full path, route) of every API route, through included routers."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before route contexts: app.routes is already flat
        return [(route.path_format, route) for route in app.routes if isinstance(route, APIRoute)]
    return [
        # As the document names it: ``{memory_id:uuid}`` is ``{memory_id}``.
        (re.sub(r"\{(\w+):\w+\}", r"{\1}", str(context.path)), context.original_route)
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def test_every_tenant_route_is_in_the_matrix(app) -> None:  # type: ignore[no-untyped-def]
    routes = _api_routes(app)
    assert len(routes) > 60, "the walk sees the app's API routes"
    declared = {
        (method, path)
        for path, route in routes
        if _needs_tenant_principal(route.dependant)
        for method in route.methods
    }
    covered = {(case.method, case.path) for case in CASES}
    assert len(covered) == len(CASES), "a route appears twice in the matrix"
    missing = declared - covered - set(AUTHENTICATED_ONLY)
    assert not missing, f"routes that take a tenant credential but are not in the matrix: {sorted(missing)}"
    stale = (covered | set(AUTHENTICATED_ONLY)) - declared
    assert not stale, f"matrix rows for routes the app does not have: {sorted(stale)}"


def test_authenticated_only_routes_answer_every_credential(org: Org) -> None:
    for credential in CREDENTIALS:
        assert org.call(credential, "GET", "/v1/auth/me").status_code == 200, credential


def test_the_table_says_what_spec_4_says() -> None:
    """SPEC §4: owner/admin manage members, keys, agents, connectors; developer manages keys,
    agents, connectors; analyst reads usage and reviews; member and viewer read only. Service
    writers are managed by the roles that manage keys and connectors (owner, admin, developer)."""
    manage = {P.MEMBERS_MANAGE, P.KEYS_MANAGE, P.AGENTS_MANAGE, P.CONNECTORS_MANAGE, P.WRITERS_MANAGE}
    writes = manage | {P.MEMORY_WRITE, P.WORKSPACE_WRITE, P.REVIEWS_ANSWER, P.USERS_DELETE, P.USERS_EXPORT}
    for role in ("owner", "admin"):
        assert ROLE_PERMISSIONS[role] == frozenset(Permission)
    assert manage - ROLE_PERMISSIONS["developer"] == {P.MEMBERS_MANAGE}
    assert {P.USAGE_READ, P.REVIEWS_READ} <= ROLE_PERMISSIONS["analyst"]
    assert not ROLE_PERMISSIONS["analyst"] & writes
    for role in ("member", "viewer"):
        assert not ROLE_PERMISSIONS[role] & writes, role
        # "Read only" covers the organisation's records, not an end-user's export.
        assert {P.USAGE_READ, P.REVIEWS_READ, P.USERS_READ} <= ROLE_PERMISSIONS[role], role
    # Tenant backends never manage people or credentials, whoever made them.
    assert not ROLE_PERMISSIONS[SERVICE_ROLE] & {P.MEMBERS_MANAGE, P.KEYS_MANAGE, P.MEMBERS_READ}
    # Nor the service writers: a key could bind a writer to itself or raise its own authority.
    assert P.WRITERS_MANAGE not in ROLE_PERMISSIONS[SERVICE_ROLE]
    assert P.WRITERS_MANAGE in ROLE_PERMISSIONS["developer"] and P.PROVENANCE_READ in ROLE_PERMISSIONS["analyst"]
    # Roles only ever add rights going up the list: an owner can do all an admin can, and so on.
    for higher, lower in zip(MEMBERSHIP_ROLES, MEMBERSHIP_ROLES[1:]):
        assert ROLE_PERMISSIONS[lower] <= ROLE_PERMISSIONS[higher], (higher, lower)


def test_refusal_uses_the_role_error_code(org: Org) -> None:
    response = org.client.post("/v1/tenant/api-keys", json={"name": "x"}, headers=org.headers["viewer"])
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "AUTH_003"
    assert body["request_id"].startswith("req_")


def _end_user(client: TestClient, tenant: TenantHandle) -> str:
    end_user = f"eu-{secrets.token_hex(4)}"
    services = client.app.state.services  # type: ignore[attr-defined]
    principal = services.identity.authenticate_request(authorization=f"ApiKey {tenant.api_key}", x_api_key=None)
    with services.runtime.db.session() as session:
        services.identity.end_user(session, principal, end_user, create=True)
    return end_user


# --- keys and OAuth clients act with no more rights than their creator ------------------------------


def _key_of(client: TestClient, headers: dict[str, str]) -> dict[str, str]:
    created = client.post("/v1/tenant/api-keys", json={"name": "made-by"}, headers=headers)
    assert created.status_code == 201, created.text
    return {"Authorization": f"ApiKey {created.json()['data']['raw_api_key']}"}


def _client_token(client: TestClient, headers: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    created = client.post("/v1/tenant/oauth-clients", json={"name": "made-by"}, headers=headers).json()["data"]
    form = {"grant_type": "client_credentials", "client_id": created["client_id"], "client_secret": created["client_secret"]}
    token = client.post("/v1/oauth/token", data=form)
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}, form


def _write(client: TestClient, headers: dict[str, str], end_user: str = "eu-write") -> int:
    body = {"messages": [{"role": "user", "content": "I prefer tea"}], "infer": False}
    return client.post("/v1/memories/add", json=body, headers={**headers, "X-End-User-ID": end_user}).status_code


def _read(client: TestClient, headers: dict[str, str], end_user: str = "eu-write") -> int:
    return client.post(
        "/v1/memories/retrieve", json={"query": "tea"}, headers={**headers, "X-End-User-ID": end_user}
    ).status_code


def test_a_developer_made_key_cannot_delete_end_users_but_an_owner_made_key_can(
    client: TestClient, tenant: TenantHandle
) -> None:
    developer = tenant.add_member("developer")
    developer_key = _key_of(client, developer.headers())
    assert _write(client, developer_key) == 200  # a developer's key still integrates memory
    refused = client.delete(f"/v1/users/{_end_user(client, tenant)}", headers=developer_key)
    assert refused.status_code == 403 and refused.json()["code"] == "AUTH_003"
    developer_client, _form = _client_token(client, developer.headers())
    refused = client.delete(f"/v1/users/{_end_user(client, tenant)}", headers=developer_client)
    assert refused.status_code == 403 and refused.json()["code"] == "AUTH_003"

    owner_key = _key_of(client, tenant.jwt_headers())
    assert client.delete(f"/v1/users/{_end_user(client, tenant)}", headers=owner_key).status_code == 200
    me = client.get("/v1/auth/me", headers=developer_key).json()["data"]
    assert (me["role"], me["creator_role"]) == ("service", "developer")


def test_a_demoted_creators_key_and_client_lose_the_rights_at_once(client: TestClient, tenant: TenantHandle) -> None:
    second_owner = tenant.add_member("owner")
    key = _key_of(client, second_owner.headers())
    oauth, _form = _client_token(client, second_owner.headers())
    for credential in (key, oauth):
        assert _write(client, credential) == 200
        assert client.delete(f"/v1/users/{_end_user(client, tenant)}", headers=credential).status_code == 200

    demoted = client.patch(f"/v1/tenant/members/{second_owner.user_id}", json={"role": "viewer"}, headers=tenant.jwt_headers())
    assert demoted.status_code == 200, demoted.text
    for credential in (key, oauth):
        assert _write(client, credential) == 403
        assert client.delete(f"/v1/users/{_end_user(client, tenant)}", headers=credential).status_code == 403
        assert _read(client, credential) == 200  # a viewer reads, so the credential still does

    restored = client.patch(f"/v1/tenant/members/{second_owner.user_id}", json={"role": "admin"}, headers=tenant.jwt_headers())
    assert restored.status_code == 200
    assert _write(client, key) == 200 and _write(client, oauth) == 200


def test_a_removed_creators_key_and_client_fail_as_revoked_ones_do(client: TestClient, tenant: TenantHandle) -> None:
    developer = tenant.add_member("developer")
    key = _key_of(client, developer.headers())
    oauth, form = _client_token(client, developer.headers())
    assert _read(client, key) == 200 and _read(client, oauth) == 200

    removed = client.delete(f"/v1/tenant/members/{developer.user_id}", headers=tenant.jwt_headers())
    assert removed.status_code == 200
    for credential in (key, oauth):
        response = client.post(
            "/v1/memories/retrieve", json={"query": "tea"}, headers={**credential, "X-End-User-ID": "eu-write"}
        )
        assert response.status_code == 401 and response.json()["code"] == "AUTH_001"
    # Nor can the client get a new token.
    again = client.post("/v1/oauth/token", data=form)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"


def test_a_key_with_no_recorded_creator_keeps_the_service_role(client: TestClient, tenant: TenantHandle) -> None:
    from sqlalchemy import update

    from memoryos_server.storage.models import ApiKey

    developer = tenant.add_member("developer")
    key = _key_of(client, developer.headers())
    services = client.app.state.services  # type: ignore[attr-defined]
    key_id = client.get("/v1/auth/me", headers=key).json()["data"]["credential_id"]
    with services.runtime.db.session() as session:
        session.execute(update(ApiKey).where(ApiKey.public_id == key_id).values(created_by_user_id=None))
    assert client.delete(f"/v1/users/{_end_user(client, tenant)}", headers=key).status_code == 200
    assert client.get("/v1/auth/me", headers=key).json()["data"]["creator_role"] is None
