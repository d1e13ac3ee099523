"""Memory Passport for agents: ``UniversalMemory`` (blocking) and ``AsyncUniversalMemory``.

An agent authenticates with its key (``agent_sk_…``) and names the passport user with a
UUI token (``uui_…``); it sees only the categories that user granted it. How the agent's
backend obtains the UUI:

- :meth:`UniversalMemory.consent_url` sends the user to the consent page; the redirect
  back carries a one-time ``code``, which :meth:`UniversalMemory.exchange_code` turns into
  the UUI and the grant.
- :meth:`UniversalMemory.resolve_user` finds the UUI of a user who connected their account
  at the agent's company and granted this agent access.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from ._client import (
    APICall,
    AsyncAPIClient,
    SyncAPIClient,
    circuit_status_from_response,
    parse_model,
    processing_status_from_response,
    quota_mode_from_response,
)
from ._config import DEFAULT_API_URL, DEFAULT_TIMEOUT, consent_base_url

# Names the published SDK's ``memoryos.universal`` exposed, still importable from here.
from ._exceptions import MemoryOSError, map_sdk_error  # noqa: F401
from ._models import (  # noqa: F401
    AddEnvelope,
    AddResult,
    CircuitStatus,
    ConsentExchangeEnvelope,
    ConsentExchangeResult,
    ConversationMessage,
    Grant,
    GrantEnvelope,
    QuotaMode,
    ResolveUserEnvelope,
    ResolveUserResult,
    RetrieveResult,
    UniversalJobStatus,
    UniversalRetrieveEnvelope,
    UniversalRetrieveResult,
)
from ._models import MemoryResult as SDKMemoryResult  # noqa: F401


def _agent_headers(agent_api_key: str) -> dict[str, str]:
    if not agent_api_key.strip():
        raise ValueError("agent_api_key must not be empty.")
    return {"Authorization": f"ApiKey {agent_api_key}"}


def _passport_headers(agent_api_key: str, uui_token: str) -> dict[str, str]:
    headers = _agent_headers(agent_api_key)
    if not uui_token.strip():
        raise ValueError("uui_token must not be empty.")
    return {**headers, "X-MemoryOS-UUI": uui_token}


class _UniversalCalls:
    """Builds every agent request and parses every answer; no I/O."""

    DEFAULT_CONSENT_BASE_URL = DEFAULT_API_URL

    @staticmethod
    def consent_url(
        agent_id: str,
        redirect_uri: str | None = None,
        state: str | None = None,
        categories: list[str] | None = None,
        link_token: str | None = None,
        *,
        base_url: str | None = None,
    ) -> str:
        """The consent page URL to send a user to.

        ``base_url`` defaults to ``MEMORYOS_CONSENT_BASE_URL``, else ``MEMORYOS_API_URL``,
        else ``http://127.0.0.1:8080``, read when this is called.
        """
        if not str(agent_id or "").strip():
            raise ValueError("agent_id must not be empty.")
        query = {"agent_id": agent_id}
        if redirect_uri is not None and str(redirect_uri).strip():
            query["redirect_uri"] = redirect_uri
        if state is not None:
            query["state"] = state
        if link_token is not None and str(link_token).strip():
            query["link_token"] = link_token
        if categories:
            cleaned = dict.fromkeys(str(c).strip() for c in categories if str(c).strip())
            if cleaned:
                query["categories"] = ",".join(cleaned)
        return f"{consent_base_url(base_url)}/consent?{urlencode(query)}"

    @staticmethod
    def _add_call(
        messages: list[dict[str, str]] | list[ConversationMessage],
        metadata: dict[str, Any] | None,
        idempotency_key: str | None,
    ) -> APICall[AddResult]:
        validated = [
            item if isinstance(item, ConversationMessage) else ConversationMessage.model_validate(item)
            for item in messages
        ]
        return APICall(
            "POST",
            "/v1/universal/memories/add",
            _parse_add,
            json={
                "messages": [item.model_dump(mode="json", exclude_defaults=True) for item in validated],
                "metadata": metadata or {},
                # One key per logical call, reused by retries, so a retried write is applied once.
                "idempotency_key": idempotency_key or f"sdk-{uuid.uuid4()}",
            },
        )

    @staticmethod
    def _get_call(
        query: str,
        limit: int,
        format: str,
        context_max_tokens: int,
        categories: list[str] | None,
        min_relevance: float | None = None,
    ) -> APICall[UniversalRetrieveResult]:
        body: dict[str, Any] = {
            "query": query,
            "limit": limit,
            "format": format,
            "context_max_tokens": context_max_tokens,
        }
        if categories is not None:
            body["categories"] = categories
        if min_relevance is not None:
            body["min_relevance"] = min_relevance
        return APICall("POST", "/v1/universal/memories/retrieve", _parse_get, json=body)

    @staticmethod
    def _job_status_call(job_id: str) -> APICall[UniversalJobStatus]:
        if not str(job_id or "").strip():
            raise ValueError("job_id must not be empty")
        return APICall(
            "GET",
            f"/v1/universal/memories/jobs/{quote(job_id, safe='')}",
            lambda response: parse_model(UniversalJobStatus, response),
        )

    @staticmethod
    def _grant_call() -> APICall[Grant | None]:
        return APICall(
            "GET", "/v1/universal/grant", lambda response: parse_model(GrantEnvelope, response).data
        )

    @staticmethod
    def _exchange_code_call(code: str) -> APICall[ConsentExchangeResult]:
        if not str(code or "").strip():
            raise ValueError("code must not be empty.")
        return APICall(
            "POST",
            "/v1/universal/consent/exchange",
            lambda response: parse_model(ConsentExchangeEnvelope, response).data,
            json={"code": code},
        )

    @staticmethod
    def _resolve_user_call(external_user_id: str) -> APICall[ResolveUserResult]:
        if not str(external_user_id or "").strip():
            raise ValueError("external_user_id must not be empty.")
        return APICall(
            "POST",
            "/v1/universal/users/resolve",
            lambda response: parse_model(ResolveUserEnvelope, response).data,
            json={"external_user_id": external_user_id},
        )


def _parse_add(response: httpx.Response) -> AddResult:
    parsed = parse_model(AddEnvelope, response)
    return AddResult(
        job_id=parsed.job_id,
        status=parsed.status,
        blocked_reason=parsed.blocked_reason,
        retry_after_seconds=parsed.retry_after_seconds,
        budget_remaining_pct=parsed.budget_remaining_pct,
        quota_mode=quota_mode_from_response(response),
        processing_eta_seconds=parsed.processing_eta_seconds,
        processing_status=processing_status_from_response(response, parsed.processing_status),
        circuit_status=circuit_status_from_response(response),
        nothing_to_extract=parsed.nothing_to_extract,
        proposal_ids=parsed.proposal_ids,
        results=parsed.results,
        skipped=parsed.skipped,
    )


def _parse_get(response: httpx.Response) -> UniversalRetrieveResult:
    parsed = parse_model(UniversalRetrieveEnvelope, response)
    quota_mode = quota_mode_from_response(response)
    return UniversalRetrieveResult(
        retrieval_id=parsed.retrieval_id,
        items=parsed.data,
        cached=parsed.cached,
        system_prompt_addition=parsed.system_prompt_addition,
        context_token_count=parsed.context_token_count,
        quota_mode=quota_mode,
        is_passthrough=parsed.is_passthrough or quota_mode == "PASSTHROUGH",
        is_degraded=quota_mode == "DEGRADED_RETRIEVE",
        circuit_status=circuit_status_from_response(response),
        permission_status=parsed.permission_error,
        categories_available=parsed.categories_available,
    )


class UniversalMemory(_UniversalCalls, SyncAPIClient):
    """One agent's access to one passport user's memory.

    ``base_url`` defaults to ``MEMORYOS_API_URL``, read now, else ``http://127.0.0.1:8080``.
    """

    def __init__(
        self,
        agent_api_key: str,
        uui_token: str,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        *,
        max_retries: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = _passport_headers(agent_api_key, uui_token)
        self.agent_api_key = agent_api_key
        self.uui_token = uui_token
        super().__init__(
            headers=headers, base_url=base_url, timeout=timeout, max_retries=max_retries, transport=transport
        )

    def add(
        self,
        messages: list[dict[str, str]] | list[ConversationMessage],
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> AddResult:
        """Add memories from messages; needs a ``read_write`` grant, else :class:`WriteNotPermitted`.

        Memories in categories outside the grant are dropped and counted in ``skipped``.
        """
        return self._execute(self._add_call(messages, metadata, idempotency_key))

    def get(
        self,
        query: str,
        limit: int = 10,
        format: str = "bullets",
        context_max_tokens: int = 500,
        categories: list[str] | None = None,
        min_relevance: float | None = None,
    ) -> UniversalRetrieveResult:
        """Retrieve from the granted categories. Without an active grant the result is empty and
        ``permission_status`` says why (``no_grant_for_user``, ``grant_revoked``, ``grant_expired``).
        ``min_relevance`` as in :meth:`Memory.get`."""
        return self._execute(self._get_call(query, limit, format, context_max_tokens, categories, min_relevance))

    def get_job_status(self, job_id: str) -> UniversalJobStatus:
        return self._execute(self._job_status_call(job_id))

    def grant(self) -> Grant | None:
        """This agent's own grant for this user."""
        return self._execute(self._grant_call())

    @classmethod
    def exchange_code(
        cls,
        code: str,
        *,
        agent_api_key: str,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> ConsentExchangeResult:
        """Exchange the one-time ``code`` from the consent redirect for the user's UUI."""
        call = cls._exchange_code_call(code)
        with SyncAPIClient(
            headers=_agent_headers(agent_api_key), base_url=base_url, timeout=timeout, transport=transport
        ) as client:
            return client._execute(call)

    @classmethod
    def resolve_user(
        cls,
        external_user_id: str,
        *,
        agent_api_key: str,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> ResolveUserResult:
        """The UUI of the passport user who connected ``external_user_id`` (an account at the
        agent's company) and granted this agent access; ``uui_token`` is ``None`` otherwise."""
        call = cls._resolve_user_call(external_user_id)
        with SyncAPIClient(
            headers=_agent_headers(agent_api_key), base_url=base_url, timeout=timeout, transport=transport
        ) as client:
            return client._execute(call)


class AsyncUniversalMemory(_UniversalCalls, AsyncAPIClient):
    """:class:`UniversalMemory` for asyncio code: the same methods, awaited."""

    def __init__(
        self,
        agent_api_key: str,
        uui_token: str,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        *,
        max_retries: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = _passport_headers(agent_api_key, uui_token)
        self.agent_api_key = agent_api_key
        self.uui_token = uui_token
        super().__init__(
            headers=headers, base_url=base_url, timeout=timeout, max_retries=max_retries, transport=transport
        )

    async def add(
        self,
        messages: list[dict[str, str]] | list[ConversationMessage],
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> AddResult:
        """Add memories from messages; see :meth:`UniversalMemory.add`."""
        return await self._execute(self._add_call(messages, metadata, idempotency_key))

    async def get(
        self,
        query: str,
        limit: int = 10,
        format: str = "bullets",
        context_max_tokens: int = 500,
        categories: list[str] | None = None,
        min_relevance: float | None = None,
    ) -> UniversalRetrieveResult:
        """Retrieve from the granted categories; see :meth:`UniversalMemory.get`."""
        return await self._execute(
            self._get_call(query, limit, format, context_max_tokens, categories, min_relevance)
        )

    async def get_job_status(self, job_id: str) -> UniversalJobStatus:
        return await self._execute(self._job_status_call(job_id))

    async def grant(self) -> Grant | None:
        """This agent's own grant for this user."""
        return await self._execute(self._grant_call())

    @classmethod
    async def exchange_code(
        cls,
        code: str,
        *,
        agent_api_key: str,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> ConsentExchangeResult:
        """Exchange the one-time ``code`` from the consent redirect for the user's UUI."""
        call = cls._exchange_code_call(code)
        async with AsyncAPIClient(
            headers=_agent_headers(agent_api_key), base_url=base_url, timeout=timeout, transport=transport
        ) as client:
            return await client._execute(call)

    @classmethod
    async def resolve_user(
        cls,
        external_user_id: str,
        *,
        agent_api_key: str,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> ResolveUserResult:
        """The passport user's UUI behind ``external_user_id``; see :meth:`UniversalMemory.resolve_user`."""
        call = cls._resolve_user_call(external_user_id)
        async with AsyncAPIClient(
            headers=_agent_headers(agent_api_key), base_url=base_url, timeout=timeout, transport=transport
        ) as client:
            return await client._execute(call)
