"""The tenant client: ``Memory`` (blocking) and ``AsyncMemory``.

Both take their requests and parsers from :class:`_MemoryCalls`; each public method is
one line that hands the call to the sync or async sender. Signatures follow the published
SDK (``memoryo-sdk`` 0.1.1) exactly; anything added comes after, with a default.
"""

from __future__ import annotations

import time
import uuid
import warnings
from datetime import datetime
from typing import Any
from urllib.parse import quote

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
from ._config import DEFAULT_TIMEOUT
from ._models import (
    AddEnvelope,
    AddRequest,
    AddResult,
    ConversationMessage,
    DeleteEnvelope,
    EdTechMemoryProfile,
    EdTechProfileEnvelope,
    ExportEnvelope,
    MemoryClarificationAnswerEnvelope,
    MemoryClarificationAnswerResult,
    MemoryExport,
    MemoryJobStatus,
    MemoryJobStatusEnvelope,
    MemoryListEnvelope,
    MemoryPage,
    MemorySource,
    MemorySourceReviewAnswerEnvelope,
    MemorySourceReviewAnswerResult,
    RetrievalFeedbackEnvelope,
    RetrievalFeedbackRequest,
    RetrievalFeedbackResult,
    RetrieveEnvelope,
    RetrieveResult,
)

# ``failed`` is not terminal: the server keeps a job there while an automatic retry waits.
TERMINAL_JOB_STATUSES = frozenset({"completed", "dead", "dead_letter", "dead_lettered", "cancelled"})


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def _check_wait_arguments(timeout: float, poll_interval: float) -> None:
    if timeout <= 0:
        raise ValueError("timeout must be greater than zero")
    if poll_interval <= 0:
        raise ValueError("poll_interval must be greater than zero")


def _job_timeout(job_id: str, timeout: float) -> TimeoutError:
    return TimeoutError(f"MemoryOS job {job_id} did not finish within {timeout:g} seconds")


