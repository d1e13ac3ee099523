"""Client-side behaviour of the SDK that needs no server: URLs, configuration, how answers
and errors are read, and retries.

Where a test needs an HTTP answer it uses ``httpx.MockTransport`` with the answer written
out in full, standing in for the server (tested on its own, and against this SDK, in the
API tests). The code under test is always the SDK's own: what it sends and how it reads
what comes back. Behaviour against a live server belongs in the integration tests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

import memoryos
from memoryos import (
    AsyncMemory,
    AuthError,
    BadRequestError,
    ConflictError,
    CrossAgentAuthError,
    Memory,
    MemoryOSError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    ValidationError,
    WriteNotPermitted,
)
from memoryos.universal import AsyncUniversalMemory, UniversalMemory

API_KEY = "mem_test_key"
AGENT_KEY = "agent_sk_test"
UUI = "uui_test"
ENVELOPE = {"request_id": "req_123", "timestamp": "2026-01-01T00:00:00+00:00"}


@pytest.fixture(autouse=True)
def _no_memoryos_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEMORYOS_API_URL", raising=False)
    monkeypatch.delenv("MEMORYOS_CONSENT_BASE_URL", raising=False)


class Server:
    """Answers each request with the next scripted response, and keeps the requests."""

    def __init__(self, *responses: httpx.Response | Callable[[httpx.Request], httpx.Response]) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]
        return response(request) if callable(response) else response

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def error(status: int, name: str, code: str, **extra: Any) -> httpx.Response:
    headers = extra.pop("headers", {})
    body = {"error": name, "code": code, "request_id": "req_err", "details": extra.get("details")}
    return httpx.Response(status, json=body, headers=headers)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


# --- consent URLs and base URLs ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "query"),
    [
        (  # seed 001, the minimal consent link
            {"agent_id": "your_global_agent_id", "state": "optional_user_session_state"},
            "agent_id=your_global_agent_id&state=optional_user_session_state",
        ),
        (  # seed 001, with preselected categories
            {
                "agent_id": "your_global_agent_id",
                "state": "optional_user_session_state",
                "categories": ["preference", "goal", "expertise"],
            },
            "agent_id=your_global_agent_id&state=optional_user_session_state"
            "&categories=preference%2Cgoal%2Cexpertise",
        ),
        (  # seed 001, app-owned callback
            {
                "agent_id": "your_global_agent_id",
                "redirect_uri": "https://yourapp.com/integrations/memoryos/callback",
                "state": "secure_random_state_token",
                "categories": ["preference", "fact"],
            },
            "agent_id=your_global_agent_id"
            "&redirect_uri=https%3A%2F%2Fyourapp.com%2Fintegrations%2Fmemoryos%2Fcallback"
            "&state=secure_random_state_token&categories=preference%2Cfact",
        ),
        (  # SPEC §9: with a connector link token; duplicate and blank categories dropped
            {
                "agent_id": "aa535a7e-b0d6-44df-8e17-8438f6098836",
                "state": "s",
                "categories": ["fact", " fact ", ""],
                "link_token": "plink_abc",
            },
            "agent_id=aa535a7e-b0d6-44df-8e17-8438f6098836&state=s&link_token=plink_abc&categories=fact",
        ),
    ],
)
def test_consent_url_for_the_seed_examples(
    kwargs: dict[str, Any], query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert UniversalMemory.consent_url(**kwargs) == f"http://127.0.0.1:8080/consent?{query}"

    monkeypatch.setenv("MEMORYOS_API_URL", "https://api.example.test/")
    assert UniversalMemory.consent_url(**kwargs) == f"https://api.example.test/consent?{query}"

    monkeypatch.setenv("MEMORYOS_CONSENT_BASE_URL", "https://consent.example.test")
    assert UniversalMemory.consent_url(**kwargs) == f"https://consent.example.test/consent?{query}"
    assert AsyncUniversalMemory.consent_url(**kwargs) == f"https://consent.example.test/consent?{query}"

    explicit = UniversalMemory.consent_url(**kwargs, base_url="http://localhost:9000/")
    assert explicit == f"http://localhost:9000/consent?{query}"


def test_consent_url_query_is_the_published_sdks(published_sdk_runner: Any) -> None:
    cases: list[dict[str, Any]] = [
        {"agent_id": "a1", "state": "s t&u"},
        {
            "agent_id": "a1",
            "redirect_uri": "https://x.test/cb?a=1",
            "state": "",
            "categories": ["goal", "fact"],
        },
        {"agent_id": "a1", "redirect_uri": "  ", "link_token": "plink_1", "categories": ["  "]},
    ]
    script = (
        "import json, sys\nfrom memoryos.universal import UniversalMemory\n"
        "print(json.dumps([UniversalMemory.consent_url(**case) for case in json.loads(sys.argv[1])]))"
    )
    published = json.loads(published_sdk_runner(script, json.dumps(cases)).stdout)
    ours = [UniversalMemory.consent_url(**case) for case in cases]
    assert [url.split("/consent?", 1)[1] for url in ours] == [
        url.split("/consent?", 1)[1] for url in published
    ]


def test_api_base_url_is_read_when_a_client_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Memory(API_KEY).base_url == "http://127.0.0.1:8080"

    monkeypatch.setenv("MEMORYOS_API_URL", "https://memory.example.test/")
    first = Memory(API_KEY)
    universal = UniversalMemory(AGENT_KEY, UUI)
    monkeypatch.setenv("MEMORYOS_API_URL", "https://other.example.test")
    second = AsyncMemory(API_KEY)

    assert first.base_url == universal.base_url == "https://memory.example.test"
    assert second.base_url == "https://other.example.test"
    assert Memory(API_KEY, base_url="http://10.0.0.1:8080/").base_url == "http://10.0.0.1:8080"
    # The consent base URL never moves the API.
    monkeypatch.setenv("MEMORYOS_CONSENT_BASE_URL", "https://consent.example.test")
    assert Memory(API_KEY).base_url == "https://other.example.test"


def test_agent_calls_without_a_uui_use_the_environment_and_the_agent_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MEMORYOS_API_URL", "https://memory.example.test")
    exchange = Server(
        httpx.Response(
            200,
            json={
                **ENVELOPE,
                "data": {
                    "uui_token": "uui_pairwise",
                    "grant": {
                        "categories_allowed": ["preference", "goal"],
                        "access_type": "read_write",
                        "expires_at": None,
                    },
                    "unknown_new_field": 1,
                },
            },
        )
    )
    result = UniversalMemory.exchange_code("code_1", agent_api_key=AGENT_KEY, transport=exchange.transport())
    request = exchange.requests[0]
    assert (request.method, str(request.url)) == (
        "POST",
        "https://memory.example.test/v1/universal/consent/exchange",
    )
    assert request.headers["Authorization"] == f"ApiKey {AGENT_KEY}"
    assert "X-MemoryOS-UUI" not in request.headers
    assert exchange.body() == {"code": "code_1"}
    assert result.uui_token == "uui_pairwise"
    assert result.grant.categories_allowed == ["preference", "goal"] and result.grant.can_write

    resolve = Server(
        httpx.Response(
            200, json={**ENVELOPE, "data": {"uui_token": None, "permission_error": "no_grant_for_user"}}
        )
    )
    resolved = UniversalMemory.resolve_user(
        "cust_42", agent_api_key=AGENT_KEY, base_url="http://127.0.0.1:9", transport=resolve.transport()
    )
    assert str(resolve.requests[0].url) == "http://127.0.0.1:9/v1/universal/users/resolve"
    assert resolve.body() == {"external_user_id": "cust_42"}
    assert (resolved.uui_token, resolved.permission_error, resolved.found) == (
        None,
        "no_grant_for_user",
        False,
    )


# --- reading answers ------------------------------------------------------------------------


def test_universal_client_sends_both_credentials_and_reads_its_answers() -> None:
    job_body = {
        "job_id": "job_1",
        "state": "done",
        "status": "completed",
        "memories_created": 2,
        "blocked_reason": None,
        "error": None,
        "result": {"skipped": 1},
        "a_field_from_a_newer_server": True,
    }
    grant_body = {
        "id": "grt_1",
        "categories_allowed": ["fact"],
        "access_type": "read_only",
        "expires_at": "2026-02-01T00:00:00Z",
        "status": "active",
    }
    retrieve_body = {
        "data": [],
        "cached": False,
        "system_prompt_addition": "",
        "context_token_count": 0,
        "permission_error": "grant_revoked",
        "categories_available": [],
        "is_passthrough": False,
        "retrieval_id": None,
    }
    server = Server(
        httpx.Response(200, json=job_body),  # bare body, no envelope
        httpx.Response(200, json={**ENVELOPE, "data": grant_body}),
        httpx.Response(200, json={**ENVELOPE, **retrieve_body}),
    )
    with UniversalMemory(AGENT_KEY, UUI, transport=server.transport()) as memory:
        job = memory.get_job_status("job_1")
        grant = memory.grant()
        retrieved = memory.get("How should I answer?", limit=5, categories=["fact"])

    assert [(r.method, r.url.path) for r in server.requests] == [
        ("GET", "/v1/universal/memories/jobs/job_1"),
        ("GET", "/v1/universal/grant"),
        ("POST", "/v1/universal/memories/retrieve"),
    ]
    assert all(r.headers["Authorization"] == f"ApiKey {AGENT_KEY}" for r in server.requests)
    assert all(r.headers["X-MemoryOS-UUI"] == UUI for r in server.requests)
    assert job.status == "completed" and job.succeeded
    assert (job.state, job.memories_created, job.result) == ("done", 2, {"skipped": 1})
    assert grant is not None
    assert (grant.id, grant.categories_allowed, grant.can_write) == ("grt_1", ["fact"], False)
    assert server.body()["categories"] == ["fact"] and server.body()["limit"] == 5
    assert retrieved.permission_status == "grant_revoked"
    assert not retrieved.has_context and len(retrieved) == 0


def test_async_universal_client_mirrors_the_sync_one() -> None:
    exchanged_body = {"uui_token": "uui_9", "grant": {"categories_allowed": [], "access_type": "read_only"}}
    server = Server(
        httpx.Response(200, json={**ENVELOPE, "data": exchanged_body}),
        httpx.Response(200, json={**ENVELOPE, "data": None}),  # no grant
        error(403, "write_not_permitted", "UAT_002"),
    )

    async def scenario() -> None:
        exchanged = await AsyncUniversalMemory.exchange_code(
            "c", agent_api_key=AGENT_KEY, transport=server.transport()
        )
        assert exchanged.uui_token == "uui_9"
        async with AsyncUniversalMemory(
            AGENT_KEY, exchanged.uui_token, transport=server.transport()
        ) as memory:
            assert await memory.grant() is None
            with pytest.raises(WriteNotPermitted):
                await memory.add(messages=[{"role": "user", "content": "I prefer short answers."}])
        assert memory._client.is_closed

    asyncio.run(scenario())
    assert server.requests[-1].headers["X-MemoryOS-UUI"] == "uui_9"


def test_tenant_add_reads_the_extra_fields_and_keeps_one_idempotency_key_across_retries() -> None:
    added_body = {
        "job_id": "job_7",
        "status": "completed",
        "nothing_to_extract": False,
        "processing_status": "normal",
        "results": [
            {"id": "m1", "event": "ADD", "memory": "Prefers short answers", "category": "preference"}
        ],
    }
    server = Server(
        error(503, "service_unavailable", "SRV_503"),
        httpx.Response(
            200,
            headers={"X-MemoryOS-Quota-Mode": "FULL", "X-MemoryOS-Processing": "normal"},
            json={**ENVELOPE, **added_body},
        ),
    )
    memory = Memory(API_KEY, transport=server.transport())
    memory._sleep = Sleeps()  # type: ignore[method-assign]
    result = memory.add(
        messages=[{"role": "user", "content": " I prefer short answers. "}], external_user_id="u1"
    )

    first, second = server.requests
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert first.headers["Authorization"] == f"ApiKey {API_KEY}"
    assert server.body() == {
        "external_user_id": "u1",
        "messages": [{"role": "user", "content": "I prefer short answers."}],
    }
    assert (result.job_id, result.status, result.was_queued) == ("job_7", "completed", False)
    assert [(item.event, item.category) for item in result.results] == [("ADD", "preference")]


def test_a_services_add_sends_memory_source_and_reads_the_claims_provenance() -> None:
    """Multi-service mode as the published SDK has it: ``Memory.source`` sent as written, and the
    claim's ``resolution``, ``source_event_id`` and ``provenance`` read back."""
    provenance = {
        "service": "support-service",
        "event_id": "evt-2",
        "observed_at": "2026-03-01T12:00:00+00:00",
        "received_at": "2026-03-01T12:00:01+00:00",
        "scope": {},
        "evidence": [],
    }
    record = {
        "id": "m2",
        "content": "Is on the Starter plan",
        "category": "fact",
        "importance_score": 5,
        "confidence": 0.5,
        "is_archived": True,
        "source_event_id": "sev_2",
        "provenance": provenance,
        "metadata": {},
    }
    server = Server(
        httpx.Response(
            200,
            json={
                **ENVELOPE,
                "job_id": "job_8",
                "status": "completed",
                "nothing_to_extract": False,
                "processing_status": "normal",
                "results": [
                    {
                        "id": "m2",
                        "event": "ADD",
                        "memory": "Is on the Starter plan",
                        "category": "fact",
                        "resolution": {
                            "outcome": "lost",
                            "other_memory_id": "m1",
                            "reason": "billing-service (authority 80 for fact) outranks support-service (authority 50 for fact)",
                        },
                    }
                ],
            },
        ),
        httpx.Response(200, json={**ENVELOPE, "data": [record], "pagination": {"next_cursor": None, "limit": 50, "total": 1}}),
    )
    memory = Memory(API_KEY, transport=server.transport())
    source = Memory.source(
        "support-service",
        event_id="evt-2",
        scope={"ticket": "T-1"},
        evidence=[{"source_type": "ticket", "reference": "T-1"}],
    )
    added = memory.add(
        messages=[{"role": "assistant", "content": "Customer is on the Starter plan."}],
        external_user_id="cust",
        source=source,
    )
    sent = server.body(0)["source"]
    assert sent["service"] == "support-service" and sent["event_id"] == "evt-2"
    assert sent["scope"] == {"ticket": "T-1"} and sent["evidence"] == [{"source_type": "ticket", "reference": "T-1"}]
    assert datetime.fromisoformat(sent["observed_at"].replace("Z", "+00:00")) == source.observed_at
    [item] = added.results
    assert item.resolution is not None and item.resolution.outcome == "lost" and item.resolution.other_memory_id == "m1"
    assert item.resolution.review_id is None
    [listed] = memory.list(external_user_id="cust").items
    assert listed.source_event_id == "sev_2" and listed.provenance == provenance and listed.is_archived
    # A generated event id and time when none is given, as the published SDK does.
    generated = Memory.source("billing-service")
    assert generated.event_id.startswith("sdk-") and generated.observed_at.tzinfo is not None


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "name", "code", "expected"),
    [
        (401, "invalid_credentials", "AUTH_001", AuthError),
        (401, "passport_session_required", "UUI_401", AuthError),
        (403, "permission_denied", "AUTH_003", PermissionDeniedError),
        (403, "cross_agent_auth_failed", "UAT_001", CrossAgentAuthError),
        (403, "write_not_permitted", "UAT_002", WriteNotPermitted),
        (401, "write_not_permitted", "UAT_002", AuthError),  # the status decides when they disagree
        (404, "job_not_found", "JOB_404", NotFoundError),
        (409, "clarification_already_answered", "CLR_409", ConflictError),
        (409, "source_event_conflict", "PROV_409", ConflictError),
        (403, "writer_bound_to_another_key", "PROV_403", PermissionDeniedError),
        (404, "service_writer_not_found", "PROV_404", NotFoundError),
        (422, "invalid_provenance", "PROV_422", ValidationError),
        (422, "validation_failed", "REQ_422", ValidationError),
        (400, "end_user_required", "REQ_400", BadRequestError),
        (410, "link_expired", "PLINK_410", MemoryOSError),
    ],
)
def test_error_class_is_chosen_by_status_and_code(
    status: int, name: str, code: str, expected: type[MemoryOSError]
) -> None:
    details = [{"loc": ["body", "query"], "msg": "field required"}]
    server = Server(error(status, name, code, details=details))
    with Memory(API_KEY, transport=server.transport()) as memory, pytest.raises(MemoryOSError) as caught:
        memory.get_job_status("job_1")

    err = caught.value
    assert type(err) is expected
    assert (err.status_code, err.code, err.error, err.request_id, err.details) == (
        status,
        code,
        name,
        "req_err",
        details,
    )
    assert str(err) == name.replace("_", " ")  # the published SDK's message
    assert isinstance(err, AuthError) is (status == 401)  # `except AuthError` still means 401


