"""Splitting a message into sentences and peeling off the words that carry no memory.

"Please remember that I prefer X" and "By the way, I prefer X" both come out as "I prefer X",
with a note that the user asked for it to be remembered (which raises importance and confidence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TRANSLATE = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u00b4": "'", "\u00a0": " "})
_CODE_FENCE = re.compile(r"```.*?(?:```|$)", re.S)
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\ufe0f\u200d]+")
_BREAK = re.compile(r"(?<=[.!?\u2026])\s+|\s*\n\s*")
_BULLET = re.compile(r"^(?:[-*\u2022\u00b7>]+|\d{1,2}[.)])\s+")
_ABBREVIATION_END = re.compile(
    r"(?:\b(?:e\.g|i\.e|etc|dr|mr|mrs|ms|st|vs|approx|jr|sr|no|inc|ltd|co|a\.m|p\.m|u\.s|u\.k|prof|rev|fr|sgt|"
    r"capt|col|lt|gen|dept|cert|assoc|univ)|\b[A-Z])\.$",
    re.I,
)
_LOWER_I = re.compile(r"(?<![\w'.])i(?=['\s,;:!?]|$)")
_LOWER_IM = re.compile(r"\b[Ii]m\b")
# Chat drops apostrophes ("ive", "dont"): put them back so the rules and the rewriter see one
# spelling. "id" and "ill" are words too, so only before what only "I'd"/"I'll" would precede.
_BARE_CONTRACTIONS = {
    "ive": "I've", "dont": "don't", "doesnt": "doesn't", "didnt": "didn't", "cant": "can't",
    "wont": "won't", "isnt": "isn't", "arent": "aren't", "wasnt": "wasn't", "werent": "weren't",
    "havent": "haven't", "hasnt": "hasn't", "hadnt": "hadn't", "couldnt": "couldn't",
    "wouldnt": "wouldn't", "shouldnt": "shouldn't", "thats": "that's", "theres": "there's",
    "whos": "who's", "hes": "he's", "shes": "she's", "theyre": "they're", "youre": "you're",
    "wanna": "want to", "tryna": "trying to", "tryin": "trying", "gotta": "have to",
    "gimme": "give me", "lemme": "let me",
}
# Frequent misspellings of words the rules look for ("allways", "becuase", "perfer").
_TYPOS = {
    "allways": "always", "alwyas": "always", "alway": "always", "evry": "every", "everytime": "every time",
    "becuase": "because", "becasue": "because", "rahter": "rather",
    "perfer": "prefer", "prefere": "prefer", "realy": "really", "reccomend": "recommend", "recomend": "recommend",
    "reccommend": "recommend", "definately": "definitely", "defintely": "definitely", "freind": "friend",
    "freinds": "friends", "beleive": "believe", "excercise": "exercise", "seperate": "separate", "alot": "a lot",
    "untill": "until", "thier": "their", "usally": "usually", "usualy": "usually", "normaly": "normally",
    "alergic": "allergic", "allergick": "allergic", "vegitarian": "vegetarian",
    "experiance": "experience", "expirience": "experience", "profesional": "professional", "certifed": "certified",
    "qualifed": "qualified", "licenced": "licensed", "wanna": "want to", "hlp": "help", "halp": "help",
}
_TYPO = re.compile(r"\b(?:" + "|".join(k for k, v in _TYPOS.items() if k != v) + r")\b", re.I)
_BARE_CONTRACTION = re.compile(r"\b(?:" + "|".join(_BARE_CONTRACTIONS) + r")\b", re.I)
_BARE_ID = re.compile(
    r"\b[Ii]d(?=\s+(?:love|like|prefer|rather|say|take|want|be|never|probably|really|much|also|always|"
    r"definitely|honestly|appreciate|choose|pick|go|have)\b)"
)


def _restore_apostrophe(match: re.Match[str]) -> str:
    word = match[0]
    restored = _BARE_CONTRACTIONS[word.lower()]
    return restored if word[:1].islower() or restored[:1] == "I" else restored[:1].upper() + restored[1:]

_REMEMBER = re.compile(
    r"^(?:please\s+)?"
    r"(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?"
    r"|i\s+(?:want|need|would\s+like|'d\s+like)\s+you\s+to\s+"
    r"|(?:i\s+)?(?:just\s+)?(?:wanted|want)\s+to\s+let\s+you\s+know\s+)?"
    r"(?:remember|note|keep\s+in\s+mind|make\s+a\s+note(?:\s+of)?|take\s+note|note\s+down|save|store|"
    r"memori[sz]e|don't\s+forget|do\s+not\s+forget|know|let\s+you\s+know)"
    r"(?:\s+(?:this|that|of\s+this))?"
    r"\s*(?:that\s+|[:,\-\u2013\u2014]\s*|(?=(?:i|my|we|our|me)\b))",
    re.I,
)
_LEADING = re.compile(
    r"^(?:by\s+the\s+way|btw|fyi|for\s+context|for\s+the\s+record|for\s+future\s+reference|"
    r"for\s+reference|just\s+so\s+you\s+know|so\s+you\s+know|as\s+you\s+know|as\s+i\s+said|"
    r"like\s+i\s+said|to\s+be\s+honest|tbh|ngl|honestly|actually|basically|also|oh\s+and|and\s+also|"
    # interjections: "lol you sound like my teacher", "nope you misunderstood me"
    r"lol|lmao|omg|ugh|welp|nope|nah|yep|yup|"
    r"and|but|so|well|ok(?:ay)?\s+so|ok(?:ay)?|alright|anyway|anyways|um+|uh+|oh|hey|hi|hello|"
    r"yeah|yes|quick\s+note|side\s+note|one\s+more\s+thing|update|fun\s+fact|in\s+case\s+it\s+matters|"
    r"please|pls|now)\b(?:\s*[,:;!.]+\s*|\s+[-\u2013\u2014]+\s+|\s+)"
    r"|^(?:nice|cool|great|perfect|awesome|(?:thanks|thank\s+you|thx|ty)(?:\s+(?:a\s+(?:lot|million|bunch|ton)|so\s+much|"
    r"very\s+much|again|heaps|loads))?|sure|right|got\s+it|sounds\s+good|wow|ah|oh|"
    r"sorry|hmm+|haha+|lol)\s*[,!.]+\s*",
    re.I,
)
_HEDGE_PREFIX = re.compile(
    r"^(?:i\s+think|i\s+guess|i\s+believe|i\s+suppose|i\s+feel\s+like|maybe|probably|perhaps|"
    r"i'm\s+pretty\s+sure|pretty\s+sure)\s*,?\s+(?:that\s+)?(?=(?:i|my|we|our)\b)",
    re.I,
)
_HEDGE_ANYWHERE = re.compile(
    r"\b(?:maybe|probably|perhaps|possibly|might|kinda|sort\s+of|kind\s+of|i\s+think|i\s+guess|not\s+sure)\b",
    re.I,
)
_TRAILING = re.compile(
    r"(?:[\s,]+(?:lol|lmao|haha+|hehe+|thanks|thank\s+you|thx|please|pls|btw|though|tho|fyi|:\)|:\(|:d|;\)|xd)"
    r"|\s*[!.\u2026]+|\s+)+$",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    explicit: bool  # the user asked for it to be remembered
    hedged: bool


def normalise(text: str) -> str:
    text = _CODE_FENCE.sub(" ", text.translate(_TRANSLATE))
    return _EMOJI.sub(" ", text)


# "Bullet points, not paragraphs. Always." — a sentence that only says "for good" belongs to the one before.
_STANDING_ALONE = re.compile(
    r"^(?:and\s+)?(?:always|every\s+time|from\s+now\s+on|going\s+forward|in\s+general|by\s+default|for\s+good)"
    r"(?:\s+(?:please|pls|plz))?[.!]*$",
    re.I,
)


def split_sentences(text: str) -> list[str]:
    """Sentences of one message, bullets removed, abbreviations ("e.g.") not taken as ends."""
    pieces: list[str] = []
    for raw in _BREAK.split(normalise(text)):
        piece = _BULLET.sub("", raw.strip())
        if not piece:
            continue
        if pieces and _ABBREVIATION_END.search(pieces[-1]):
            pieces[-1] = f"{pieces[-1]} {piece}"
        elif pieces and _STANDING_ALONE.match(piece):
            pieces[-1] = f"{pieces[-1].rstrip('.!')}, {piece.lower()}"
        else:
            pieces.append(piece)
    return pieces


def clean(sentence: str) -> Sentence:
    """Strip openers ("Actually,", "Please remember that"), trailing filler and hedges."""
    text = _TYPO.sub(lambda m: _TYPOS[m[0].lower()], " ".join(sentence.split()))
    text = _BARE_CONTRACTION.sub(_restore_apostrophe, text)
    text = _LOWER_IM.sub("I'm", _LOWER_I.sub("I", _BARE_ID.sub("I'd", text)))
    explicit = hedged = False
    for _ in range(4):
        stripped = _REMEMBER.sub("", text, count=1)
        if stripped != text:
            explicit = True
            text = stripped
            continue
        stripped = _LEADING.sub("", text, count=1)
        if stripped == text:
            stripped = _HEDGE_PREFIX.sub("", text, count=1)
            if stripped == text:
                break
            hedged = True
        text = stripped
    if explicit:
        # "Can you remember that I'm allergic to shellfish?" is a statement, not a question.
        text = text.rstrip("? ")
    text = _TRAILING.sub("", text)
    hedged = hedged or bool(_HEDGE_ANYWHERE.search(text))
    return Sentence(text=text, explicit=explicit, hedged=hedged)
