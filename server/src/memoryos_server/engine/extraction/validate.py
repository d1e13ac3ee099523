"""Strict validation of memories proposed by a model.

A model's output is untrusted input: categories outside the six are dropped, scores are
clamped, content must be 3–500 characters, and first-person or "The user …" phrasing is
brought to the house style ("Prefers …") or the item is dropped.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any

from ..types import CATEGORIES, ChatMessage, ExtractedMemory
from .dates import recurs, resolve
from .rewrite import to_third_person

MIN_CONTENT_CHARS = 3
MAX_CONTENT_CHARS = 500
MAX_MEMORIES = 50
DEFAULT_IMPORTANCE = 5
DEFAULT_CONFIDENCE = 0.7

_USER_SUBJECT = re.compile(r"^(?:the\s+)?(?:user|person|human|customer|end[- ]user)(?:'s\s+|\s+)", re.I)
_FIRST_PERSON_START = re.compile(r"^(?:I|I'm|I've|I'd|I'll|My|We|We're|Our|Me)\b")
_STILL_FIRST_PERSON = re.compile(r"^(?:I|I'm|I've|I'd|I'll)\b")
_WORD = re.compile(r"[a-z0-9]+")


class InvalidModelOutput(ValueError):
    """The model's answer is not the JSON object we asked for."""


def first_json_object(text: str) -> dict[str, Any]:
    """The first JSON object in ``text``: tolerates prose and code fences around it."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        if isinstance(value, dict):
            return value
        start = text.find("{", start + 1)
    raise InvalidModelOutput("no JSON object in the model's answer")


def normalise_content(raw: str) -> str | None:
    content = " ".join(raw.split()).strip().rstrip(".")
    if m := _USER_SUBJECT.match(content):
        # "The user prefers X" -> "Prefers X"; "User's sister Anna" -> "Sister Anna".
        content = content[m.end() :]
    elif _FIRST_PERSON_START.match(content):
        content = to_third_person(content)
    if not content or _STILL_FIRST_PERSON.match(content):
        return None
    content = content[:1].upper() + content[1:]
    if not MIN_CONTENT_CHARS <= len(content) <= MAX_CONTENT_CHARS:
        return None
    return content


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _valid_at(value: Any, content: str, reference: datetime) -> datetime | None:
    if recurs(content.lower()):
        return None  # a birthday's next date is not when the memory holds, whatever the model says
    tz = reference.tzinfo or timezone.utc
    if isinstance(value, str) and value.strip():
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)
        except ValueError:
            try:
                day = date.fromisoformat(value.strip()[:10])
                return datetime(day.year, day.month, day.day, tzinfo=tz)
            except ValueError:
                pass
    resolved = resolve(content.lower(), reference)
    return resolved.value if resolved else None


def _source_index(content: str, messages: Sequence[ChatMessage], candidates: Sequence[int]) -> int:
    """The user message sharing the most words with the memory: the model does not say which."""
    words = set(_WORD.findall(content.lower()))
    best, best_overlap = candidates[-1], -1
    for index in candidates:
        overlap = len(words & set(_WORD.findall(messages[index].content.lower())))
        if overlap > best_overlap:
            best, best_overlap = index, overlap
    return best


def memories_from_payload(
    payload: Mapping[str, Any],
    *,
    messages: Sequence[ChatMessage],
    user_indexes: Sequence[int],
    reference: datetime,
) -> list[ExtractedMemory]:
    items = payload.get("memories")
    if not isinstance(items, list):
        raise InvalidModelOutput('the model\'s JSON has no "memories" list')
    memories: list[ExtractedMemory] = []
    seen: set[str] = set()
    for item in items[:MAX_MEMORIES]:
        if not isinstance(item, Mapping):
            continue
        category = item.get("category")
        raw = item.get("content")
        if not isinstance(category, str) or category.strip().lower() not in CATEGORIES or not isinstance(raw, str):
            continue
        content = normalise_content(raw)
        if content is None or content.casefold() in seen:
            continue
        seen.add(content.casefold())
        importance = _number(item.get("importance"))
        confidence = _number(item.get("confidence"))
        memories.append(
            ExtractedMemory(
                content=content,
                category=category.strip().lower(),
                importance=DEFAULT_IMPORTANCE if importance is None else max(1, min(10, round(importance))),
                confidence=DEFAULT_CONFIDENCE if confidence is None else round(max(0.0, min(1.0, confidence)), 3),
                valid_at=_valid_at(item.get("valid_at"), content, reference),
                source_index=_source_index(content, messages, user_indexes),
                tags=("llm",),
            )
        )
    return memories
