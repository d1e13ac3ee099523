"""Extraction by any OpenAI-compatible chat completions endpoint.

Every failure the caller can do something about — the endpoint is down, slow, answers non-2xx,
or answers something that is not the JSON we asked for — raises ``ServiceUnavailable``, so the
caller can fall back to the rule-based extractor (see ``FallbackExtractor``). Message content
never goes to the logs.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from ...errors import ServiceUnavailable
from ..types import ChatMessage, ExtractedMemory
from .validate import InvalidModelOutput, first_json_object, memories_from_payload

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 30.0

SYSTEM_PROMPT = """\
You extract long-term memories about the user from a conversation, for a memory system that \
personalises future conversations.

Answer with one JSON object and nothing else:
{"memories": [{"content": "...", "category": "...", "importance": 1, "confidence": 0.0}]}

Rules:
- Extract only what the user says about themselves, their life, work, people and habits, from \
the user's own messages. Assistant messages are context only: never extract from them.
- content: one short, self-contained statement in the third person without a subject pronoun, \
e.g. "Prefers short, structured explanations and Python examples", "Exam is on March 10", \
"Sister Anna lives in Berlin", "Has been a backend engineer for 8 years, mostly Go". Keep \
negations ("Does not like long meetings"). Resolve relative dates against the message time.
- category, exactly one of:
  preference (likes, dislikes, tastes, diets, how they want things done),
  fact (about the user: where they live and work, health, dates, possessions),
  goal (what they are working towards or plan),
  procedure (routines, workflows, how and when they habitually do things),
  relationship (people and pets in their life, and facts about them),
  expertise (skills, experience, qualifications, or their absence).
- importance: integer 1-10, how useful this is to remember long term (health and safety high, \
trivia low).
- confidence: number 0-1, how sure you are that the user meant it.
- valid_at (optional): "YYYY-MM-DD" when the memory is about a specific date.
- One message may give several memories; give each separately.
- Small talk, questions to the assistant, one-off instructions about the current reply \
("make this shorter", "translate that"), and content-free messages give {"memories": []}.
"""


def _render(messages: Sequence[ChatMessage], now: datetime) -> str:
    lines = [f"Current time: {now.isoformat()}", "", "Conversation:"]
    for message in messages:
        when = f" at {message.occurred_at.isoformat()}" if message.occurred_at else ""
        lines.append(f"[{message.role}{when}] {message.content}")
    return "\n".join(lines)


class LLMExtractor:
    """Asks an OpenAI-compatible endpoint (``POST {base_url}/chat/completions``) for memories."""

    name = "llm"

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # One pooled client per extractor: httpx clients are safe to share between threads.
        self._client = httpx.Client(timeout=timeout, headers=headers)

    def __repr__(self) -> str:  # never the API key
        return f"LLMExtractor(base_url={self.base_url!r}, model={self.model!r}, timeout={self.timeout!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LLMExtractor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def extract(self, messages: Sequence[ChatMessage], *, now: datetime) -> list[ExtractedMemory]:
        user_indexes = [i for i, m in enumerate(messages) if m.role == "user" and m.content.strip()]
        if not user_indexes:
            return []  # nothing the user said: no need to ask anyone
        text = self._complete(_render(messages, now))
        reference = messages[user_indexes[-1]].occurred_at or now
        try:
            payload = first_json_object(text)
            return memories_from_payload(payload, messages=messages, user_indexes=user_indexes, reference=reference)
        except InvalidModelOutput as exc:
            raise self._unavailable("unparseable_output", str(exc)) from exc

    def _complete(self, prompt: str) -> str:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": prompt}],
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }
        response = self._post(body)
        if response.status_code in (400, 422) and "response_format" in response.text:
            # Some servers refuse JSON mode instead of ignoring it; the prompt asks for JSON anyway.
            del body["response_format"]
            response = self._post(body)
        if not response.is_success:
            raise self._unavailable("bad_status", f"answered HTTP {response.status_code}")
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
            raise self._unavailable("unparseable_output", "not a chat completion") from exc
        if not isinstance(content, str):
            raise self._unavailable("unparseable_output", "the completion has no text")
        return content

    def _post(self, body: dict[str, Any]) -> httpx.Response:
        try:
            return self._client.post(f"{self.base_url}/chat/completions", json=body)
        except httpx.TimeoutException as exc:
            raise self._unavailable("timeout", f"no answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise self._unavailable("unreachable", type(exc).__name__) from exc

    def _unavailable(self, reason: str, message: str) -> ServiceUnavailable:
        logger.warning("llm extraction failed: %s (%s)", reason, message)
        return ServiceUnavailable(
            f"LLM extraction endpoint failed: {message}",
            details={"extractor": self.name, "reason": reason},
        )
