"""Decide how a new memory relates to an existing one: NOOP, UPDATE, CONFLICT or ADD.

The caller has already found ``existing`` as a near neighbour of ``new`` and passes the cosine
of their embeddings. The embedding says "these are about something similar"; it cannot say
"March 10 is not March 15" (that pair scores 0.90 with all-MiniLM-L6-v2, higher than many
restatements). So the similarity only gates, and the decision rests on lexical evidence:
align the two token sequences and classify each differing stretch.

- Nothing differs but wording the lexicon knows ("loves"/"enjoys", "kids"/"children") → NOOP.
- The new one only adds words (or only drops some) → UPDATE (or NOOP: nothing new).
- A stretch flips polarity ("prefers" → "does not like"), changes a number or a date, swaps
  an antonym ("dark" → "light"), or gives a single-valued relation ("lives in", "works at",
  "manager is", "prefers") a different value → CONFLICT.
- After a subject, "is" names one value only with a name ("Manager is Alice" → "… Bob"), unless
  the subject is an attribute held once ("Role is engineer" → "… designer"): "Nature is
  beautiful" / "Nature is nice" are two remarks → ADD.
- Anything else that differs — a different subject ("dog" → "cat", "exam" → "interview"),
  another value of a relation that holds many ("likes Python" / "likes Go") → ADD.
- A "contradiction" whose changed stretches hold more words than the two texts share, or more
  than ``MAX_CHANGED_WORDS``, is two different statements that happen to share a subject
  ("Family is the most important thing" / "Family is awesome - the missus and the kids") → ADD.

Measured on all-MiniLM-L6-v2 when these defaults were set: true contradictions scored
0.49–0.94 ("Works at Acme"/"Works at Globex" 0.49, "Lives in Berlin"/"Lives in Paris" 0.52,
"Prefers dark mode"/"Does not like dark mode" 0.92); unrelated facts about one person 0.13–0.35.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import Enum, StrEnum

from .lexical import (
    ANTONYMS,
    ATTRIBUTES,
    DAY_WORDS,
    EXCLUSIVE_VALUES,
    MULTI_VALUED,
    MULTI_VALUED_PHRASES,
    ONE_AT_A_TIME,
    BEFORE_NOW,
    PAST_DAYS,
    SINGLE_VALUED,
    Kind,
    Token,
    cached_tokens,
)


class Decision(StrEnum):
    ADD = "add"  # a different fact: store it alongside
    UPDATE = "update"  # the same fact with more detail: replace the existing text
    NOOP = "noop"  # a restatement: keep the existing memory, store nothing
    CONFLICT = "conflict"  # the same fact, contradicted: store it, dispute both, ask


@dataclass(frozen=True, slots=True)
class ConflictThresholds:
    # Below this cosine the two are about different things, whatever the words say.
    related: float = 0.40
    # A different common word as the value of a single-valued relation ("works as a teacher"
    # → "… a nurse" 0.64; "prefers tea" → "… coffee" 0.70) is a contradiction only when the
    # pair is at least this close; "prefers concise answers" / "prefers Python examples"
    # (0.35) is two preferences.
    value_change: float = 0.60
    # At or above this, a rewording with no contradiction in it is a restatement.
    paraphrase: float = 0.93

    def __post_init__(self) -> None:
        if not 0.0 <= self.related <= self.value_change <= self.paraphrase <= 1.0:
            raise ValueError("thresholds must satisfy 0 <= related <= value_change <= paraphrase <= 1")


DEFAULT_THRESHOLDS = ConflictThresholds()


@dataclass(frozen=True, slots=True)
class Assessment:
    decision: Decision
    reason: str  # for logs and tests: what tipped the decision


class _Change(Enum):
    GLUE = "glue"  # only prepositions or copulas differ
    ADDED = "added detail"
    DROPPED = "dropped detail"
    POLARITY = "polarity flipped"
    NUMBER = "number or date changed"
    ANTONYM = "opposite word"
    NAME = "name changed"
    EXCLUSIVE = "one of a closed set of values changed"  # a colour for another
    MOMENT = "another past moment, said relative to when it was said"  # "last weekend" / "last Friday"
    WORDING = "different words"


class _Frame(Enum):
    SINGLE = "single-valued"
    # "<something> is <value>": it names one value when the value is a name ("Manager is
    # Alice"), but two descriptions of a thing ("Breaking habits can be tough" / "… can be
    # hard", "Nature is beautiful" / "… is nice") can both hold.
    NAMED = "named by a copula"
    MULTI = "multi-valued"
    UNKNOWN = "unknown relation"
    SUBJECT = "subject position"


# A contradiction changes a value: at most this many words on either side, and no more than
# the two statements share (one shared word allows one changed word: "Manager is Alice/Bob").
MAX_CHANGED_WORDS = 3
_CONTENT_KINDS = frozenset({Kind.WORD, Kind.NUMBER, Kind.DATE, Kind.NEGATION, Kind.POLARITY})
_VALUE_KINDS = frozenset({Kind.NUMBER, Kind.DATE})
_COMPARATIVES = frozenset({"over", "than"})
_PUNCTUATION = re.compile(r"[^\w\s]")
_WHITESPACE = re.compile(r"\s+")


def detect(new: str, existing: str, similarity: float, *, thresholds: ConflictThresholds = DEFAULT_THRESHOLDS) -> Decision:
    """How ``new`` relates to ``existing``, given the cosine of their embeddings (0..1)."""
    return assess(new, existing, similarity, thresholds=thresholds).decision


def assess(new: str, existing: str, similarity: float, *, thresholds: ConflictThresholds = DEFAULT_THRESHOLDS) -> Assessment:
    """``detect`` with the reason behind the decision."""
    if math.isnan(similarity) or not -1.0001 <= similarity <= 1.0001:
        raise ValueError(f"similarity must be a cosine in [-1, 1], got {similarity!r}")
    if _normalised(new) == _normalised(existing):
        return Assessment(Decision.NOOP, "same text")
    old_tokens, new_tokens = cached_tokens(existing), cached_tokens(new)
    old_keys, new_keys = [t.key for t in old_tokens], [t.key for t in new_tokens]
    if old_keys == new_keys:
        return Assessment(Decision.NOOP, "same words")
    if Counter(old_keys) == Counter(new_keys):
        # The same words in another order: a restatement, unless they are the two sides of a
        # comparison ("prefers email over calls" / "prefers calls over email").
        if _COMPARATIVES.intersection(old_keys):
            return Assessment(Decision.CONFLICT, "contradiction: comparison reversed")
        return Assessment(Decision.NOOP, "same words, reordered")
    if similarity < thresholds.related:
        return Assessment(Decision.ADD, f"unrelated (similarity {similarity:.2f})")

    opcodes = SequenceMatcher(None, old_keys, new_keys, autojunk=False).get_opcodes()
    shared = [old_tokens[i] for tag, i1, i2, _, _ in opcodes if tag == "equal" for i in range(i1, i2)]
    if not any(t.kind in (Kind.WORD, Kind.POLARITY) for t in shared):
        return Assessment(Decision.ADD, "no subject in common")

    blocks = [
        (
            _Change.MOMENT
            if _said_relative_to_now(old_tokens, i1, i2) and _said_relative_to_now(new_tokens, j1, j2)
            else _classify(old_tokens[i1:i2], new_tokens[j1:j2]),
            _frame_before(old_tokens, opcodes, i1, i2),
        )
        for tag, i1, i2, j1, j2 in opcodes
        if tag != "equal"
    ]
    substantive = [b for b in blocks if b[0] not in (_Change.GLUE, _Change.ADDED, _Change.DROPPED)]
    contradictions: list[str] = []
    differences: list[str] = []
    for change, frame in substantive:
        if change in (_Change.POLARITY, _Change.NUMBER, _Change.ANTONYM):
            contradictions.append(change.value)
        elif change in (_Change.NAME, _Change.EXCLUSIVE) and (
            frame in (_Frame.SINGLE, _Frame.NAMED)
            or (frame is _Frame.UNKNOWN and similarity >= thresholds.value_change)
        ):
            contradictions.append(f"{change.value} ({frame.value})")
        elif similarity >= thresholds.paraphrase:
            continue  # a rewording the lexicon does not know
        elif (
            change is _Change.WORDING
            and len(substantive) == 1
            and frame is _Frame.SINGLE
            and similarity >= thresholds.value_change
        ):
            contradictions.append(f"{change.value} ({frame.value})")
        else:
            differences.append(f"{change.value} ({frame.value})")

    if differences:
        return Assessment(Decision.ADD, "different fact: " + ", ".join(differences))
    if contradictions:
        # One value changed in the same statement, not two statements that share a word or two:
        # "Family is the most important thing" / "Family is awesome - the missus and the kids".
        changed = max(
            sum(1 for tag, i1, i2, _, _ in opcodes if tag != "equal" for t in old_tokens[i1:i2] if t.kind is Kind.WORD),
            sum(1 for tag, _, _, j1, j2 in opcodes if tag != "equal" for t in new_tokens[j1:j2] if t.kind is Kind.WORD),
        )
        kept = sum(1 for t in shared if t.kind is Kind.WORD)
        if changed > min(MAX_CHANGED_WORDS, max(kept, 1)):
            return Assessment(Decision.ADD, f"different statement: {changed} words differ, {kept} shared")
        return Assessment(Decision.CONFLICT, "contradiction: " + ", ".join(contradictions))
    added = any(change is _Change.ADDED for change, _ in blocks)
    dropped = any(change is _Change.DROPPED for change, _ in blocks)
    if added and dropped:
        # Each says something the other does not; replacing one with the other loses a fact.
        return Assessment(Decision.ADD, "different detail on each side")
    if added:
        return Assessment(Decision.UPDATE, "adds detail")
    return Assessment(Decision.NOOP, "nothing new")


def _normalised(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _WHITESPACE.sub(" ", _PUNCTUATION.sub(" ", folded)).strip()


def _classify(old: Sequence[Token], new: Sequence[Token]) -> _Change:
    old_content = [t for t in old if t.kind in _CONTENT_KINDS]
    new_content = [t for t in new if t.kind in _CONTENT_KINDS]
    if not old_content and not new_content:
        return _Change.GLUE
    old_words = [t.key for t in old_content if t.kind is Kind.WORD]
    new_words = [t.key for t in new_content if t.kind is Kind.WORD]
    if _sign(old) != _sign(new) and not old_words and not new_words:
        return _Change.POLARITY  # "likes" → "does not like", "has no kids" → "has 2 kids"
    if not old_content:
        return _Change.ADDED
    if not new_content:
        return _Change.DROPPED
    old_values = Counter(t.key for t in old_content if t.kind in _VALUE_KINDS)
    new_values = Counter(t.key for t in new_content if t.kind in _VALUE_KINDS)
    if old_values and new_values and old_values != new_values and _one_contains_other(old_words, new_words):
        return _Change.NUMBER
    if any(frozenset((a, b)) in ANTONYMS for a in old_words for b in new_words):
        return _Change.ANTONYM
    if len(old_words) == len(new_words) == 1 and {*old_words, *new_words} <= EXCLUSIVE_VALUES:
        return _Change.EXCLUSIVE
    old_named = [t for t in old_content if t.kind is Kind.WORD]
    new_named = [t for t in new_content if t.kind is Kind.WORD]
    if old_named and new_named and all(t.proper for t in old_named + new_named):
        return _Change.NAME
    return _Change.WORDING


def _said_relative_to_now(tokens: Sequence[Token], start: int, end: int) -> bool:
    """Whether ``tokens[start:end]`` changes only a past day named relative to when it was said
    ("yesterday", "last weekend", "last Friday"). Two memories saying so may be two moments:
    "Went to a car show last weekend" and, weeks later, "Went to the car show last Friday". A
    day ahead is a plan, and a plan's new day is a change ("next Monday", then "tomorrow": the
    appointment moved); a day named on its own ("Gym day is Friday") is a value like any other."""
    days = [i for i in range(start, end) if tokens[i].kind is Kind.DATE]
    if not days or any(tokens[i].kind in _VALUE_KINDS and tokens[i].kind is not Kind.DATE for i in range(start, end)):
        return False
    return all(
        tokens[i].key in PAST_DAYS or (tokens[i].key in DAY_WORDS and i > 0 and tokens[i - 1].key in BEFORE_NOW)
        for i in days
    )


def _sign(tokens: Sequence[Token]) -> int:
    sign = 1
    for token in tokens:
        if token.kind is Kind.NEGATION:
            sign = -sign
        elif token.kind is Kind.POLARITY:
            sign *= token.polarity
    return sign


def _one_contains_other(a: list[str], b: list[str]) -> bool:
    """True when the words beside the changed value are the same, give or take added detail."""
    ca, cb = Counter(a), Counter(b)
    return not (ca - cb) or not (cb - ca)


def _frame_before(
    tokens: Sequence[Token], opcodes: list[tuple[str, int, int, int, int]], start: int, end: int
) -> _Frame:
    """The relation that governs a differing stretch: the first relation word shared before it.

    The first, not the nearest: in "has a dog named Rex" the relation is "has" (one may have
    two dogs), not "named". A leading "is" lists a trait ("Is a vegetarian"), unless the
    stretch names one of a thing held one at a time ("Is on the Growth plan": ``ONE_AT_A_TIME``).
    After a subject, "is" names a value of it (``_Frame.NAMED``), single-valued outright when
    the subject is an attribute a person has one of ("Role is engineer": ``ATTRIBUTES``).
    """
    before = [i for tag, i1, i2, _, _ in opcodes if tag == "equal" for i in range(i1, i2) if i < start]
    subject: Token | None = None
    for i in before:
        token = tokens[i]
        if token.kind is Kind.POLARITY:
            return _Frame.SINGLE if token.lemma == "prefer" else _Frame.MULTI
        if token.kind is Kind.COPULA:
            # "Manager is Alice" names one value; "Is a vegetarian" lists one trait of many.
            if _names_one_of(tokens, opcodes, end) or (subject is not None and subject.lemma in ATTRIBUTES):
                return _Frame.SINGLE
            return _Frame.MULTI if subject is None else _Frame.NAMED
        if token.kind is Kind.WORD:
            if token.lemma in SINGLE_VALUED:
                # "Works at Acme" names one employer; "Is working on a painting" is one project of many.
                following = tokens[i + 1].key if i + 1 < len(tokens) else None
                return _Frame.MULTI if (token.lemma, following) in MULTI_VALUED_PHRASES else _Frame.SINGLE
            if token.lemma in MULTI_VALUED:
                return _Frame.MULTI
            subject = token
    return _Frame.SUBJECT if subject is None else _Frame.UNKNOWN


def _names_one_of(tokens: Sequence[Token], opcodes: list[tuple[str, int, int, int, int]], end: int) -> bool:
    """The first word shared after a differing stretch is a thing held one at a time: the
    stretch names which one ("Growth" in "on the Growth plan")."""
    after = [tokens[i] for tag, i1, i2, _, _ in opcodes if tag == "equal" for i in range(i1, i2) if i >= end]
    head = next((t for t in after if t.kind is Kind.WORD), None)
    return head is not None and head.lemma in ONE_AT_A_TIME
