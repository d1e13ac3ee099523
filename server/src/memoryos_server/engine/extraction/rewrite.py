"""Rewriting a first-person sentence as a memory: third person, no subject pronoun.

"I prefer short answers"            -> "Prefers short answers"
"My sister Anna lives in Berlin"    -> "Sister Anna lives in Berlin"
"When I deploy, I always run X"     -> "When deploying, always runs X"
"I'm Brazilian but live in Porto"   -> "Is Brazilian but lives in Porto"
"My husband works nights so I cook" -> "Husband works nights so they cook"
"Every morning I check my email"    -> "Checks their email every morning"

The main clause loses its "I" and its verb moves to the third person; "I" after "when",
"before", "while"… becomes a gerund; "I" anywhere else becomes "they" (the verb keeps its
plural form). "my" opening the sentence is dropped, elsewhere it becomes "their". "you" is the
assistant. Everything is deterministic and works token by token, with no parser.
"""

from __future__ import annotations

import re

from .inflect import gerund, is_finite_unchanged, is_past, third_person
from .lexicon import (
    ADVERBS,
    AUX_AFTER_DROPPED_I,
    BASE_VERBS,
    GERUND_SUBORDINATORS,
    MODALS,
    NEGATIVE_AFTER_DROPPED_I,
    NOT_NAMES,
    RELATION_NOUNS,
    THEY_SUBORDINATORS,
    VERB_FOLLOWERS,
)

# One pass for every contraction the walker needs spelled out ("I'm" -> "I am").
_CONTRACTION = re.compile(
    r"\b(?:[Hh]ave|[Hh]as|I've|[Ww]e've|[Yy]ou've|[Tt]hey've)\s+got(?=\s+(?:to|an?|the|my|our|no|some|two|three|\d)\b)"
    r"|\b(?:I'(?:m|ve|ll|d)|(?:[Ww]e|[Yy]ou|[Tt]hey)'(?:re|ve|ll|d)|gonna|wanna|gotta)\b"
)
_CONTRACTION_TAILS = {"'m": " am", "'ve": " have", "'ll": " will", "'re": " are"}
_WHOLE_WORDS = {"gonna": "going to", "wanna": "want to", "gotta": "have to"}
_HAD_AFTER = re.compile(r"\s+(?:been|had|gone|done|seen|got|taken|made|already)\b")


def _spell_out(match: re.Match[str]) -> str:
    word = match[0]
    if word in _WHOLE_WORDS:
        return _WHOLE_WORDS[word]
    if word.endswith("got"):
        # "have got a" -> "have a", "I've got to" -> "I have to"
        first = word.split()[0]
        return first.replace("'ve", " have")
    subject, _, tail = word.partition("'")
    if tail == "d":
        # "I'd been" is "I had been"; "I'd like" is "I would like".
        return subject + (" had" if _HAD_AFTER.match(match.string, match.end()) else " would")
    return subject + _CONTRACTION_TAILS["'" + tail]


_TOKEN = re.compile(r"([A-Za-z0-9]+(?:['\-][A-Za-z0-9]+)*'?|[^\sA-Za-z0-9])(\s*)")

_CALL_ME = re.compile(r"^(?:you\s+can\s+|please\s+)?call\s+me\s+(.+)$", re.I)
_NAME = re.compile(r"^I am ([A-Z][a-z]+)(?=\s*(?:,|$))")
_WITH_SOMEONE = re.compile(rf"^(?:[Mm]y|[Mm]e and my)\s+((?:[\w'-]+\s+)?(?:{RELATION_NOUNS}))\s+and\s+I\s+(.+)$", re.I)
_WITH_NAMED = re.compile(r"^([A-Z][a-z]+)\s+and\s+I\s+(.+)$")
_FRONTED = re.compile(
    r"^((?!(?:every|each)\s+time\b)(?:every|each|on|at|in|during|after|before|this|next|last|most|eventually|usually|normally|"
    r"sometimes|often|lately|recently|currently|nowadays|these\s+days|long[- ]term|for|today|"
    r"tomorrow|tonight|yesterday)\b(?:(?!\b(?:I|we|We)\b)[^,]){0,48}?),?\s+((?:I|we|We)\s+.+)$",
    re.I,
)
_SUBJECTLESS_VERB = frozenset("love like hate prefer enjoy adore want need hope plan".split())
_SUBJECTLESS_ING = frozenset(
    """trying hoping planning aiming working training preparing studying learning saving looking
    thinking getting going moving living starting building""".split()
)
_SUBJECTLESS_ADJECTIVE = frozenset("allergic vegetarian vegan fluent".split())
_CLAUSE_PUNCTUATION = frozenset({",", ";", ":", "\u2014", "\u2013", "-", "("})
_COORDINATORS = frozenset({"and", "or", "but", "then", "plus", "yet"})
_NOT_ADVERB_LY = frozenset("apply reply rely supply fly ally comply multiply imply family only".split())
_WORK_CONTEXT = re.compile(
    r"\b(?:team|work|office|sprint|standups?|release|deploy\w*|pull\s+requests?|prs?|repos?|code|"
    r"commits?|ci|production|customers?|clients?|company|startup|engineers?|jira|slack|meetings?|product)\b",
    re.I,
)
_ARTIFACTS = re.compile(r"\s+([,;:.!?])")
_STARTS_WITH_SUBJECT = re.compile(r"(?:I|[Ww]e|[Mm]y|[Oo]ur)\b")


