"""Deciding whether a sentence is worth remembering at all.

Most of what people type to an assistant is not a memory: greetings, questions, instructions
about the reply being written, remarks about the conversation itself. This module says which
of those a sentence is, so the extractor can drop it, and spots the one kind of instruction
worth keeping: a standing one ("always use metric units"), which becomes a preference.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace

from .dates import mentions_date
from .lexicon import ADVERBS, BASE_VERBS, FIRST_PERSON, IRREGULAR_PAST, UNINFORMATIVE


class Verdict(enum.Enum):
    KEEP = "keep"
    STANDING = "standing"  # an instruction for every future reply: a preference
    SMALL_TALK = "small_talk"
    QUESTION = "question"
    INSTRUCTION = "instruction"  # a one-off request about the current reply or task
    ABOUT_CONVERSATION = "about_conversation"
    NOT_ABOUT_USER = "not_about_user"
    CONTENT_FREE = "content_free"
    FRAGMENT = "fragment"  # never names the user, and may still be about them ("Black belt, judo")


@dataclass(frozen=True, slots=True)
class Screened:
    verdict: Verdict
    text: str  # may be shorter than the input: "I'm planning X, what should I pack?" keeps "I'm planning X"
    impersonal: bool = False  # kept although it never names the user ("The deadline is next Friday")
    # A question about the statement was cut off ("my sourdough came out flat, what went wrong?"):
    # the statement is the problem behind a request, kept only when a specific cue files it.
    asks: bool = False


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)*")

_SMALL_TALK_VOCAB = frozenset(
    """hi hello hey heya hiya yo there good morning afternoon evening night day thanks thank you
    thx ty cheers so much a lot ok okay k kk cool nice great awesome perfect sure yes yeah yep
    yup no nope nah lol lmao haha hahaha hehe hmm hm wow oops bye goodbye see ya cya later
    tomorrow soon brb gtg np worries sounds got it makes sense fair enough never mind nvm
    exactly indeed interesting same here me too of course please pls welcome alright right
    agreed true totally amazing again all done bro dude man mate sir test testing asdf ugh""".split()
)

# Besides the shared list: negations, words about the conversation itself ("another question",
# "a different approach") and passing states ("I'm so stressed right now").
_NOT_INFORMATIVE = UNINFORMATIVE | frozenset(
    """don't doesn't didn't can't won't isn't aren't wasn't weren't haven't hasn't wouldn't
    couldn't shouldn't appreciate find found glad hope also right rather thinking question
    questions request favor favour another quick broken fixed approach option options idea
    ideas version different alternative instead stressed anxious nervous upset overwhelmed
    sick cold hot u ur ya forget forgot sometimes convinced certain disagree""".split()
)
_EVALUATIVE = frozenset(
    """annoying distracting boring confusing amazing terrible awful horrible hard easy difficult
    simple weird strange cute lovely perfect helpful useful clear unclear long short""".split()
)
_BARE_PRONOUN = re.compile(r"\b(?:it|them|that|this|those|these)\b")

_QUESTION_START = re.compile(
    r"^(?:what|what's|whats|wats|wat|how|how's|hows|hw|why|where|where's|who|who's|which|whose|anyone|anybody|"
    r"is|are|am|was|were|does|"
    r"i\s+(?:was|am|'m)\s+wondering|i\s+wonder|wondering)(?=\s|$)"
    r"|^any\s+(?:ideas?|tips?|suggestions?|recommendations?|recs|thoughts|advice|good|chance|way|news|update)\b"
    # An auxiliary opens a question before its subject ("do you…", "could I…"); "did two years
    # of law school" and "would prefer metric" are statements with the "I" left out.
    r"|^(?:do|did|has|have|had|can|could|would|will|shall|should|may|might)\s+"
    r"(?:you|u|ya|i|we|they|he|she|it|there|this|that|these|those|the|a|an|my|your|ur|anyone|anybody|"
    r"someone|somebody|people|any|not|n't)\b"
)
# ", what should I pack?" - the question tail of a sentence that opens with a statement.
_QUESTION_TAIL = re.compile(
    r",\s+(?:and\s+|so\s+|but\s+)?(?:what|how|why|where|who|which|can|could|would|will|should|do|"
    r"does|did|is|are|any|anything|thoughts|ideas|suggestions|tips)\b[^,]*\?$"
    # "…, what could it be", "…, who do you think wins": a wh-word and an auxiliary ask without "?"
    r"|,\s+(?:and\s+|so\s+|but\s+)?(?:what|how|why|where|who|which)\s+(?:could|should|would|can|do|does|did|is|are|was|"
    r"went|might|will)\b[^,]*$"
)
_REQUEST_FOR_HELP = re.compile(
    r"^(?:i\b\s*)?(?:(?:really|just|kinda)\s+)?(?:need|want|would\s+like|'d\s+like)\s+"
    r"(?:you\s+to|your\s+help|help|some\s+help|assistance|(?:a|an|some)\s+(?:\w+\s+){0,2}?(?:recipe|idea|ideas|"
    r"suggestion|suggestions|name|names|gift|title|word|example|examples|list|template|summary|quote|joke|"
    r"poem|story|caption|slogan|tagline|message|card|speech|toast|email|letter|note|playlist|itinerary|menu)\b)"
    # "I'm looking for a good pizza place" asks for suggestions; a job or a home is a goal.
    r"|^i(?:'m|\s+am)\s+(?:\w+\s+)?looking\s+for\s+(?!(?:a\s+)?(?:new\s+)?(?:job|role|position|house|home|flat|"
    r"apartment|place\s+to\s+live|partner|internship|cofounder|co-founder)\b)"
)
# "Here's my code: …", "This is the error: …" - what follows the colon is pasted, not said.
_PASTED = re.compile(r"^(?:here(?:'s|\s+is|\s+are)|below\s+is|this\s+is|these\s+are)\b[^:]{0,60}:")
_STANDING_OPENER = re.compile(r"^(?:from\s+now\s+on|going\s+forward|in\s+(?:the\s+)?future|by\s+default)\s*,?\s+")
_YOU_SUBJECT = re.compile(r"^(?:you|you're|you've|you'll|you'd|your|yours|u|ur)\b")
# Remarks about what was just said: "that made me laugh", "I think you made a mistake", "never
# mind", "I have a question about taxes", "I tried that already". Their subject or object is the
# conversation itself, so nothing in them is about the user.
_ABOUT_CONVERSATION = re.compile(
    r"^(?:that|this)(?:'s|s|\s+(?:is|was|makes|made|sounds|sounded|looks|looked|works|worked|helps|helped|saved|did|does|"
    r"seems|seemed|explains|answers|changes))\b"
    r"|^it\s+(?:makes|made|works|worked|helps|helped|sounds|looks)\b"
    # "I think you made a mistake", "I guess that makes sense" (but "I think you live in Paris", an
    # assistant's guess a caller may opt in to, is about the user)
    r"|^i\s+(?:think|guess|suppose|feel\s+like|believe|reckon)\s+(?:that\s+)?(?:(?:you|u)\s+(?:\w+ed|made|got|forgot|"
    r"missed|misread|mean|meant|are|'re|were|should|could|might|have|'ve)\b|ur\b|your\b|that\b|this\b|it\b)"
    r"|^(?:never\s*mind|nvm)\b|^let\s+me\b"
    r"|^i\s+(?:have|'ve\s+got|have\s+got|got)\s+(?:a|another|one|some|a\s+few|two|a\s+couple\s+of)\s+"
    r"(?:(?:quick|small|silly|dumb|random|weird|follow-up|last)\s+)?(?:question|questions|request|favou?r)\b"
    r"|\b(?:tried|checked|tested|did|done)\s+(?:that|this|it)(?=\s+(?:already|before|too|and|but)\b|\s*[,.;]|$)"
    r"|\bam\s+i\s+(?:right|wrong)$"
)
_CALL_ME = re.compile(r"^(?:you\s+can\s+|please\s+)?call\s+me\s+\w")
_POLITE_REQUEST = re.compile(r"^(?:can|could|would|will)\s+you\s+(?:please\s+)?")
# "I'm so tired", "sry I was busy", "my laptop is so slow today": how things are right now.
_PASSING_STATE = re.compile(
    r"^(?:sorry,?\s+|sry,?\s+)?i(?:'m|\s+am|\s+was|\s+feel)\s+(?:so\s+|really\s+|just\s+|kinda\s+|a\s+bit\s+|still\s+|"
    r"super\s+|very\s+)*(?:\w+ing|tired|tierd|busy|bored|sick|sleepy|hungry|stressed|confused|lost|stuck|late|done|"
    r"back|here|exhausted|wiped|dead|cold|hot|freezing|starving|knackered|shattered)"
    # "I'm exhausted, long week": a state with a short reason that says nothing more of the user
    r"(?:$|,\s+(?!(?:i|i'm|i've|my|but|and|so|because)\b)[^,]{1,30}$)"
    r"|^i\s+(?:can't|cannot)\s+sleep$"
    # "I just want to vent for a sec", "… and i want to scream": a feeling of the moment, not an aim
    r"|\bi\s+(?:just\s+|really\s+)?(?:want|need|wanna)\s+to\s+(?:vent|scream|cry|rant|nap|hide|die|throw\s+up)\b"
    r"|\b(?:bored|tired|sick)\s+(?:out\s+of\s+my\s+mind|to\s+death)\b"
    r"|\b(?:today|tonight|this\s+(?:morning|afternoon|evening)|just\s+now|this\s+weekend)$"
)
# "I'm going to the gym later": a passing plan, gone by tomorrow.
_PASSING = re.compile(
    r"^i(?:'m|\s+am|'ll|\s+will)\s+(?:just\s+)?(?:going|heading|off|about|gonna|be|try|read|do|get|look|check|"
    r"come|go|talk|see|ask|think)\b.*\b(?:later|soon|now|tonight|tomorrow|tmrw|in\s+a\s+(?:bit|minute|sec|second|"
    r"few\s+minutes)|in\s+an?\s+(?:hour|hr|minute|min)|in\s+\d+\s*(?:min|mins|minutes|hours?|hrs?))$"
    # "brb gonna grab coffee", "gtg": leaving the conversation for a moment
    r"|^(?:brb|gtg|g2g|afk|bbl|bbs)\b"
)

IMPERATIVES = frozenset(
    """make translate try rewrite re-write give summarize summarise continue put fix use explain
    regenerate add write remove delete convert expand draft generate list check proofread show
    simplify stop start go undo redo tell help find suggest recommend create compare describe
    shorten lengthen format change edit repeat rephrase paraphrase calculate compute plan outline
    brainstorm send search look read review analyze analyse debug refactor optimize optimise
    improve correct clarify elaborate define name pick choose sort count draw sketch design
    build implement code fill turn keep be let respond answer reply ask include skip cut replace
    split merge combine rank rate grade score evaluate estimate predict imagine pretend act
    sing remind book order schedule set open close say get do bring take share provide produce
    print return output reformat highlight bold capitalize quote cite avoid stick focus talk
    speak double triple entertain surprise amuse cheer ignore disregard scratch""".split()
)
PAST_FORMS = "|".join(sorted(IRREGULAR_PAST))
_NEGATED_IMPERATIVE = re.compile(
    rf"^(?:don't|do\s+not|dont|never(?!\s+(?:really\s+)?(?:\w+ed|mind|{PAST_FORMS})\b)|"
    r"always|no(?!\s+(?:kids|children|siblings)\b)|less|more|fewer|shorter|longer|simpler)\b"
    r"|^not\s+(?:use|give|send|write|add|include|suggest|recommend|call|say|make|put|mention|show|ask|talk)\b"
)
# "Whenever you suggest films, nothing over two hours": a condition on every future answer.
_WHEN_YOU = re.compile(r"^(?:when|whenever|if|every\s+time|each\s+time)\s+(?:you|u)\b")
_STANDING = re.compile(
    r"\b(?:always|never|from\s+now\s+on|going\s+forward|in\s+(?:the\s+)?future|by\s+default|every\s+time|"
    r"each\s+time|whenever|all\s+the\s+time|in\s+general|anymore|any\s+more|ever\s+again|"
    r"(?:don't|do\s+not)\s+ever)\b|^(?:be|keep\s+it|stay)\b.*\bwith\s+me\b"
    # "stop apologising so much", "python examples for anything code related": a habit or a scope, not this reply
    r"|\bstop\s+\w+ing\b|\b(?:for|in|with)\s+(?:anything|everything|any\s+\w+|all\s+(?:my\s+)?\w+s)\b"
    r"|\b(?:your|all|the|any)\s+(?:answers|replies|responses|explanations|messages|emails|summaries|"
    r"examples|code\s+examples|suggestions|outputs|recommendations|drafts)\b"
)
# How to answer or serve, said without "always": a standing wish unless it points at this reply.
_MANNER = re.compile(
    r"^(?:(?:please|pls|plz|kindly)\s+)?(?:don't|do\s+not|dont|never|stop|quit|no(?!\s+(?:no|thanks|worries|problem|"
    r"i|you|u|it|that|way|idea|kids|children|siblings)\b)(?=\s+\w)|not|less|more|fewer|avoid|"
    r"use|answer|reply|respond|talk|speak|address|keep|stick|skip|spell|format|be|go\s+easy|"
    r"give\s+me\s+(?:the\s+)?(?:short|shorter|long|longer|honest|straight|brutal|simple|plain|bullet|summary|options|"
    r"answer|tl;?dr|bottom\s+line|numbers|sources|metric|imperial))\b"
)
_PLEASE_MANNER = re.compile(r"^(?:please|pls|plz|kindly)\s+(?:\w+)")
# "Less formal", "more detail please", "shorter": a comparative measures against the reply in
# hand, so it is about that reply unless it says it is for good.
_COMPARATIVE = re.compile(r"^(?:(?:please|pls|plz|kindly)\s+)?(?:less|more|fewer|shorter|longer|simpler)\b")
_REASON_TAIL = re.compile(r",\s+(?:that's|thats|that\s+is|it's|its)\s+.*$")
_POLITE = frozenset({"please", "pls", "plz", "kindly", "now", "just", "going", "on", "ahead"})
# "Plan is to …", "Design was my first love": a noun in an imperative's place, followed by its verb.
_NOUN_SUBJECT_VERB = frozenset({"is", "are", "was", "were", "'s", "has", "had"})
_ONE_OFF = re.compile(
    r"\b(?:today|tonight|(?<!from\s)now(?!\s+on\b)|right\s+now|this\s+time|again|for\s+now|just\s+this|instead|"
    r"the\s+(?:last|previous|above|first|second))\b"
)
_THIS_REPLY = re.compile(r"\b(?:this|that|these|those|the\s+above|above|here)\b")
_DEICTIC = re.compile(
    r"(?<!from\s)(?<!since\s)(?<!than\s)\b(?:this|that|these|those|the\s+(?:first|second|third|fourth|last|previous|other|above|"
    r"original|earlier))\s+(?:one|ones|option|options|version|versions|answer|answers|reply|"
    r"response|draft|example|suggestion|idea|code|function|paragraph|sentence|line|approach|"
    r"solution|list|table|output|result|link|email|message|part|bit|step|point)\b"
    r"|\bwhat\s+i\s+(?:asked|meant|said|wanted|needed|was\s+looking\s+for|had\s+in\s+mind|expected)\b|\bi\s+meant\b"
    r"|\b(?:my|your)\s+(?:last|previous|earlier|first)\s+(?:message|question|reply|answer|comment|request|prompt)\b"
    r"|\b(?:that|this|it)(?:'s|\s+is|\s+was)\s+(?:not\s+)?(?:quite\s+)?(?:right|wrong|correct|incorrect)\b"
)
# "I hate when this happens", "i love it": a taste whose object is only what was just said.
_TASTE_FOR_THIS = re.compile(
    r"^i\s+(?:\w+\s+)?(?:hate|love|like|dislike|loathe)\s+(?:it|this|that|them|(?:it\s+)?when\s+(?:this|that|it)\s+\w+)$"
)
# A noun phrase with "please" or "only": "celsius only", "british spelling please, not american".
WISH_FRAGMENT = re.compile(r"^[a-z0-9][\w\s'/-]*?\s(?:only|please|pls|plz)\b")
MAX_WISH_WORDS = 8
# Statements that drop their subject: "Love running in the rain", "Trying to get my 5k under 30".
_SUBJECTLESS = re.compile(
    r"^(?:love|loves|like|likes|hate|hates|prefer|prefers|enjoy|enjoys|trying|hoping|planning|"
    r"aiming|working\s+(?:on|towards?)|training\s+for|preparing\s+for|studying\s+for|learning|"
    r"saving\s+(?:up\s+)?for|been\s+\w+ing|not\s+(?:a\s+)?(?:big\s+|huge\s+)?fan|(?:a\s+)?(?:big|huge)\s+fan|"
    r"allergic|vegetarian|vegan|fluent|want|wanna|need\s+to|have\s+to|gotta|going\s+to|gonna|"
    r"(?:the\s+)?(?:plan|goal|dream|aim)\s+is|divorced|engaged|married|widowed|separated|applying|"
    r"(?:no|zero)\s+(?:kids|children|siblings))\b"
)
_DATED_STATEMENT = re.compile(
    r"\b(?:is|are|was|starts?|ends?|begins?|opens?|closes?|due|leaves?|arrives?|renews?|expires?|"
    r"happens?|takes\s+place)\b"
)


# A fragment may leave out its "I" ("Plumber, self employed"); one that opens with someone or
# something else as its subject is about them.
MAX_FRAGMENT_WORDS = 20
_THIRD_PARTY_START = re.compile(
    r"^(?:the|a|an|this|that|these|those|it|it's|its|he|she|he's|she's|they|they're|there|there's|his|her|"
    r"their|some|someone|somebody|everyone|everybody|nobody|people|no\s+one|you|your|u|ur)\b"
)


def words(lower: str) -> list[str]:
    return _WORD.findall(lower)


def screen(text: str) -> Screened:
    """The verdict on one cleaned sentence (see ``Verdict``)."""
    lower = text.lower()
    tokens = words(lower)
    if not tokens or all(token in _SMALL_TALK_VOCAB for token in tokens):
        return Screened(Verdict.SMALL_TALK, text)
    if _CALL_ME.match(lower):
        return Screened(Verdict.KEEP, text)
    request = _question_or_request(text, lower, tokens)
    if request is not None:
        return request
    if _ABOUT_CONVERSATION.search(lower) and not _STANDING.search(lower):
        return Screened(Verdict.ABOUT_CONVERSATION, text)
    if FIRST_PERSON.isdisjoint(tokens) and not _SUBJECTLESS.match(lower):
        if mentions_date(lower) and _DATED_STATEMENT.search(lower):
            return Screened(Verdict.KEEP, text, impersonal=True)
        if _wished_for(lower, tokens):
            return Screened(Verdict.STANDING, text)
        if len(tokens) <= MAX_FRAGMENT_WORDS and not _THIRD_PARTY_START.match(lower):
            content = _content(text, lower, tokens)
            return Screened(Verdict.FRAGMENT, text) if content.verdict is Verdict.KEEP else content
        return Screened(Verdict.NOT_ABOUT_USER, text)
    return _content(text, lower, tokens)


# Someone else's question passed on ("my son asked me why…"), quoted text, a moment's event.
_RELAYED = re.compile(
    r"\b(?:asked|asks|asking)\s+(?:me|us)\s+(?:what|why|how|where|when|who|whether|if|about)\b"
    r"|\bwants?\s+to\s+know\s+(?:what|why|how|where|when|who|whether|if)\b"
)
_QUOTED = re.compile(r"^[\"\u201c]")
_MOMENT = re.compile(r"\bjust\s+\w+ed\s+at\s+(?:me|us)\b")


def wish_fragment(lower: str, first_word: str) -> bool:
    """The shape of a wish said as a noun phrase ("celsius only", "british spelling please"):
    "please" or "only" after words that do not open with an imperative."""
    return first_word not in IMPERATIVES and WISH_FRAGMENT.match(lower) is not None


def _wished_for(lower: str, tokens: list[str]) -> bool:
    """A short noun phrase asked for with "please" or "only" ("celsius only"): a standing wish,
    unless it points at the reply in hand or measures against it."""
    return (
        len(tokens) <= MAX_WISH_WORDS
        and wish_fragment(lower, tokens[0])
        and not _ONE_OFF.search(lower)
        and not _THIS_REPLY.search(lower)
        and not _COMPARATIVE.match(lower)
    )


def _aux_question(tokens: list[str]) -> bool:
    """ "can dogs eat grapes": an auxiliary, a subject that is no verb, then a verb. "did two years
    of law school" and "can cook a bit" are statements with the "I" left out."""
    return (
        len(tokens) >= 3
        and tokens[0] in {"can", "could", "do", "does", "did", "should", "would", "will", "shall", "may", "might", "must"}
        and tokens[1] not in BASE_VERBS
        and tokens[1] not in ADVERBS
        and not tokens[1].isdigit()
        and tokens[2] in BASE_VERBS
    )


