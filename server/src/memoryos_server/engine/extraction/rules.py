"""The default extractor: rules and word lists, no network, no model.

Only the user's own messages produce memories. Assistant text is not the user's word (it may
be a guess, a suggestion or a hallucination), and system prompts are instructions to the
model; storing either as "what the user told us" would be wrong. A caller that really wants
them can pass ``roles=("user", "assistant")``.

Given an ``Embedder``, the extractor asks a ``PrototypeClassifier`` for the category of the
memories whose rules were unsure (see ``semantic.py``), embedding them all in one call per
``extract``. The text embedded is the memory's final content, the string the add path embeds
next, so an embedder with a cache in front of it (``CachedEmbedder``) computes each vector
once. Without an embedder the rules alone decide.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from ..types import ChatMessage, Embedder, ExtractedMemory
from .classify import PERSON_MENTION, categorise, doubt_of, focus
from .dates import resolve
from .examples import EXAMPLES
from .rewrite import to_third_person
from .scoring import confidence, importance
from .screen import PAST_FORMS, Screened, Verdict, screen, wish_fragment
from .segment import Sentence, clean, split_sentences
from .semantic import Filed, PrototypeClassifier

# A longer "sentence" is pasted material (a document, a log), not something said about oneself.
MAX_SENTENCE_CHARS = 400
MIN_CONTENT_CHARS = 3
MAX_CONTENT_CHARS = 500
EXAMPLE_TIME = datetime(2025, 1, 1, tzinfo=timezone.utc)  # examples carry no dates that matter

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


_SELF_TAIL = re.compile(r"(?:,|\s+[-\u2013\u2014]+)\s+(?=(?:I|I'm|I've|I'd|my|we|we're|our)\b)")
# "…for my wife, she loves gardening": the clause goes on about the person the task named.
_PERSON_TAIL = re.compile(r",\s+(?P<pronoun>he's|she's|he|she)\s+(?=\w)", re.I)


def _said_about_self(clause: str) -> str | None:
    """The clause after a comma that starts talking about the user (or about someone in their
    life the task named), if any."""
    found = _SELF_TAIL.search(clause)
    if found is not None:
        tail = clause[found.end() :].rstrip("?")
        return tail if len(tail.split()) >= 3 else None
    about = _PERSON_TAIL.search(clause)
    person = PERSON_MENTION.search(clause.lower(), 0, about.start()) if about is not None else None
    if about is None or person is None:
        return None
    rest = clause[about.end() :].rstrip("?")
    verb = " is " if about["pronoun"].lower().endswith("'s") else " "
    tail = clause[person.start() : person.end()] + verb + rest
    return tail if len(rest.split()) >= 2 else None


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
    if wish_fragment(text.lower(), text.split()[0].lower()):
        return f"I want {_lower_first(text)}"  # "Celsius only", "British spelling please"
    if _YOU_START.match(text):
        return f"I prefer that {_lower_first(text)}"
    if m := _NEGATED_START.match(text):
        return f"I want you to not {text[m.end() :]}"
    if _WANT_START.match(text):
        return f"I want {_lower_first(text)}"
    return f"I want you to {_lower_first(text)}"


@dataclass(frozen=True, slots=True)
class _Draft:
    """A memory whose text is settled and whose category may still change."""

    content: str
    category: str
    strength: int
    lower: str  # the first-person statement, lower-cased, for dates and scoring
    sentence: Sentence
    impersonal: bool
    reference: datetime
    index: int
    fragment: bool = False  # kept only if the classifier finds it worth keeping
    focus: str = ""  # what the classifier reads, when not the whole content


class RuleBasedExtractor:
    """Extracts memories from user messages with deterministic rules (see the package docs)."""

    name = "rules"

    def __init__(self, *, roles: Collection[str] = ("user",), embedder: Embedder | None = None) -> None:
        self._roles = frozenset(roles)
        self.classifier = (
            PrototypeClassifier(embedder, examples=self.example_memories) if embedder is not None else None
        )

    def example_memories(self) -> dict[str, list[str]]:
        """The classifier's example messages as this extractor's rules phrase them as memories."""
        memories: dict[str, list[str]] = {}
        for category, texts in EXAMPLES.items():
            for text in texts:
                drafts = [d.content for d in self._from_text(text, EXAMPLE_TIME, 0)]
                memories.setdefault(category, []).extend(drafts or [to_third_person(clean(text).text)])
        return memories

    def extract(self, messages: Sequence[ChatMessage], *, now: datetime) -> list[ExtractedMemory]:
        drafts, verdicts = self.filed(messages, now=now)
        return [_memory(draft, verdict) for draft, verdict in zip(drafts, verdicts, strict=True)]

    def filed(self, messages: Sequence[ChatMessage], *, now: datetime) -> tuple[list[_Draft], list[Filed]]:
        """The memories' drafts and how each is filed, before they become ``ExtractedMemory``."""
        drafts: list[_Draft] = []
        seen: set[str] = set()
        for index, message in enumerate(messages):
            if message.role not in self._roles or not message.content:
                continue
            for draft in self._from_text(message.content, message.occurred_at or now, index):
                key = draft.content.casefold()
                if key not in seen:
                    seen.add(key)
                    drafts.append(draft)
        # A fragment a specific cue filed ("pretty comfortable in Figma") is about the user as it stands.
        fragments = [i for i, d in enumerate(drafts) if d.fragment and d.strength < 2]
        if fragments:
            keep = self.classifier.worth_keeping([drafts[i].content for i in fragments]) if self.classifier else []
            dropped = {i for i, kept in zip(fragments, keep or [False] * len(fragments), strict=True) if not kept}
            drafts = [d for i, d in enumerate(drafts) if i not in dropped]
        ruled = [(d.category, d.strength) for d in drafts]
        verdicts = (
            self.classifier.refine([(d.focus or d.content).strip() for d in drafts], ruled)
            if self.classifier is not None
            else [Filed(category, strength, False) for category, strength in ruled]
        )
        return drafts, _carried_over(drafts, verdicts)

    def _from_text(self, text: str, reference: datetime, index: int) -> Iterator[_Draft]:
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
                tail = _said_about_self(clause)
                if tail and screened.verdict is Verdict.STANDING:
                    # "give me a checklist — i always check the drone first": "always" was the user's habit
                    head = screen(clause[: clause.rfind(tail)].rstrip(" ,-\u2013\u2014"))
                    if head.verdict is Verdict.INSTRUCTION:
                        screened = head
                if screened.verdict in (Verdict.INSTRUCTION, Verdict.QUESTION) and tail:
                    # "Help me plan dinners, I don't eat red meat": the task goes, the fact stays.
                    screened = screen(tail)
                if screened.verdict not in _DROPPED:
                    draft = _draft(screened, sentence, reference, index)
                    if draft is not None:
                        yield draft