class _MemoryCalls:
    """Builds every tenant request and parses every answer; no I/O."""

    api_key: str

    @staticmethod
    def _auth_headers(api_key: str) -> dict[str, str]:
        if not api_key.strip():
            raise ValueError("api_key must not be empty.")
        return {"Authorization": f"ApiKey {api_key}"}

    @staticmethod
    def _resolve_external_user_id(external_user_id: str | None, kwargs: dict[str, Any]) -> str:
        deprecated_user_id = kwargs.pop("user_id", None)
        if deprecated_user_id is not None:
            # stacklevel: warn → this → the call builder → list()/export() → the caller.
            warnings.warn("user_id is deprecated, use external_user_id", DeprecationWarning, stacklevel=4)
            if external_user_id is None:
                external_user_id = str(deprecated_user_id)
        if kwargs:
            raise TypeError(f"Unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        if external_user_id is None:
            raise TypeError("external_user_id is required")
        return external_user_id

    @staticmethod
    def source(
        service: str,
        *,
        event_id: str | None = None,
        observed_at: Any | None = None,
        scope: dict[str, Any] | None = None,
        evidence: list[Any] | None = None,
    ) -> MemorySource:
        """Source metadata for writes from several backend services (Billing, Support, CRM…).

        Most apps never need it: ``add()`` without ``source`` is fine.
        """
        return MemorySource.for_service(
            service, event_id=event_id, observed_at=observed_at, scope=scope, evidence=evidence
        )

    # --- add / retrieve --------------------------------------------------------------

    def _add_call(
        self,
        messages: list[ConversationMessage | dict[str, Any]],
        external_user_id: str,
        agent_id: str | None,
        metadata: dict[str, Any] | None,
        idempotency_key: str | None,
        source: MemorySource | dict[str, Any] | None,
        conversation_id: str | None,
    ) -> APICall[AddResult]:
        payload = AddRequest(
            external_user_id=external_user_id,
            agent_id=agent_id,
            messages=[
                item if isinstance(item, ConversationMessage) else ConversationMessage.model_validate(item)
                for item in messages
            ],
            metadata=metadata or {},
            conversation_id=conversation_id,
            source=(
                source
                if isinstance(source, MemorySource) or source is None
                else MemorySource.model_validate(source)
            ),
        )
        # A key per logical call, reused by every retry, so a retried write is applied once.
        key = idempotency_key or f"sdk-{uuid.uuid4()}"
        return APICall(
            "POST",
            "/v1/memories/add",
            self._parse_add,
            json=payload.model_dump(mode="json", exclude_none=True, exclude_defaults=True),
            headers={"Idempotency-Key": key},
        )

    @staticmethod
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

    def _get_call(
        self,
        query: str,
        external_user_id: str,
        limit: int,
        categories: list[str] | None,
        agent_id: str | None,
        time_filter_days: int | None,
        format: str,
        context_max_tokens: int,
        as_of: datetime | None,
        min_relevance: float | None = None,
    ) -> APICall[RetrieveResult]:
        body: dict[str, Any] = {
            "query": query,
            "external_user_id": external_user_id,
            "limit": limit,
            "categories": categories or [],
            "format": format,
            "context_max_tokens": context_max_tokens,
        }
        if agent_id is not None:
            body["agent_id"] = agent_id
        if time_filter_days is not None:
            body["time_filter_days"] = time_filter_days
        if as_of is not None:
            if as_of.tzinfo is None:
                raise ValueError("as_of must include a timezone")
            body["as_of"] = as_of.isoformat()
        if min_relevance is not None:
            body["min_relevance"] = min_relevance
        return APICall("POST", "/v1/memories/retrieve", self._parse_get, json=body)

    @staticmethod
    def _parse_get(response: httpx.Response) -> RetrieveResult:
        parsed = parse_model(RetrieveEnvelope, response)
        quota_mode = parsed.quota_mode or quota_mode_from_response(response)
        return RetrieveResult(
            retrieval_id=parsed.retrieval_id,
            items=parsed.data,
            cached=parsed.cached,
            system_prompt_addition=parsed.system_prompt_addition,
            context_token_count=parsed.context_token_count,
            memories_from_hot_tier=parsed.memories_from_hot_tier,
            quota_mode=quota_mode,
            is_passthrough=quota_mode == "PASSTHROUGH",
            is_degraded=quota_mode == "DEGRADED_RETRIEVE",
            circuit_status=circuit_status_from_response(response),
            clarification_question=parsed.clarification_question,
            clarification=parsed.clarification,
            source_reviews=parsed.source_reviews,
        )

    # --- jobs ------------------------------------------------------------------------

    @staticmethod
    def _job_status_call(job_id: str) -> APICall[MemoryJobStatus]:
        if not str(job_id or "").strip():
            raise ValueError("job_id must not be empty")
        return APICall(
            "GET",
            f"/v1/memories/jobs/{_segment(job_id)}",
            lambda response: parse_model(MemoryJobStatusEnvelope, response).data,
        )

    # --- feedback and answers ----------------------------------------------------------

    @staticmethod
    def _feedback_call(
        retrieval_id: str,
        outcome: str,
        used_memory_ids: list[str] | None,
        correction: str | None,
        agent_confidence: float | None,
        metadata: dict[str, Any] | None,
    ) -> APICall[RetrievalFeedbackResult]:
        payload = RetrievalFeedbackRequest(
            retrieval_id=retrieval_id,
            outcome=outcome,  # type: ignore[arg-type]  # validated by the model
            used_memory_ids=used_memory_ids or [],
            correction=correction,
            agent_confidence=agent_confidence,
            metadata=metadata or {},
        )
        return APICall(
            "POST",
            "/v1/memories/retrieval-feedback",
            lambda response: parse_model(RetrievalFeedbackEnvelope, response).data,
            json=payload.model_dump(mode="json", exclude_none=True),
        )

    @staticmethod
    def _source_review_call(
        review_id: str, external_user_id: str, version: str, action: str
    ) -> APICall[MemorySourceReviewAnswerResult]:
        if action not in {"keep_current", "restate", "dismiss"}:
            raise ValueError("action must be one of: keep_current, restate, dismiss")
        return APICall(
            "POST",
            f"/v1/memories/source-reviews/{_segment(review_id)}/answer",
            lambda response: parse_model(MemorySourceReviewAnswerEnvelope, response).data,
            json={"external_user_id": external_user_id, "version": version, "action": action},
        )

    @staticmethod
    def _clarification_call(
        clarification_id: str, external_user_id: str, answer: str, free_text: str | None
    ) -> APICall[MemoryClarificationAnswerResult]:
        if answer not in {"A", "B", "both", "neither"}:
            raise ValueError("answer must be one of: A, B, both, neither")
        return APICall(
            "POST",
            f"/v1/memories/clarifications/{_segment(clarification_id)}/answer",
            lambda response: parse_model(MemoryClarificationAnswerEnvelope, response).data,
            json={"external_user_id": external_user_id, "answer": answer, "free_text": free_text},
        )

    # --- list, delete, export ------------------------------------------------------------

    @staticmethod
    def _delete_call(
        memory_id: str, external_user_id: str | None, hard_delete: bool, kwargs: dict[str, Any]
    ) -> APICall[bool]:
        # Deletion is scoped by the tenant key; an end-user, when named, narrows it further.
        end_user = external_user_id if external_user_id is not None else kwargs.pop("user_id", None)
        if kwargs:
            raise TypeError(f"Unexpected keyword arguments: {', '.join(sorted(kwargs))}")
        params: dict[str, Any] = {"hard_delete": str(hard_delete).lower()}
        if end_user is not None:
            params["external_user_id"] = str(end_user)
        return APICall(
            "DELETE",
            f"/v1/memories/{_segment(memory_id)}",
            lambda response: parse_model(DeleteEnvelope, response).data.deleted,
            params=params,
        )

    def _list_call(
        self, external_user_id: str | None, page_cursor: str | None, limit: int, kwargs: dict[str, Any]
    ) -> APICall[MemoryPage]:
        params: dict[str, Any] = {
            "external_user_id": self._resolve_external_user_id(external_user_id, kwargs),
            "limit": limit,
        }
        if page_cursor:
            params["cursor"] = page_cursor
        return APICall("GET", "/v1/memories", self._parse_list, params=params)

    @staticmethod
    def _parse_list(response: httpx.Response) -> MemoryPage:
        parsed = parse_model(MemoryListEnvelope, response)
        return MemoryPage(
            items=parsed.data,
            next_cursor=parsed.pagination.next_cursor,
            limit=parsed.pagination.limit,
            total=parsed.pagination.total,
        )

    def _export_call(self, external_user_id: str | None, kwargs: dict[str, Any]) -> APICall[MemoryExport]:
        end_user = self._resolve_external_user_id(external_user_id, kwargs)
        return APICall(
            "GET",
            f"/v1/users/{_segment(end_user)}/export",
            lambda response: parse_model(ExportEnvelope, response).data,
        )

    @staticmethod
    def _edtech_profile_call(external_user_id: str) -> APICall[EdTechMemoryProfile | None]:
        return APICall(
            "GET",
            "/v1/memories/edtech-profile",
            lambda response: parse_model(EdTechProfileEnvelope, response).data,
            params={"external_user_id": external_user_id},
        )


class Memory(_MemoryCalls, SyncAPIClient):
    """Tenant-scoped memory, authenticated with a tenant API key (``mem_…``).

    ``base_url`` defaults to ``MEMORYOS_API_URL``, read now, else ``http://127.0.0.1:8080``.
    """

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        *,
        max_retries: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = self._auth_headers(api_key)
        self.api_key = api_key
        super().__init__(
            headers=headers, base_url=base_url, timeout=timeout, max_retries=max_retries, transport=transport
        )

    def add(
        self,
        messages: list[ConversationMessage | dict[str, Any]],
        external_user_id: str,
        agent_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        source: MemorySource | dict[str, Any] | None = None,
        conversation_id: str | None = None,
    ) -> AddResult:
        return self._execute(
            self._add_call(
                messages, external_user_id, agent_id, metadata, idempotency_key, source, conversation_id
            )
        )

    def get(
        self,
        query: str,
        external_user_id: str,
        limit: int = 10,
        categories: list[str] | None = None,
        agent_id: str | None = None,
        time_filter_days: int | None = None,
        format: str = "bullets",
        context_max_tokens: int = 500,
        as_of: datetime | None = None,
        min_relevance: float | None = None,
    ) -> RetrieveResult:
        """Search the end-user's memories. ``min_relevance`` (0–1): when even the best match's
        ``relevance_score`` is below it, nothing comes back; ``None`` uses the server's default,
        ``0`` turns the floor off."""
        return self._execute(
            self._get_call(
                query,
                external_user_id,
                limit,
                categories,
                agent_id,
                time_filter_days,
                format,
                context_max_tokens,
                as_of,
                min_relevance,
            )
        )

    def get_job_status(self, job_id: str) -> MemoryJobStatus:
        """The current state of an extraction job."""
        return self._execute(self._job_status_call(job_id))

    def wait_for_job(
        self, job_id: str, *, timeout: float = 120.0, poll_interval: float = 1.0
    ) -> MemoryJobStatus:
        """Poll until the job is terminal (``completed``, ``dead``, …); ``TimeoutError`` if it is not
        by ``timeout`` seconds. ``failed`` is not terminal: the server is about to retry it."""
        _check_wait_arguments(timeout, poll_interval)
        deadline = time.monotonic() + timeout
        while True:
            job = self.get_job_status(job_id)
            if job.status in TERMINAL_JOB_STATUSES:
                return job
            if time.monotonic() >= deadline:
                raise _job_timeout(job_id, timeout)
            self._sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))

    def feedback(
        self,
        retrieval_id: str,
        outcome: str,
        used_memory_ids: list[str] | None = None,
        correction: str | None = None,
        agent_confidence: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> RetrievalFeedbackResult:
        return self._execute(
            self._feedback_call(
                retrieval_id, outcome, used_memory_ids, correction, agent_confidence, metadata
            )
        )

    def answer_source_review(
        self, review_id: str, *, external_user_id: str, version: str, action: str
    ) -> MemorySourceReviewAnswerResult:
        """Send the user's answer to a source review. ``restate`` needs a normal ``add()`` after."""
        return self._execute(self._source_review_call(review_id, external_user_id, version, action))

    def answer_clarification(
        self, clarification_id: str, *, external_user_id: str, answer: str, free_text: str | None = None
    ) -> MemoryClarificationAnswerResult:
        """Resolve a clarification (``A``, ``B``, ``both``, ``neither``) the user answered in chat."""
        return self._execute(self._clarification_call(clarification_id, external_user_id, answer, free_text))

    def delete(
        self, memory_id: str, external_user_id: str | None = None, hard_delete: bool = False, **kwargs: Any
    ) -> bool:
        return self._execute(self._delete_call(memory_id, external_user_id, hard_delete, kwargs))

    def list(
        self,
        external_user_id: str | None = None,
        page_cursor: str | None = None,
        limit: int = 50,
        **kwargs: Any,
    ) -> MemoryPage:
        return self._execute(self._list_call(external_user_id, page_cursor, limit, kwargs))

    def export(self, external_user_id: str | None = None, **kwargs: Any) -> MemoryExport:
        return self._execute(self._export_call(external_user_id, kwargs))

    def get_edtech_profile(self, external_user_id: str) -> EdTechMemoryProfile | None:
        """The structured EdTech profile of a user, when the tenant has it enabled."""
        return self._execute(self._edtech_profile_call(external_user_id))


class AsyncMemory(_MemoryCalls, AsyncAPIClient):
    """:class:`Memory` for asyncio code: the same methods, awaited."""

    def __init__(
        self,
        api_key: str,
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        *,
        max_retries: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = self._auth_headers(api_key)
        self.api_key = api_key
        super().__init__(
            headers=headers, base_url=base_url, timeout=timeout, max_retries=max_retries, transport=transport
        )

    async def add(
        self,
        messages: list[ConversationMessage | dict[str, Any]],
        external_user_id: str,
        agent_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        source: MemorySource | dict[str, Any] | None = None,
        conversation_id: str | None = None,
    ) -> AddResult:
        return await self._execute(
            self._add_call(
                messages, external_user_id, agent_id, metadata, idempotency_key, source, conversation_id
            )
        )

    async def get(
        self,
        query: str,
        external_user_id: str,
        limit: int = 10,
        categories: list[str] | None = None,
        agent_id: str | None = None,
        time_filter_days: int | None = None,
        format: str = "bullets",
        context_max_tokens: int = 500,
        as_of: datetime | None = None,
        min_relevance: float | None = None,
    ) -> RetrieveResult:
        """Search the end-user's memories. ``min_relevance`` (0–1): when even the best match's
        ``relevance_score`` is below it, nothing comes back; ``None`` uses the server's default,
        ``0`` turns the floor off."""
        return await self._execute(
            self._get_call(
                query,
                external_user_id,
                limit,
                categories,
                agent_id,
                time_filter_days,
                format,
                context_max_tokens,
                as_of,
                min_relevance,
            )
        )

    async def get_job_status(self, job_id: str) -> MemoryJobStatus:
        """The current state of an extraction job."""
        return await self._execute(self._job_status_call(job_id))

    async def wait_for_job(
        self, job_id: str, *, timeout: float = 120.0, poll_interval: float = 1.0
    ) -> MemoryJobStatus:
        """Poll until the job is terminal; see :meth:`Memory.wait_for_job`."""
        _check_wait_arguments(timeout, poll_interval)
        deadline = time.monotonic() + timeout
        while True:
            job = await self.get_job_status(job_id)
            if job.status in TERMINAL_JOB_STATUSES:
                return job
            if time.monotonic() >= deadline:
                raise _job_timeout(job_id, timeout)
            await self._sleep(min(poll_interval, max(0.0, deadline - time.monotonic())))

    async def feedback(
        self,
        retrieval_id: str,
        outcome: str,
        used_memory_ids: list[str] | None = None,
        correction: str | None = None,
        agent_confidence: float | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> RetrievalFeedbackResult:
        return await self._execute(
            self._feedback_call(
                retrieval_id, outcome, used_memory_ids, correction, agent_confidence, metadata
            )
        )

    async def answer_source_review(
        self, review_id: str, *, external_user_id: str, version: str, action: str
    ) -> MemorySourceReviewAnswerResult:
        """Send the user's answer to a source review. ``restate`` needs a normal ``add()`` after."""
        return await self._execute(self._source_review_call(review_id, external_user_id, version, action))

    async def answer_clarification(
        self, clarification_id: str, *, external_user_id: str, answer: str, free_text: str | None = None
    ) -> MemoryClarificationAnswerResult:
        """Resolve a clarification (``A``, ``B``, ``both``, ``neither``) the user answered in chat."""
        return await self._execute(
            self._clarification_call(clarification_id, external_user_id, answer, free_text)
        )

    async def delete(
        self, memory_id: str, external_user_id: str | None = None, hard_delete: bool = False, **kwargs: Any
    ) -> bool:
        return await self._execute(self._delete_call(memory_id, external_user_id, hard_delete, kwargs))

    async def list(
        self,
        external_user_id: str | None = None,
        page_cursor: str | None = None,
        limit: int = 50,
        **kwargs: Any,
    ) -> MemoryPage:
        return await self._execute(self._list_call(external_user_id, page_cursor, limit, kwargs))

    async def export(self, external_user_id: str | None = None, **kwargs: Any) -> MemoryExport:
        return await self._execute(self._export_call(external_user_id, kwargs))

    async def get_edtech_profile(self, external_user_id: str) -> EdTechMemoryProfile | None:
        """The structured EdTech profile of a user, when the tenant has it enabled."""
        return await self._execute(self._edtech_profile_call(external_user_id))
