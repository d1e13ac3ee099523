"""The default extractor: rules and word lists, no network, no model.

Only the user's own messages produce memories. Assistant text is not the user's word (it may
be a guess, a suggestion or a hallucination), and system prompts are instructions to the
model; storing either as "what the user told us" would be wrong. A caller that really wants
them can pass ``roles=("user", "assistant")``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime

from ..types import ChatMessage, ExtractedMemory
from .classify import categorise
from .dates import resolve
from .rewrite import to_third_person
from .scoring import confidence, importance
from .screen import Screened, Verdict, screen
from .segment import Sentence, clean, split_sentences

# A longer "sentence" is pasted material (a document, a log), not something said about oneself.
MAX_SENTENCE_CHARS = 400
MIN_CONTENT_CHARS = 3
MAX_CONTENT_CHARS = 500

_DROPPED = frozenset(
    {
        Verdict.SMALL_TALK,
        Verdict.QUESTION,
        Verdict.INSTRUCTION,
        Verdict.ABOUT_CONVERSATION,
        Verdict.NOT_ABOUT_USER,
        Verdict.CONTENT_FREE,
    }
)
_NEGATED_START = re.compile(r"^(?:don't|dont|do\s+not)\s+", re.I)
_WANT_START = re.compile(r"^(?:no|less|more|fewer|shorter|longer|simpler)\b", re.I)
_YOU_START = re.compile(r"^(?:you|your|u|ur)\b", re.I)
# "I teach in Leeds and I have two daughters" holds two memories; split where a new "I" clause starts.
_CLAUSE_JOIN = re.compile(r"(?:,\s*and|;|,?\s+and)\s+(?=I\b)")
_REFERS_BACK = re.compile(r"\b(?:it|its|them|that|this|those|these|there|he|him|his|she|her|they|their)\b", re.I)
_HAS_VERB = re.compile(r"^I\b|\sI\s|\b(?:is|are|was|were|has|have|had|will|would|can)\b|'(?:s|re|m|ve)\b", re.I)
_SUBORDINATE_START = re.compile(
    r"^(?:when|whenever|if|before|after|while|once|because|since|although|though|as|until)\b", re.I
)


def split_clauses(text: str) -> list[str]:
    """Independent "I" clauses joined by "and" or ";", unless the second leans on the first."""
    if _SUBORDINATE_START.match(text):
        return [text]
    clauses: list[str] = []
    start = 0
    for join in _CLAUSE_JOIN.finditer(text):
        left, right = text[start : join.start()], text[join.end() :]
        next_join = _CLAUSE_JOIN.search(text, join.end())
        right_clause = right if next_join is None else text[join.end() : next_join.start()]
        if (
            len(left.split()) >= 3
            and len(right_clause.split()) >= 3
            and _HAS_VERB.search(left)
            and not _REFERS_BACK.search(right_clause)
        ):
            clauses.append(left)
            start = join.end()
    clauses.append(text[start:])
    return clauses


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def standing_as_statement(text: str) -> str:
    """ "Always use metric units" -> "I want you to always use metric units", ready for rewriting."""
    if _YOU_START.match(text):
        return f"I prefer that {_lower_first(text)}"
    if m := _NEGATED_START.match(text):
        return f"I want you to not {text[m.end() :]}"
    if _WANT_START.match(text):
        return f"I want {_lower_first(text)}"
    return f"I want you to {_lower_first(text)}"


class RuleBasedExtractor:
    """Extracts memories from user messages with deterministic rules (see the package docs)."""

    name = "rules"

    def __init__(self, *, roles: Collection[str] = ("user",)) -> None:
        self._roles = frozenset(roles)

    def extract(self, messages: Sequence[ChatMessage], *, now: datetime) -> list[ExtractedMemory]:
        memories: list[ExtractedMemory] = []
        seen: set[str] = set()
        for index, message in enumerate(messages):
            if message.role not in self._roles or not message.content:
                continue
            for memory in self._from_text(message.content, message.occurred_at or now, index):
                key = memory.content.casefold()
                if key not in seen:
                    seen.add(key)
                    memories.append(memory)
        return memories

    def _from_text(self, text: str, reference: datetime, index: int) -> Iterator[ExtractedMemory]:
        for raw in split_sentences(text):
            if len(raw) > MAX_SENTENCE_CHARS:
                continue
            sentence = clean(raw)
            if not sentence.text:
                continue
            for clause in split_clauses(sentence.text):
                screened = screen(clause)
                if screened.verdict is Verdict.INSTRUCTION and ":" in raw:
                    return  # "Translate this: …" — the rest of the message is someone else's text
                if screened.verdict not in _DROPPED:
                    memory = self._memory(screened, sentence, reference, index)
                    if memory is not None:
                        yield memory

    def _memory(
        self, screened: Screened, sentence: Sentence, reference: datetime, index: int
    ) -> ExtractedMemory | None:
        if screened.verdict is Verdict.STANDING:
            statement = standing_as_statement(screened.text)
            category, strength = "preference", 2
        else:
            statement = screened.text
            category, strength = categorise(statement.lower())
        content = to_third_person(statement)
        if not MIN_CONTENT_CHARS <= len(content) <= MAX_CONTENT_CHARS or " " not in content:
            return None
        lower = statement.lower()
        resolved = resolve(lower, reference)
        valid_at = resolved.value if resolved else None
        tags = [tag for tag, on in (("explicit", sentence.explicit), ("hedged", sentence.hedged)) if on]
        if resolved:
            tags.append(f"valid_at:{resolved.precision}")
        return ExtractedMemory(
            content=content,
            category=category,
            importance=importance(
                category,
                lower,
                explicit=sentence.explicit,
                hedged=sentence.hedged,
                impersonal=screened.impersonal,
                valid_at=valid_at,
                reference=reference,
            ),
            confidence=confidence(
                strength, explicit=sentence.explicit, hedged=sentence.hedged, impersonal=screened.impersonal
            ),
            valid_at=valid_at,
            source_index=index,
            tags=tuple(tags),
        )