def _expand(text: str) -> str:
    return _CONTRACTION.sub(_spell_out, text)


def _is_adverb(lower: str) -> bool:
    return lower in ADVERBS or (len(lower) > 4 and lower.endswith("ly") and lower not in _NOT_ADVERB_LY)


def _finish(text: str) -> str:
    text = _ARTIFACTS.sub(r"\1", " ".join(text.split()))
    text = text.strip(" ,;:-\u2013\u2014").rstrip(".!")
    return text[:1].upper() + text[1:]


class _Walker:
    """One pass over the tokens of a sentence, rewriting pronouns and the verbs they govern."""

    def __init__(self, text: str) -> None:
        self.tokens = [[word, space] for word, space in _TOKEN.findall(text)]
        self.work = bool(_WORK_CONTEXT.search(text))
        self.out: list[list[str]] = []
        self.coordinate = False  # conjugate "and plan" after a dropped subject
        self.subordinate_open = False  # sentence opened with "When I …" and no comma yet
        self.assistant_named = False

    def run(self) -> str:
        tokens = self.tokens
        i = 0
        while i < len(tokens):
            word = tokens[i][0]
            lower = word.lower()
            if word == "I" or lower == "we":
                i = self._subject(i, lower)
                continue
            if lower in ("you", "your", "yours", "yourself"):
                i = self._second_person(i, lower)
                continue
            if word == ",":
                self.subordinate_open = False
            if lower in ("please", "pls"):
                i += 1
                continue
            if lower == "to" or lower in MODALS:
                self.coordinate = False
            replaced = self._pronoun(i, lower)
            if replaced is None and self.coordinate and self._is_coordinated_verb(i, lower):
                replaced = third_person(word)
            if replaced != "":
                self.out.append([replaced if replaced is not None else word, tokens[i][1]])
            i += 1
        return "".join(word + space for word, space in self.out)

    def _pronoun(self, i: int, lower: str) -> str | None:
        if lower in ("my", "our"):
            return "" if i == 0 else "their"
        return {
            "me": "them",
            "myself": "themselves",
            "mine": "theirs",
            "us": "them",
            "ours": "theirs",
            "ourselves": "themselves",
        }.get(lower)

    def _is_coordinated_verb(self, i: int, lower: str) -> bool:
        if lower not in BASE_VERBS or i == 0:
            return False
        previous = self.tokens[i - 1][0].lower()
        if previous not in _COORDINATORS and previous != ",":
            return False
        following = self.tokens[i + 1][0].lower() if i + 1 < len(self.tokens) else ""
        return following in VERB_FOLLOWERS or following[:1].isdigit()

    def _verb_index(self, start: int) -> int:
        j = start
        while j < len(self.tokens) - 1 and _is_adverb(self.tokens[j][0].lower()):
            j += 1
        return j

    def _mode(self, i: int) -> str:
        if i == 0:
            return "drop"
        previous = self.tokens[i - 1][0].lower()
        if previous in _CLAUSE_PUNCTUATION:
            return "drop"
        if previous in _COORDINATORS:
            # "…, Sam and I went" is a compound subject, not a new clause.
            before = self.tokens[i - 2][0] if i >= 2 else ""
            opener = self.tokens[i - 3][0].lower() if i >= 3 else ","
            compound = previous == "and" and before[:1].isupper() and opener in _CLAUSE_PUNCTUATION
            return "they" if compound else "drop"
        if previous in GERUND_SUBORDINATORS:
            self.subordinate_open = self.subordinate_open or i == 1
            return "gerund"
        if previous in THEY_SUBORDINATORS:
            self.subordinate_open = self.subordinate_open or (i == 1 and previous == "if")
            return "they"
        if self.subordinate_open:
            # "When I review PRs I start with the tests": the second "I" opens the main clause.
            self.subordinate_open = False
            if self.out:
                self.out[-1][0] += ","
            return "drop"
        return "they"

    def _subject(self, i: int, lower: str) -> int:
        tokens = self.tokens
        mode = self._mode(i)
        j = self._verb_index(i + 1)
        if j >= len(tokens):
            self.out.append(["they", tokens[i][1]])
            return i + 1
        verb = tokens[j][0]
        verb_lower = verb.lower()
        if mode == "gerund":
            if verb_lower in ("am", "are") and j == i + 1 and not self._next_is(j, "not"):
                return j + 1  # "when I am stuck" -> "when stuck"
            if (
                j == i + 1
                and verb.isalpha()
                and not is_finite_unchanged(verb_lower)
                and verb_lower not in AUX_AFTER_DROPPED_I
            ):
                self.out.append([gerund(verb), tokens[j][1]])
                return j + 1
            mode = "they"
        if mode == "they":
            self.out.append(["they", tokens[i][1]])
            for k in range(i + 1, j):
                self.out.append(tokens[k])
            plural = {"am": "are", "was": "were", "wasn't": "weren't"}.get(verb_lower, verb)
            self.out.append([plural, tokens[j][1]])
            self.coordinate = False
            return j + 1
        # drop: the main clause. "we" at work is the team; elsewhere, mid-sentence, "they".
        if lower == "we" and self.work:
            self.out.append(["Team" if not self.out else "the team", tokens[i][1]])
        elif lower == "we" and self.out:
            self.out.append(["they", tokens[i][1]])
            self.out.extend(tokens[i + 1 : j + 1])
            self.coordinate = False
            return j + 1
        for k in range(i + 1, j):
            self.out.append(tokens[k])
        self.out.append([self._conjugate(verb), tokens[j][1]])
        self.coordinate = not (verb_lower in MODALS or is_past(verb_lower) or verb_lower in NEGATIVE_AFTER_DROPPED_I)
        return j + 1

    def _conjugate(self, verb: str) -> str:
        lower = verb.lower()
        if lower in AUX_AFTER_DROPPED_I:
            return AUX_AFTER_DROPPED_I[lower]
        if lower in NEGATIVE_AFTER_DROPPED_I:
            return NEGATIVE_AFTER_DROPPED_I[lower]
        if not verb.replace("-", "").isalpha():
            return verb
        return third_person(lower)

    def _next_is(self, j: int, word: str) -> bool:
        return j + 1 < len(self.tokens) and self.tokens[j + 1][0].lower() == word

    def _second_person(self, i: int, lower: str) -> int:
        tokens = self.tokens
        named = self.assistant_named
        self.assistant_named = True
        if lower in ("your", "yours"):
            self.out.append(["its" if named else "the assistant's", tokens[i][1]])
            return i + 1
        if lower == "yourself":
            self.out.append(["itself", tokens[i][1]])
            return i + 1
        previous = tokens[i - 1][0].lower() if i else ""
        following = tokens[i + 1][0].lower() if i + 1 < len(tokens) else ""
        is_subject = (
            (
                i == 0
                or previous in THEY_SUBORDINATORS
                or previous in GERUND_SUBORDINATORS
                or previous in _CLAUSE_PUNCTUATION
            )
            and following.isalpha()
            and following not in VERB_FOLLOWERS
        )
        self.out.append(["it" if named else "the assistant", tokens[i][1]])
        if is_subject:
            j = self._verb_index(i + 1)
            for k in range(i + 1, j):
                self.out.append(tokens[k])
            self.out.append([self._conjugate(tokens[j][0]), tokens[j][1]])
            return j + 1
        return i + 1