def test_errors_without_an_envelope_still_carry_what_is_known() -> None:
    server = Server(
        httpx.Response(502, text="<html>bad gateway</html>", headers={"X-Request-ID": "req_proxy"})
    )
    memory = Memory(API_KEY, max_retries=0, transport=server.transport())
    with pytest.raises(ServerError) as caught:
        memory.list(external_user_id="u1")
    assert (caught.value.status_code, caught.value.request_id, caught.value.code) == (502, "req_proxy", None)

    unreadable = Server(httpx.Response(200, json={**ENVELOPE, "data": [{"id": "m1"}]}))  # no pagination
    with pytest.raises(MemoryOSError, match="cannot read"):
        Memory(API_KEY, transport=unreadable.transport()).list(external_user_id="u1")


# --- retries --------------------------------------------------------------------------------


def test_retries_honour_retry_after_then_back_off() -> None:
    server = Server(
        error(429, "rate_limited", "RATE_429", headers={"Retry-After": "2"}),
        error(503, "service_unavailable", "SRV_503"),
        httpx.Response(200, json={**ENVELOPE, "data": {"job_id": "job_1", "status": "queued"}}),
    )
    memory = Memory(API_KEY, transport=server.transport())
    memory._sleep = sleeps = Sleeps()  # type: ignore[method-assign]

    assert memory.get_job_status("job_1").status == "queued"
    assert len(server.requests) == 3
    assert sleeps[0] == 2.0
    assert 1.0 <= sleeps[1] <= 2.0  # second attempt: half to all of 2 s