# "my sink is leaking, who do I call", "…, help me structure it": a problem brought to be solved now.
_TASK_TAIL = re.compile(
    r",\s+(?:and\s+|so\s+|but\s+)?(?:(?:pls|please|plz)\s+)?(?:help|fix|sort|how\s+(?:do|can|should)\s+i|"
    r"(?:what|who|where)\s+(?:do|should|can)\s+i|(?:can|could|would)\s+(?:u|you)|any\s+(?:ideas|tips|suggestions|advice)|"
    r"ideas|thoughts|suggestions)\b[^,]*$",
    re.I,
)
# "I burned the toast", "watched the new Batman last night": an event of the moment.
_MOMENT_ANCHOR = re.compile(
    r"\b(?:last\s+night|this\s+(?:morning|afternoon|evening)|yesterday|today|tonight|right\s+now|just\s+now|earlier)\b"
    r"|\bagain$|^(?:i\s+)?just\s+(?:got\s+back|got\s+home|finished|woke\s+up)\b"
    # "my laptop keeps crashing", "I have a headache": a trouble of the moment
    r"|\bkeeps\s+\w+ing\b|^i\s+(?:have|'ve\s+got|got)\s+(?:a\s+)?(?:headache|hangover|cold|fever|sore\s+throat|stomach\s+ache)\b"
    r"|\b(?:rn|atm|this\s+week|for\s+a\s+(?:sec|second|minute|bit|moment))\b"
    # "i've got a meeting in 5": minutes away
    r"|\bin\s+(?:\d{1,2}|a\s+few|a\s+couple\s+of)\s*(?:min|mins|minutes|hrs?|hours?)?(?=\s*(?:$|,|so\b|and\b|but\b))"
    # "just spilled tea on my keyboard", "i burned the rice": a one-off deed
    rf"|^(?:i\s+)?just\s+(?:\w+ed|{PAST_FORMS})\b|^i\s+(?:\w+ed|{PAST_FORMS})\s+(?:the|my)\s+\w+$"
    # "my code won't compile", "the fan is making a noise": something not working, brought to be fixed
    r"|\b(?:won't|wont|doesn't|isn't|can't)\s+(?:compile|work|load|start|open|connect|turn\s+on|charge|boot|sync|print)\b"
    r"|\bis\s+making\s+(?:a|an|this|that|weird|strange)\b"
)
# Events whose outcome lasts, whenever they happened.
_LASTING = re.compile(
    r"\b(?:started|start|starting|moved|moving|diagnosed|engaged|married|born|passed\s+away|died|adopted|hired|"
    r"promoted|graduated|quit|retired|signed|new\s+job|pregnant|broke|fractured|surgery|failed|passed|became|"
    r"bought|joined|founded|launched|finished\s+(?:my|a)\s+(?:degree|phd|training|course|apprenticeship))\b"
)