def _question_or_request(text: str, lower: str, tokens: list[str]) -> Screened | None:
    if _RELAYED.search(lower):
        return Screened(Verdict.QUESTION, text)
    if _QUOTED.match(lower):
        return Screened(Verdict.NOT_ABOUT_USER, text)
    if lower.endswith("?"):
        polite = _POLITE_REQUEST.match(lower)
        if polite and _STANDING.search(lower):
            # "Could you be more concise in general?" asks for something lasting.
            request = text[polite.end() :].rstrip("? ")
            return Screened(Verdict.STANDING if words(request.lower()) else Verdict.QUESTION, request or text)
        tail = _QUESTION_TAIL.search(lower)
        if tail and tail.start() > 0:
            kept = screen(text[: tail.start()])
            if kept.verdict is Verdict.KEEP and not kept.impersonal:
                return replace(kept, asks=True)
        return Screened(Verdict.QUESTION, text)
    if _QUESTION_START.match(lower) or _aux_question(tokens):
        return Screened(Verdict.QUESTION, text)
    tail = _QUESTION_TAIL.search(lower)
    if tail and tail.start() > 0:
        kept = screen(text[: tail.start()])
        return replace(kept, asks=True) if kept.verdict is Verdict.KEEP and not kept.impersonal else Screened(
            Verdict.QUESTION, text
        )
    if _PASTED.match(lower):
        return Screened(Verdict.INSTRUCTION, text)
    standing = bool(_STANDING.search(lower))
    if opener := _STANDING_OPENER.match(lower):
        rest = lower[opener.end() :]
        if words(rest)[:1] and (words(rest)[0] in IMPERATIVES or _NEGATED_IMPERATIVE.match(rest)):
            # "From now on, answer in Spanish" -> "answer in Spanish from now on"
            moved = text[: opener.end()].strip(" ,").lower()
            return Screened(Verdict.STANDING, f"{text[opener.end() :]} {moved}")
    if _WHEN_YOU.match(lower) and "," in lower:
        return Screened(Verdict.STANDING, text)
    if _REQUEST_FOR_HELP.match(lower) and not standing:
        return Screened(Verdict.INSTRUCTION, text)
    if _YOU_SUBJECT.match(lower):
        return Screened(Verdict.STANDING if standing else Verdict.ABOUT_CONVERSATION, text)
    noun_subject = len(tokens) > 1 and tokens[1] in _NOUN_SUBJECT_VERB
    if (tokens[0] in IMPERATIVES and not noun_subject) or _NEGATED_IMPERATIVE.match(lower) or _PLEASE_MANNER.match(lower):
        manner = _MANNER.match(lower) and not _COMPARATIVE.match(lower)
        # "Stop.", "please continue": a verb with nothing to keep is about the reply in hand.
        bare = all(token in _POLITE for token in tokens[1:])
        # "keep the plan in 24-hour time, that's what we use": the reason after the comma points at no reply
        asked = _REASON_TAIL.sub("", lower)
        if (standing or manner) and not bare and not _THIS_REPLY.search(asked) and not _ONE_OFF.search(asked):
            return Screened(Verdict.STANDING, text)
        return Screened(Verdict.INSTRUCTION, text)
    return None


def _content(text: str, lower: str, tokens: list[str]) -> Screened:
    if _DEICTIC.search(lower):
        return Screened(Verdict.ABOUT_CONVERSATION, text)
    if _PASSING.match(lower) or _PASSING_STATE.search(lower) or _MOMENT.search(lower):
        return Screened(Verdict.CONTENT_FREE, text)
    informative = [token for token in tokens if token not in _NOT_INFORMATIVE]
    if not informative:
        return Screened(Verdict.CONTENT_FREE, text)
    head, comma, tail = lower.partition(", ")
    tail_words = words(tail)
    if comma and tail_words and tail_words[0] in IMPERATIVES and all(t in _NOT_INFORMATIVE for t in words(head)):
        return Screened(Verdict.INSTRUCTION, text)  # "I'm bored, entertain me"
    if all(token in _EVALUATIVE for token in informative) and _BARE_PRONOUN.search(lower):
        return Screened(Verdict.CONTENT_FREE, text)  # "I find them annoying"
    if _TASTE_FOR_THIS.match(lower):
        return Screened(Verdict.CONTENT_FREE, text)
    return Screened(Verdict.KEEP, text)
