"""Turn a short third-person memory into tagged tokens that two memories can be aligned on.

Memories are short statements ("Lives in Berlin", "Manager is Alice", "Has 2 kids"), so a
small hand-made lexicon goes a long way: what carries a value (numbers, dates, names), what
flips a statement (negation, a dislike verb), what is filler, and which relations hold one
value at a time (you live in one city) versus many (you can like several languages).

``detect`` tokenizes both memories on every call, and the same memories come back again and
again (an existing memory is compared with every new one that lands near it), so the tokens of
a text and the stem of a word are remembered in bounded LRU caches. Tokens are frozen, so one
cached tuple can be shared by every caller. The token cache holds the words of recently
compared memories in process memory (as every request that decrypts them does, for longer):
``clear_caches`` empties it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

from ..retrieval.stemmer import porter_stem

# Texts whose tokens are kept (about 3 MB when full: memories are short), and words whose
# stems are kept.
TOKEN_CACHE_SIZE = 2048
STEM_CACHE_SIZE = 16384


class Kind(Enum):
    WORD = "word"  # a content word
    NUMBER = "number"  # a quantity, a day of the month, a year, a time of day
    DATE = "date"  # a month, a weekday, "tomorrow"
    NEGATION = "negation"  # not, never, no, no longer, stopped, used to
    POLARITY = "polarity"  # like/love/prefer (+1), dislike/hate/avoid (-1)
    COPULA = "copula"  # is, are, was ...
    FUNCTION = "function"  # prepositions and conjunctions: frame glue, not content


@dataclass(frozen=True, slots=True)
class Token:
    key: str  # what alignment compares: stemmed, synonyms merged, case folded
    kind: Kind
    text: str = ""  # the case-folded word as written
    lemma: str = ""  # the stem before polarity verbs were merged (tells "prefer" from "like")
    proper: bool = False  # capitalised mid-sentence, all caps or camel case: a name
    polarity: int = 0


# Dropped entirely: they carry no subject and no value.
_FILLER = frozenset(
    """
    a an the user users they them their theirs he him his she her hers it its this that these
    those there does do did doing done also really very currently now still actually just
    quite so too usually always generally typically will would should can could might must
    shall anymore any more often sometimes i me my we our you your someone something
    """.split()
)
_FUNCTION_WORDS = frozenset(
    "in on at for to of with and or but from by about as into than over after before per every each via".split()
)
_COPULAS = frozenset("is are was were be been being am".split())
_NEGATORS = frozenset("not never no none nobody nothing neither nor without stopped quit".split())
_POSITIVE = frozenset("like likes liked love loves loved enjoy enjoys enjoyed prefer prefers preferred adore adores fan".split())
_NEGATIVE = frozenset("dislike dislikes disliked hate hates hated detest detests avoid avoids avoided loathe loathes".split())

_NUMBER_WORDS = {
    word: value
    for value, word in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_MONTHS = (
    "january february march april may june july august september october november december".split()
)
_MONTH_NAMES = {m: m for m in _MONTHS} | {m[:3]: m for m in _MONTHS} | {"sept": "september"}
DAY_WORDS = frozenset(
    "monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday tonight weekend".split()
)
# Past days named relative to when they are said, alone or after one of these words.
PAST_DAYS = frozenset(["yesterday"])
BEFORE_NOW = frozenset("last past".split())

# Same meaning, one key. Applied before stemming. Small on purpose: each entry is a
# restatement we saw extraction produce in two ways.
_SYNONYMS = {
    "kids": "kid", "children": "kid", "child": "kid", "kiddo": "kid",
    "has": "have", "had": "have", "owns": "have", "own": "have", "owned": "have",
    "called": "name", "named": "name", "names": "name",
    "mom": "mother", "mum": "mother", "dad": "father",
    "wife": "spouse", "husband": "spouse",
    "boyfriend": "partner", "girlfriend": "partner",
    "favourite": "favorite", "fave": "favorite", "colour": "color",
    "concise": "short", "brief": "short", "succinct": "short", "terse": "short",
    "detailed": "long", "thorough": "long", "lengthy": "long", "verbose": "long",
    "nighttime": "night",
    "job": "work", "works": "work", "working": "work", "worked": "work",
}  # fmt: skip

# Words that cannot both hold of the same thing (compared on stems, so plurals match).
_ANTONYM_WORDS: tuple[tuple[str, str], ...] = (
    ("dark", "light"), ("short", "long"), ("morning", "evening"), ("morning", "night"),
    ("early", "late"), ("hot", "cold"), ("warm", "cold"), ("formal", "casual"),
    ("formal", "informal"), ("introvert", "extrovert"), ("summer", "winter"),
    ("simple", "complex"), ("quiet", "loud"), ("quiet", "noisy"), ("spicy", "mild"),
    ("sweet", "savory"), ("fast", "slow"), ("high", "low"), ("big", "small"),
    ("remote", "office"), ("remotely", "office"), ("online", "offline"), ("online", "person"),
    ("vegetarian", "meat"), ("vegan", "meat"), ("yes", "no"), ("true", "false"),
)  # fmt: skip
# Ranks on one ladder: any two different rungs contradict each other.
_EXCLUSIVE_SETS: tuple[tuple[str, ...], ...] = (
    ("intern", "junior", "senior", "staff", "principal"),
    ("beginner", "intermediate", "advanced", "expert", "fluent", "native"),
    ("single", "engaged", "married", "divorced", "widowed"),
)
ANTONYMS: frozenset[frozenset[str]] = frozenset(
    [frozenset((porter_stem(a), porter_stem(b))) for a, b in _ANTONYM_WORDS]
    + [
        frozenset((porter_stem(a), porter_stem(b)))
        for ladder in _EXCLUSIVE_SETS
        for a in ladder
        for b in ladder
        if a != b
    ]
)

# Relations whose object changes when something new is true ("lives in", "works at",
# "prefers", "is named"). A different value for one of these is a contradiction.
SINGLE_VALUED = frozenset(
    porter_stem(w)
    for w in """live reside based located move relocate work employ prefer born marry name age
    favorite drive commute wake deadline due cost earn weigh height""".split()
)
# Things held one at a time, named by the word before them: "Is on the Growth plan" and "Is on
# the Starter plan" cannot both be true, though "is" alone lists traits ("Is a runner").
ONE_AT_A_TIME = frozenset(
    porter_stem(w)
    for w in "plan tier subscription package edition licence license level grade stage timezone office branch".split()
)
# Subjects that a person has one of: "Role is engineer" / "Role is designer" cannot both be
# true, whereas "Nature is beautiful" / "Nature is nice" can (``detect``: a copula after any
# other subject contradicts only with another name, number or date).
ATTRIBUTES = frozenset(
    porter_stem(w)
    for w in """nickname role title position occupation profession career major color colour
    nationality citizenship religion hometown status diet pronoun birthday anniversary weight
    size gender""".split()
)
# Values of which a thing has one at a time: "Car is red" / "Car is blue" contradict, where two
# descriptions ("Nature is beautiful" / "… is nice") both hold.
EXCLUSIVE_VALUES = frozenset(
    porter_stem(w)
    for w in """red blue green yellow orange purple violet pink brown black white grey gray
    silver gold beige navy teal turquoise maroon""".split()
)
# Relations that accumulate ("likes Python", "likes Go" are both true).
MULTI_VALUED = frozenset(
    porter_stem(w)
    for w in """like love enjoy adore fan use speak know play have visit read watch listen learn
    study eat drink cook collect interest support follow write build allergic travel attend
    take volunteer practice make go went try grow keep wear share post show""".split()
)
# A single-valued relation word that, followed by this word, holds many values: one works at
# one place, but on many things.
MULTI_VALUED_PHRASES = frozenset({(porter_stem("work"), "on")})

_TOKEN = re.compile(
    r"(?P<iso>\d{4}-\d{1,2}-\d{1,2})(?!\d)"
    r"|(?P<time>\d{1,2}:\d{2})(?!\d)"
    r"|(?P<number>\d+(?:[.,]\d+)*)(?P<suffix>[^\W\d_]*)"
    r"|(?P<word>[^\W\d_][^\W_]*(?:['’][^\W\d_]+)?(?:\+\+|#)?)"
    r"|(?P<stop>[.!?;])"
)
_NOT_CONTRACTION = re.compile(r"n['’]t\b", re.IGNORECASE)
_IRREGULAR = {"can't": "can not", "won't": "will not", "cannot": "can not", "ain't": "is not"}
# No two of these can match at one place, and no expansion makes another, so one pass over
# the alternation rewrites exactly what one pass per contraction would.
_IRREGULAR_PATTERN = re.compile("|".join(re.escape(c) for c in _IRREGULAR), re.IGNORECASE)
_DIGITS = re.compile(r"\d+")
# "Can't wait to see them" is eagerness, not a negation: read as "look forward to see them".
_EAGER = re.compile(r"\b(?:can['’]?t|cannot|can not)\s+wait\b", re.IGNORECASE)


def _expand_irregular(match: re.Match[str]) -> str:
    return _IRREGULAR[match[0].lower()]


def tokenize(text: str) -> list[Token]:
    """Tokens of one memory, filler removed, in order."""
    return list(cached_tokens(text))


def clear_caches() -> None:
    """Forget every cached tokenization and stem (for benchmarks and tests)."""
    cached_tokens.cache_clear()
    _stem.cache_clear()


@lru_cache(maxsize=TOKEN_CACHE_SIZE)
def cached_tokens(text: str) -> tuple[Token, ...]:
    """``tokenize`` as a shared tuple, computed once per text while it stays in the cache."""
    return tuple(_tokenize(text))


_stem = lru_cache(maxsize=STEM_CACHE_SIZE)(porter_stem)


def _tokenize(text: str) -> list[Token]:
    text = unicodedata.normalize("NFKC", text)
    text = _EAGER.sub("look forward", text)
    text = _IRREGULAR_PATTERN.sub(_expand_irregular, text)
    text = _NOT_CONTRACTION.sub(" not", text)

    tokens: list[Token] = []
    sentence_start = True
    for match in _TOKEN.finditer(text):
        if match.group("stop"):
            sentence_start = True
            continue
        if match.group("iso"):
            tokens.extend(_iso_date(match.group("iso")))
        elif match.group("time"):
            tokens.append(Token(match.group("time"), Kind.NUMBER))
        elif match.group("number"):
            tokens.extend(_number(match.group("number"), match.group("suffix").casefold()))
        else:
            _add_word(tokens, match.group("word"), sentence_start)
        sentence_start = False
    return _month_first(tokens)


def _month_first(tokens: list[Token]) -> list[Token]:
    """Write "15 March" and "15th of March" as "March 15", so both orders align."""
    ordered = list(tokens)
    i = 0
    while i < len(ordered) - 1:
        token = ordered[i]
        gap = 2 if ordered[i + 1].key == "of" and i + 2 < len(ordered) else 1
        after = ordered[i + gap]
        if token.kind is Kind.NUMBER and token.key.isdigit() and int(token.key) <= 31 and after.key in _MONTHS:
            ordered[i : i + gap + 1] = [after, token]
            i += 2
        else:
            i += 1
    return ordered


def _iso_date(token: str) -> list[Token]:
    year, month, day = (int(part) for part in token.split("-"))
    if not 1 <= month <= 12:
        return [Token(str(year), Kind.NUMBER), Token(str(month), Kind.NUMBER), Token(str(day), Kind.NUMBER)]
    return [Token(_MONTHS[month - 1], Kind.DATE), Token(str(day), Kind.NUMBER), Token(str(year), Kind.NUMBER)]


def _number(digits: str, suffix: str) -> list[Token]:
    plain = digits.replace(",", "")
    if _DIGITS.fullmatch(plain):
        plain = str(int(plain))
    if suffix in ("am", "pm", "k"):
        return [Token(plain + suffix, Kind.NUMBER)]  # 9am is not 9pm; 5k (a run, a salary) is not 5
    if suffix in ("", "st", "nd", "rd", "th"):
        return [Token(plain, Kind.NUMBER)]
    stem = _stem(suffix)
    return [Token(plain, Kind.NUMBER), Token(stem, Kind.WORD, text=suffix, lemma=stem)]  # 10km = 10 km


def _add_word(tokens: list[Token], word: str, sentence_start: bool) -> None:
    lower = word.casefold().replace("’", "'")
    if lower.endswith("'s"):
        lower = lower[:-2]  # the user's manager → user manager
    proper = _looks_like_a_name(word, sentence_start)
    previous = tokens[-1] if tokens else None

    # Two-word phrases decided by the word that completes them.
    if lower == "longer" and previous is not None and previous.text == "no":
        return  # "no longer": the "no" already negates
    if lower == "to" and previous is not None and previous.text == "used":
        tokens[-1] = Token("not", Kind.NEGATION)  # "used to live in" — no longer does
        return
    if lower in ("am", "pm") and previous is not None and previous.kind is Kind.NUMBER:
        tokens[-1] = Token(previous.key + lower, Kind.NUMBER, text=previous.text + lower)
        return
    if lower == "may" and not proper and not sentence_start:
        return  # the modal verb; "May" capitalised mid-sentence is the month

    if lower in _NUMBER_WORDS:
        tokens.append(Token(str(_NUMBER_WORDS[lower]), Kind.NUMBER, text=lower))
    elif lower in _MONTH_NAMES:
        tokens.append(Token(_MONTH_NAMES[lower], Kind.DATE, text=lower))
    elif lower in DAY_WORDS or lower.removesuffix("s") in DAY_WORDS:
        tokens.append(Token(lower if lower in DAY_WORDS else lower[:-1], Kind.DATE, text=lower))
    elif lower in _NEGATORS:
        tokens.append(Token("not", Kind.NEGATION, text=lower, lemma=lower))
    elif lower in _POSITIVE or lower in _NEGATIVE:
        sign = 1 if lower in _POSITIVE else -1
        # Like, love and prefer align as one key so "likes X" / "loves X" is a restatement;
        # the lemma keeps "prefer" apart for the single-valued test.
        key = "+pref" if sign > 0 else "-pref"
        tokens.append(Token(key, Kind.POLARITY, text=lower, lemma=_stem(lower), polarity=sign))
    elif lower in _COPULAS:
        tokens.append(Token("be", Kind.COPULA, text=lower, lemma="be"))
    elif lower in _FUNCTION_WORDS:
        tokens.append(Token(lower, Kind.FUNCTION, text=lower, lemma=lower))
    elif lower in _FILLER:
        return
    else:
        canonical = _SYNONYMS.get(lower, lower)
        stem = _stem(canonical)
        tokens.append(Token(stem, Kind.WORD, text=lower, lemma=stem, proper=proper))


def _looks_like_a_name(word: str, sentence_start: bool) -> bool:
    if word.islower():
        return False  # most words: no capital anywhere
    letters = [ch for ch in word if ch.isalpha()]
    if not letters or not any(ch.isupper() for ch in letters):
        return False
    if len(letters) >= 2 and all(ch.isupper() for ch in letters):
        return True  # AWS, NASA
    if any(ch.isupper() for ch in letters[1:]):
        return True  # iOS, PyTorch, McDonald
    # A capital at the start of a sentence says nothing: "Manager is Alice" vs "Exam is…".
    return not sentence_start