_AIM_OPENING = re.compile(r"^(?:plan|goal|dream|aim|hope|target|resolution)\s+(?:is|was)\s+to\b", re.I)


def _unsure_and_passing(lower: str, strength: int) -> bool:
    """A statement no specific cue filed that is only a moment's event or the problem behind a
    request: nothing in it will still be true or useful next week."""
    return strength < 2 and _MOMENT_ANCHOR.search(lower) is not None and _LASTING.search(lower) is None


def _draft(screened: Screened, sentence: Sentence, reference: datetime, index: int) -> _Draft | None:
    if screened.verdict is Verdict.STANDING:
        statement = standing_as_statement(screened.text)
        category, strength = "preference", 2
    else:
        statement = screened.text
        if _AIM_OPENING.match(statement):
            statement = f"My {_lower_first(statement)}"  # "plan is to …" has left out its "my"
        task = _TASK_TAIL.search(statement)
        if task is not None:
            statement = statement[: task.start()]
        category, strength = categorise(statement.lower())
        if ((task is not None or screened.asks) and strength < 2) or _unsure_and_passing(statement.lower(), strength):
            return None
    content = to_third_person(statement)
    if not MIN_CONTENT_CHARS <= len(content) <= MAX_CONTENT_CHARS or " " not in content:
        return None
    fragment = screened.verdict is Verdict.FRAGMENT
    head = focus(statement)
    focus_text = to_third_person(head) if head != statement else ""
    return _Draft(
        content, category, strength, statement.lower(), sentence, screened.impersonal, reference, index, fragment,
        focus_text,
    )


# A sentence that goes on about what the one before it said ("I have a stepson. He's 12…").
_CONTINUES = re.compile(r"^(?:he|she|they|it|that|this|which|he's|she's|they're|it's|that's|his|her|their|both)\b")


def _carried_over(drafts: Sequence[_Draft], verdicts: Sequence[Filed]) -> list[Filed]:
    """A continuation takes the category of the memory before it in the same message, and
    keeps its own reading as doubt. So does a later memory of the message that no cue of the
    rules filed (nothing fired, or the embedding classifier overruled a weak cue): one message seldom holds memories of two categories (under 3% of the labelled
    messages), so an unsure second reading is more often the first one's topic said again
    ("I run before work every morning. Love having the streets to myself")."""
    out = list(verdicts)
    for i in range(1, len(drafts)):
        draft, before = drafts[i], drafts[i - 1]
        lead, own = out[i - 1], out[i]
        if before.index != draft.index or not (
            draft.impersonal or _CONTINUES.match(draft.lower) or own.by_embedding or own.strength == 0
        ):
            continue
        if own.category == lead.category:
            continue
        doubt = tuple(c for c in dict.fromkeys((own.category, *own.doubt, *lead.doubt)) if c != lead.category)
        out[i] = Filed(lead.category, min(lead.strength, 1), own.by_embedding, doubt)
    return out


def _memory(draft: _Draft, verdict: Filed) -> ExtractedMemory:
    category, strength = verdict.category, verdict.strength
    sentence = draft.sentence
    resolved = resolve(draft.lower, draft.reference)
    valid_at = resolved.value if resolved else None
    tags = [tag for tag, on in (("explicit", sentence.explicit), ("hedged", sentence.hedged)) if on]
    if resolved:
        tags.append(f"valid_at:{resolved.precision}")
    return ExtractedMemory(
        content=draft.content,
        category=category,
        importance=importance(
            category,
            draft.lower,
            explicit=sentence.explicit,
            hedged=sentence.hedged,
            impersonal=draft.impersonal,
            valid_at=valid_at,
            reference=draft.reference,
        ),
        confidence=confidence(
            strength, explicit=sentence.explicit, hedged=sentence.hedged, impersonal=draft.impersonal
        ),
        valid_at=valid_at,
        source_index=draft.index,
        tags=tuple(tags),
        also_categories=doubt_of(draft.lower, category, verdict.doubt),
    )