def test_retries_stop_after_the_published_count_or_a_long_retry_after() -> None:
    assert Memory.MAX_RETRIES == memoryos.UniversalMemory.MAX_RETRIES == 3
    always_busy = Server(error(429, "rate_limited", "RATE_429", headers={"Retry-After": "1"}))
    memory = Memory(API_KEY, transport=always_busy.transport())
    memory._sleep = sleeps = Sleeps()  # type: ignore[method-assign]
    with pytest.raises(RateLimitError) as caught:
        memory.get_job_status("job_1")
    assert len(always_busy.requests) == 1 + Memory.MAX_RETRIES and sleeps == [1.0, 1.0, 1.0]
    assert caught.value.retry_after == 1.0

    come_back_later = Server(error(429, "rate_limited", "RATE_429", headers={"Retry-After": "3600"}))
    memory = Memory(API_KEY, transport=come_back_later.transport())
    memory._sleep = sleeps = Sleeps()  # type: ignore[method-assign]
    with pytest.raises(RateLimitError) as caught:
        memory.get_job_status("job_1")
    assert len(come_back_later.requests) == 1 and sleeps == []
    assert caught.value.retry_after == 3600.0

    not_retried = Server(error(404, "job_not_found", "JOB_404"))
    with pytest.raises(NotFoundError):
        Memory(API_KEY, transport=not_retried.transport()).get_job_status("job_1")
    assert len(not_retried.requests) == 1


def test_connection_failures_are_sdk_errors() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    server = Server(refuse)
    memory = Memory(API_KEY, max_retries=1, transport=server.transport())
    memory._sleep = Sleeps()  # type: ignore[method-assign]
    with pytest.raises(memoryos.APIConnectionError):
        memory.get_job_status("job_1")
    assert len(server.requests) == 2  # a refused connection never reached the server: retried
