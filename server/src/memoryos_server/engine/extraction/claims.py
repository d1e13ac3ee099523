"""A registered service's message is a claim about the end-user, whatever its role.

Billing writes "Customer is on the Growth plan." as an ``assistant`` message; the extractor
reads only what the user says of themselves ("I am on the Growth plan"). ``as_statements``
turns a service's messages into that form, so the same rules (screening, third person,
category, importance, dates) — or the LLM — read a claim as they read the user's own words,
and a claim and the user's own statement of the same fact come out in the same words
("Is on the Growth plan"), where de-duplication and conflict detection can meet them.

- A ``user`` message is the end-user's own words, relayed by the service: unchanged.
- Any other role speaks *about* the end-user. A sentence whose subject names them ("Customer",
  "The user", "This client", "Customer's …") is moved to the first person; a sentence in the
  first person ("I", "we", "our") is the service or its assistant speaking of itself and is
  dropped; anything else (a fragment such as "Growth plan since March") is kept for the rules
  to judge, as a user's fragment would be.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..types import ChatMessage
from .inflect import is_finite_unchanged
from .lexicon import ADVERBS, IRREGULAR_THIRD_PERSON
from .segment import split_sentences

# Nouns a service uses for the person its records are about.
_PERSON = r"(?:customer|user|end[- ]user|client|member|subscriber|account[- ]holder|buyer|shopper|patient|student|learner|guest|caller)"
# "Customer support saw …" is a team, not the customer.
_NOT_A_PERSON = r"(?:support|service|services|success|care|team|base|data|account\s+team|id|ids|record|records|segment)\b"
_SUBJECT = re.compile(
    rf"^(?:(?:the|this|that|our|said)\s+)?{_PERSON}(?P<possessive>'s|’s)?(?!\s+{_NOT_A_PERSON})(?=\s|$)",
    re.I,
)
# "US" (the country) is not "us".
_FIRST_PERSON = re.compile(r"(?i:\b(?:I|I'm|I've|I'll|I'd|me|my|mine|we|we're|we've|we'll|our|ours)\b)|\b[Uu]s\b")
_THEIR = {"their": "my", "theirs": "mine", "themselves": "myself", "themself": "myself"}
_THEIR_WORD = re.compile(r"\b(?:their|theirs|themselves|themself)\b", re.I)
_WORD = re.compile(r"(\s*)([A-Za-z'’-]+)")
# "is" → "am" and the other verbs that change after "I" (the reverse of IRREGULAR_THIRD_PERSON).
_FIRST_PERSON_OF = {
    "is": "am",
    "isn't": "am not",
    "was": "was",
    "wasn't": "wasn't",
    "has": "have",
    "hasn't": "haven't",
    "does": "do",
    "doesn't": "don't",
    "goes": "go",
}


def as_statements(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """The messages of a service writer as the end-user's own statements (role ``user``)."""
    statements: list[ChatMessage] = []
    for message in messages:
        if message.role == "user":
            statements.append(message)
            continue
        sentences = [s for s in (claim_as_first_person(s) for s in split_sentences(message.content)) if s]
        if sentences:
            statements.append(ChatMessage(role="user", content=" ".join(sentences), occurred_at=message.occurred_at))
    return statements


def claim_as_first_person(sentence: str) -> str | None:
    """One sentence of a claim in the end-user's voice; None when it is the writer speaking of
    itself. "Customer is on the Growth plan." → "I am on the Growth plan."."""
    text = sentence.strip()
    found = _SUBJECT.match(text)
    if found is None:
        return None if _FIRST_PERSON.search(text) else text
    rest = text[found.end() :]
    if found.group("possessive"):
        # "Customer's account manager is Dana" → "My account manager is Dana".
        return "My" + _own(rest)
    return "I" + _own(_verb_after_i(rest))


def _verb_after_i(rest: str) -> str:
    """The finite verb after the subject, agreeing with "I" ("prefers" → "prefer"); adverbs
    before it ("previously", "always") are stepped over."""
    position = 0
    while (word := _WORD.match(rest, position)) is not None:
        space, token = word.group(1), word.group(2)
        lower = token.lower().replace("’", "'")
        if lower in ADVERBS or (lower.endswith("ly") and len(lower) > 4):
            position = word.end()
            continue
        replacement = _first_person(lower)
        if replacement is None:
            return rest
        return rest[: word.start()] + space + replacement + rest[word.end() :]
    return rest


def _first_person(verb: str) -> str | None:
    """``verb`` (third person singular or unchanged) as it reads after "I"; None when the word
    is not a verb form that changes."""
    if verb in _FIRST_PERSON_OF:
        return _FIRST_PERSON_OF[verb]
    if verb in IRREGULAR_THIRD_PERSON.values() or is_finite_unchanged(verb) or not verb.isalpha():
        return verb
    if len(verb) > 4 and verb.endswith("ies"):
        return verb[:-3] + "y"
    if verb.endswith(("sses", "shes", "ches", "xes", "zes", "oes")):
        return verb[:-2]
    if verb.endswith("s") and not verb.endswith(("ss", "us", "is")):
        return verb[:-1]
    return verb


def _own(text: str) -> str:
    """ "their" → "my" in a sentence now about the speaker."""

    def swap(match: re.Match[str]) -> str:
        word = _THEIR[match[0].lower()]
        return word.capitalize() if match[0][:1].isupper() else word

    return _THEIR_WORD.sub(swap, text)
