"""The base shared by every client: configuration, retries, error mapping, parsing.

Each API operation is described once, as an :class:`APICall` (method, path, body, and
how to parse the answer). :class:`SyncAPIClient` and :class:`AsyncAPIClient` differ only
in how they send it and how they sleep between attempts.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

import httpx
import pydantic

from ._config import DEFAULT_API_URL, DEFAULT_TIMEOUT, MAX_RETRIES, api_base_url
from ._exceptions import APIConnectionError, APITimeoutError, MemoryOSError, map_sdk_error
from ._models import CircuitStatus, ProcessingStatus, QuotaMode
from ._version import __version__

T = TypeVar("T")
ModelT = TypeVar("ModelT", bound=pydantic.BaseModel)

USER_AGENT = f"memoryos-python/{__version__}"

_QUOTA_MODES = frozenset({"FULL", "PASSTHROUGH", "DEGRADED_RETRIEVE", "BLOCKED"})
_CIRCUIT_STATUSES = frozenset({"HEALTHY", "DEGRADED", "CRITICAL"})
_PROCESSING_STATUSES = frozenset({"normal", "delayed"})


@dataclass(frozen=True)
class APICall(Generic[T]):
    """One request to the API and how to turn its successful answer into a result."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


def parse_json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError as exc:
        raise MemoryOSError(
            "MemoryOS returned a non-JSON response.", status_code=response.status_code
        ) from exc
    if not isinstance(payload, dict):
        raise MemoryOSError(
            "MemoryOS returned an unexpected response payload.", status_code=response.status_code
        )
    return payload


def parse_model(model: type[ModelT], response: httpx.Response) -> ModelT:
    """Validate a JSON answer, reporting a malformed one as a :class:`MemoryOSError`."""
    payload = parse_json_object(response)
    try:
        return model.model_validate(payload)
    except pydantic.ValidationError as exc:
        raise MemoryOSError(
            f"MemoryOS returned a response this SDK cannot read ({model.__name__}): {exc}",
            status_code=response.status_code,
            request_id=_request_id(payload, response),
            response=response,
        ) from exc


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _request_id(payload: Mapping[str, Any] | None, response: httpx.Response) -> str | None:
    value = payload.get("request_id") if payload else None
    value = value or response.headers.get("X-Request-ID")
    return str(value) if value else None


def error_from_response(response: httpx.Response) -> MemoryOSError:
    """The typed error for a failed response, from the envelope
    ``{"error": "<snake_case>", "code": "<CODE>", "request_id": ..., "details": ...}``."""
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    try:
        payload = parse_json_object(response)
    except MemoryOSError:
        return map_sdk_error(
            status_code=response.status_code,
            message=f"MemoryOS request failed with status {response.status_code}.",
            request_id=_request_id(None, response),
            retry_after=retry_after,
            response=response,
        )
    error = payload.get("error")
    if error is None and isinstance(payload.get("detail"), str):
        error = payload["detail"]  # a framework-level answer, not a MemoryOS envelope
    error_name = str(error) if error is not None else "request_failed"
    code = payload.get("code")
    return map_sdk_error(
        status_code=response.status_code,
        message=error_name.replace("_", " "),
        code=str(code) if code else None,
        request_id=_request_id(payload, response),
        details=payload.get("details"),
        error=error_name,
        retry_after=retry_after,
        response=response,
    )


def quota_mode_from_response(response: httpx.Response) -> QuotaMode:
    raw_mode = response.headers.get("X-MemoryOS-Quota-Mode", "FULL").upper()
    return raw_mode if raw_mode in _QUOTA_MODES else "FULL"


def circuit_status_from_response(response: httpx.Response) -> CircuitStatus:
    raw_status = response.headers.get("X-MemoryOS-Circuit-Status", "HEALTHY").upper()
    return raw_status if raw_status in _CIRCUIT_STATUSES else "HEALTHY"


def processing_status_from_response(response: httpx.Response, fallback: str = "normal") -> ProcessingStatus:
    raw_status = response.headers.get("X-MemoryOS-Processing", fallback).lower()
    return raw_status if raw_status in _PROCESSING_STATUSES else "normal"


