"""The HTTP calls the MCP tools make: the agent side of the MemoryOS API, nothing else.

The MCP server is a client of a running MemoryOS (local or remote), like any agent backend:
it holds an agent key and one UUI and never touches a database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx


class MemoryOSCallFailed(Exception):
    """The API answered with an error; the message is safe to show to a model."""


@dataclass(frozen=True)
class AgentConfig:
    api_url: str
    agent_api_key: str
    uui_token: str | None = None
    consent_base_url: str | None = None
    agent_id: str | None = None
    timeout_seconds: float = 30.0

    @property
    def resolved_consent_base_url(self) -> str:
        return (self.consent_base_url or self.api_url).rstrip("/")


class AgentClient:
    def __init__(self, config: AgentConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._transport = transport

    def _client(self) -> httpx.AsyncClient:
        headers = {"Authorization": f"ApiKey {self.config.agent_api_key}", "Accept": "application/json"}
        if self.config.uui_token:
            headers["X-MemoryOS-UUI"] = self.config.uui_token
        return httpx.AsyncClient(
            base_url=self.config.api_url.rstrip("/"),
            headers=headers,
            timeout=self.config.timeout_seconds,
            transport=self._transport,
        )

    async def _call(self, method: str, path: str, json: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            async with self._client() as client:
                response = await client.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise MemoryOSCallFailed(f"MemoryOS at {self.config.api_url} did not answer ({type(exc).__name__})") from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise MemoryOSCallFailed(f"MemoryOS answered {response.status_code} without JSON") from exc
        if response.status_code >= 400:
            raise MemoryOSCallFailed(
                f"MemoryOS refused the call: {body.get('error', 'request_failed')} ({body.get('code', response.status_code)})"
            )
        return body if isinstance(body, dict) else {"data": body}

    def _require_uui(self) -> None:
        if not self.config.uui_token:
            raise MemoryOSCallFailed(
                "no passport user configured: set MEMORYOS_UUI_TOKEN (or --uui-token) to the UUI this agent "
                "received through the consent exchange"
            )

    async def retrieve(self, query: str, *, limit: int, categories: list[str] | None = None) -> dict[str, Any]:
        self._require_uui()
        body: dict[str, Any] = {"query": query, "limit": limit}
        if categories:
            body["categories"] = categories
        return await self._call("POST", "/v1/universal/memories/retrieve", body)

    async def add(self, messages: list[dict[str, str]], metadata: dict[str, Any] | None = None) -> dict[str, Any]:
        self._require_uui()
        return await self._call("POST", "/v1/universal/memories/add", {"messages": messages, "metadata": metadata or {}})

    async def grant(self) -> dict[str, Any] | None:
        self._require_uui()
        return (await self._call("GET", "/v1/universal/grant")).get("data")

    async def agent_id(self) -> str:
        """The configured agent id, else the one this agent's grant names."""
        if self.config.agent_id:
            return self.config.agent_id
        if self.config.uui_token:
            grant = await self.grant()
            if grant and grant.get("agent_id"):
                return str(grant["agent_id"])
        raise MemoryOSCallFailed("set MEMORYOS_AGENT_ID (or --agent-id) to build consent URLs")

    def consent_url(
        self,
        agent_id: str,
        *,
        categories: list[str] | None = None,
        state: str | None = None,
        redirect_uri: str | None = None,
    ) -> str:
        query: dict[str, str] = {"agent_id": agent_id}
        if redirect_uri:
            query["redirect_uri"] = redirect_uri
        if state:
            query["state"] = state
        cleaned = list(dict.fromkeys(c.strip() for c in categories or [] if c.strip()))
        if cleaned:
            query["categories"] = ",".join(cleaned)
        return f"{self.config.resolved_consent_base_url}/consent?{urlencode(query)}"