def _subjectless(text: str) -> str:
    """ "Love running in the rain" -> "Loves running in the rain"; "Trying to …" -> "Is trying to …"."""
    first, _, rest = text.partition(" ")
    lower = first.lower()
    if lower in _SUBJECTLESS_VERB:
        return f"{third_person(lower)} {rest}"
    if lower in _SUBJECTLESS_ING or lower in _SUBJECTLESS_ADJECTIVE:
        return f"Is {text[:1].lower()}{text[1:]}"
    if lower == "not" and rest.lower().startswith(("a fan", "a big fan", "much of a", "into")):
        return f"Is {text[:1].lower()}{text[1:]}"
    if lower in ("big", "huge") and rest.lower().startswith("fan"):
        return f"Is a {text[:1].lower()}{text[1:]}"
    if lower == "been":
        return f"Has {text[:1].lower()}{text[1:]}"
    return text


def to_third_person(sentence: str) -> str:
    """The memory text for a cleaned first-person sentence."""
    text = _expand(sentence)
    if m := _CALL_ME.match(text):
        return _finish(f"Prefers to be called {m[1]}")
    if (m := _NAME.match(text)) and m[1].lower() not in NOT_NAMES:
        text = f"Name is {m[1]}{text[m.end() :]}"
    if m := _WITH_SOMEONE.match(text):
        companion = m[1]
        return _finish(f"{to_third_person('I ' + m[2])} with their {companion}")
    if m := _WITH_NAMED.match(text):
        return _finish(f"{to_third_person('I ' + m[2])} with {m[1]}")
    if m := _FRONTED.match(text):
        adverbial = m[1]
        text = f"{m[2]} {adverbial[:1].lower()}{adverbial[1:]}"
    if not _STARTS_WITH_SUBJECT.match(text):
        text = _subjectless(text)
    return _finish(_Walker(text).run())