class BaseAPIClient:
    """Configuration and the retry policy, with no I/O."""

    DEFAULT_BASE_URL: ClassVar[str] = DEFAULT_API_URL
    DEFAULT_TIMEOUT: ClassVar[float] = DEFAULT_TIMEOUT
    MAX_RETRIES: ClassVar[int] = MAX_RETRIES
    RETRY_STATUS_CODES: ClassVar[frozenset[int]] = frozenset({429, 500, 502, 503, 504})
    #: A ``Retry-After`` longer than this is not waited out: the error is raised at once
    #: with ``retry_after`` set, and the caller decides.
    MAX_RETRY_AFTER: ClassVar[float] = 60.0
    #: Exponential backoff between attempts when the server gives no ``Retry-After``:
    #: about 1, 2, 4 … seconds (with jitter), at most ``MAX_BACKOFF``.
    BACKOFF_BASE: ClassVar[float] = 1.0
    MAX_BACKOFF: ClassVar[float] = 30.0

    base_url: str
    timeout: float | httpx.Timeout
    max_retries: int

    def _configure(
        self,
        *,
        base_url: str | None,
        timeout: float | httpx.Timeout,
        max_retries: int | None,
    ) -> None:
        # The environment is read here, when the client is made.
        self.base_url = api_base_url(base_url)
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else float(timeout)
        self.max_retries = self.MAX_RETRIES if max_retries is None else max(0, int(max_retries))

    @staticmethod
    def _default_headers(extra: Mapping[str, str]) -> dict[str, str]:
        return {"Accept": "application/json", "User-Agent": USER_AGENT, **extra}

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.BACKOFF_BASE * 2.0**attempt, self.MAX_BACKOFF)
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retrying ``response``, or ``None`` to raise its error."""
        if response.status_code not in self.RETRY_STATUS_CODES or attempt >= self.max_retries:
            return None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None:
            return self._backoff(attempt)
        if retry_after > self.MAX_RETRY_AFTER:
            return None
        return retry_after

    def _connection_retry_delay(self, exc: httpx.TransportError, attempt: int) -> float | None:
        # Only failures to connect are retried: the request never reached the server, so
        # repeating it cannot apply it twice.
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout) and attempt < self.max_retries:
            return self._backoff(attempt)
        return None

    @staticmethod
    def _connection_error(exc: httpx.TransportError) -> MemoryOSError:
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"MemoryOS request timed out: {exc}")
        return APIConnectionError(f"MemoryOS request failed: {exc}")

    # Names kept from the published SDK, for subclasses that call them.
    _parse_json = staticmethod(parse_json_object)
    _error_from_response = staticmethod(error_from_response)
    _quota_mode_from_response = staticmethod(quota_mode_from_response)
    _circuit_status_from_response = staticmethod(circuit_status_from_response)
    _processing_status_from_response = staticmethod(processing_status_from_response)


class SyncAPIClient(BaseAPIClient):
    """Sends :class:`APICall` s over a blocking ``httpx.Client``."""

    def __init__(
        self,
        *,
        headers: Mapping[str, str],
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._configure(base_url=base_url, timeout=timeout, max_retries=max_retries)
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=self.timeout,
            headers=self._default_headers(headers),
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        _exc_type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _execute(self, call: APICall[T]) -> T:
        response = self._request_response(
            call.method, call.path, json=call.json, params=call.params, headers=call.headers
        )
        return call.parse(response)

    def _request_response(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = self._client.request(method, path, json=json, params=params, headers=headers)
            except httpx.TransportError as exc:
                delay = self._connection_retry_delay(exc, attempt)
                if delay is None:
                    raise self._connection_error(exc) from exc
            else:
                if response.status_code < 400:
                    return response
                delay = self._retry_delay(response, attempt)
                if delay is None:
                    raise self._error_from_response(response)
            self._sleep(delay)
            attempt += 1

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = self._request_response(method, path, json=json, params=params, headers=headers)
        return parse_json_object(response)


class AsyncAPIClient(BaseAPIClient):
    """Sends :class:`APICall` s over an ``httpx.AsyncClient``."""

    def __init__(
        self,
        *,
        headers: Mapping[str, str],
        base_url: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        max_retries: int | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._configure(base_url=base_url, timeout=timeout, max_retries=max_retries)
        self._client = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self.timeout,
            headers=self._default_headers(headers),
            transport=transport,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        _exc_type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    async def close(self) -> None:
        """Same as :meth:`aclose` (the published SDK's name)."""
        await self.aclose()

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def _execute(self, call: APICall[T]) -> T:
        response = await self._request_response(
            call.method, call.path, json=call.json, params=call.params, headers=call.headers
        )
        return call.parse(response)

    async def _request_response(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._client.request(method, path, json=json, params=params, headers=headers)
            except httpx.TransportError as exc:
                delay = self._connection_retry_delay(exc, attempt)
                if delay is None:
                    raise self._connection_error(exc) from exc
            else:
                if response.status_code < 400:
                    return response
                delay = self._retry_delay(response, attempt)
                if delay is None:
                    raise self._error_from_response(response)
            await self._sleep(delay)
            attempt += 1

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = await self._request_response(method, path, json=json, params=params, headers=headers)
        return parse_json_object(response)
