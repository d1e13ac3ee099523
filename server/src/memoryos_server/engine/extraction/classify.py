"""Choosing one of the six categories for a sentence worth remembering.

The categories, as this extractor reads them:

- ``relationship`` — the people (and pets) in the user's life and facts about them, when the
  sentence is about them ("My sister Anna lives in Berlin", "I'm married with three kids").
- ``goal`` — what the user is working towards or plans ("I'm training for a marathon").
- ``preference`` — likes, dislikes, tastes, how they want things done, and chosen diets
  ("I'm vegetarian" is a preference: a standing choice an assistant should respect when it
  suggests food; an allergy or intolerance is a health ``fact``).
- ``procedure`` — how and when the user habitually does things: routines, workflows, steps
  ("When I deploy, I always run the migrations first").
- ``expertise`` — skills, experience, qualifications and their absence ("I'm new to pandas").
  A job title alone is a ``fact``; a title with seniority, years or a qualification is expertise.
- ``fact`` — everything else about the user: where they live and work, health, dates, things
  they own. It is also the fallback when no cue fires, with lower confidence.

The checks run in the order above: a sentence about the user's sister that mentions a goal is
still about the sister; "I'd like to read more" is a goal although it contains "like".
"""

from __future__ import annotations

import re

from .lexicon import BASE_VERBS, HEALTH_TERMS, NOT_NAMES, PEOPLE_NOUNS, PET_NOUNS

_BASE_VERB = "|".join(sorted(BASE_VERBS - {"love", "like", "hate", "prefer", "want", "need", "wish"}))

# How sure the rule was: 2 = a specific cue, 1 = a weak cue, 0 = nothing fired (fallback fact).
Strength = int

_MODIFIER = r"(?:[\w'-]+\s+){0,2}?"
_PERSON = rf"(?:{PEOPLE_NOUNS})"
_AGED = r"\d+[\s-]*(?:yr|yrs|year|years|month|months|mo|y/o|yo)?[\s-]*old"
_RELATION_SUBJECT = re.compile(
    rf"^(?:me\s+and\s+)?(?:my|our)\s+{_MODIFIER}{_PERSON}(?:'s|s')?(?![\w-])"
    r"(?!\s+(?:allergy|hair|food|shop|sitter|walker|peeve|project|day|night|leave|time|group|chat))"
    rf"|^(?:my|our)\s+(?:little\s+)?{_AGED}\b"
    # "Mike, my brother, is …", "the new guy on my team, Hiroshi, …", "the girl I'm seeing …"
    rf"|^[a-z]+(?:\s+[a-z]+)?,\s+(?:my|our)\s+{_MODIFIER}{_PERSON}\b"
    r"|^(?!every\b|each\b|all\b|any\b)(?:the\s+)?(?:[\w-]+\s+){0,3}?(?:on|in|at|from)\s+(?:my|our)\s+(?:team|unit|ward|floor|class|crew|squad|"
    r"department|shift|course|cohort|church|building|street|block)\b"
    r"|^(?:the\s+)?(?:girl|guy|woman|man|boy|person|lady)\s+(?:i'm|i\s+am)\s+(?:seeing|dating|with)\b"
    # A parent called by their family name, with no "my": "Mum moved in with us", "Dad's retiring".
    r"|^(?:mum|mom|mam|dad|papa|mama|grandma|grandpa|gran|nan|nana|granny|grandad|granddad)(?:'s)?\s+"
    r"(?:is|was|has|had|does|did|doesn't|didn't|can|can't|will|won't|would|still|just|never|always|finally|"
    r"said|got|came|took|kept|\w+ed|\w+ing|[a-z]+s)\b"
)
_RELATION_STATUS = re.compile(
    r"^i(?:'m|\s+am|'ve\s+been|\s+have\s+been|\s+got|\s+just\s+got|\s+recently\s+got)\s+(?:\w+ly\s+|just\s+|now\s+|newly\s+)?"
    r"(?:married|engaged|divorced|single|widowed|separated|dating|polyamorous|in\s+a\s+(?:[\w-]+\s+)*?relationship)\b"
    r"|^i(?:'m|\s+am)\s+(?:a\s+|an\s+|the\s+)?(?:proud\s+|new\s+|first-time\s+|single\s+|stay-at-home\s+|"
    r"working\s+|young\s+|older\s+)*(?:mom|mum|mother|dad|father|parent|aunt|auntie|aunty|uncle|godmother|"
    r"godfather|grandma|grandmother|grandpa|grandfather|granny|stepmom|stepmum|stepdad|stepmother|stepfather|"
    r"widow|widower|only\s+child|middle\s+child|(?:eldest|oldest|youngest|middle)\s+(?:of|child|kid|sibling|one|daughter|"
    r"son|brother|sister|in\s+(?:my|our|the)\s+family)|baby\s+of|guardian\s+of)\b"
    r"|\bco-?parent(?:s|ing)?\b"
    r"|^(?:i|we)\s+(?:don't|do\s+not|never)\s+(?:have|had|wanted)\s+(?:any\s+)?(?:kids|children|siblings)\b"
    r"|^(?:no|zero)\s+(?:kids|children|siblings)\b"
    # said without "I": "divorced, one daughter", "two kids, shared custody"
    r"|^(?:happily\s+|newly\s+|recently\s+)?(?:divorced|married|engaged|widowed|separated)\b(?!\s+(?:to|from)\s+(?:my|the)\s+(?:job|work))"
    r"|^(?:a|one|two|three|four|five|six|\d+)\s+(?:kids|children|daughters?|sons?|grandkids|grandchildren|stepkids)\b"
    r"|^(?:i\s+)?(?:just\s+|recently\s+|finally\s+)?(?:became|become|becoming)\s+(?:a|an)\s+(?:\w+\s+)?(?:mom|mum|mother|"
    r"dad|father|parent|aunt|auntie|aunty|uncle|grandma|grandmother|grandpa|grandfather|godmother|godfather|"
    r"big\s+sister|big\s+brother|stepmom|stepmum|stepdad|granny|grandparent)\b"
    r"|\b(?:best\s+|close\s+|good\s+|old\s+)?friends\s+with\s+(?!benefits\b)[a-z]"
)
_NOT_A_PERSON_AFTER = r"(?!with\b|for\b|my\b|from\b|at\b|in\b|of\b|to\b)"
_RELATION_HAVE = re.compile(
    rf"^(?:i|we)(?:\s+have|'ve|\s+have\s+got|'ve\s+got|\s+got)\s+(?:(?:a|an|one|two|three|four|five|six|\d+)\s+)?"
    rf"(?:{_NOT_A_PERSON_AFTER}[\w'-]+\s+){{0,3}}?(?:{_PERSON}|{_AGED})(?![\w-])"
)
_RELATION_IS_MY = re.compile(rf"\b(?:is|are)\s+my\s+{_MODIFIER}{_PERSON}\b")
# Someone in the user's life mentioned anywhere ("I look after my dad").
PERSON_MENTION = re.compile(
    rf"\b(?:my|our)\s+{_MODIFIER}{_PERSON}(?:'s|s')?(?![\w-])"
    r"(?!\s+(?:allergy|hair|food|shop|sitter|walker|peeve|project|day|night|leave|time|group|chat))"
    rf"|\b(?:my|our)\s+(?:little\s+)?{_AGED}\b"
)
# A pronoun that goes on about that person: the memory is about them ("…, he has Parkinson's").
_THIRD_PERSON_GOES_ON = re.compile(r"[,;]\s*(?:and\s+)?(?:he|she|he's|she's|hes|shes|his|her)\b|\b(?:him|her)\b")
_PET_SUBJECT = re.compile(
    rf"^(?:my|our)\s+{_MODIFIER}(?:{PET_NOUNS})(?:'s|s')?\b"
    rf"|^(?:i|we)(?:\s+have|'ve|\s+have\s+got|'ve\s+got|\s+got)\s+(?:a|an|one|two|three|four|five|six|\d+)\s+"
    rf"(?:[\w'-]+\s+){{0,2}}?(?:{PET_NOUNS})\b"
)

_GOAL = re.compile(
    r"\b(?:want|wanna|hope|plan|aim|intend|need|decided|determined|dream|resolved)\s+to\b"
    r"|\b(?:would|'d)\s+(?:really\s+)?(?:like|love)\s+to\b"
    r"|\b(?:am|'m|are|'re|been)\s+(?:\w+\s+)?(?:hoping|planning|aiming|trying|intending|learning|"
    r"working\s+(?:towards?|on\s+(?:getting|becoming|being|improving|my))|saving(?:\s+up)?|"
    r"training\s+for|preparing\s+for|studying\s+for|applying\s+(?:to|for)|looking\s+to)\b"
    r"|\b(?:my|our)\s+(?:[\w']+\s+){0,2}?(?:goal|goals|dream|plan|plans|aim|resolution|target|ambition|objective)s?"
    r"\s+(?:is|are|was|for|this|next|right\s+now)\b|\btarget\s+of\b"
    r"|\b(?:am|'m)\s+(?:\w+\s+)?looking\s+for\s+(?:a\s+)?(?:new\s+)?(?:job|role|position|house|home|flat|"
    r"apartment|place\s+to\s+live|partner|internship|cofounder|co-founder)\b"
    r"|^(?:trying|hoping|planning|aiming|learning|working\s+towards?|training\s+for|preparing\s+for|"
    r"working\s+on\s+(?:getting|becoming|being|improving)|"
    r"saving\s+(?:up\s+)?for|studying\s+for)\b"
    r"|\b(?:someday|some\s+day|one\s+day)\b"
    r"|\b(?:want|need|hope\s+to\s+get)\s+(?:my|our|a|an|the|all(?:\s+(?:my|our|the))?)\s+(?:[\w'-]+\s+){1,3}?(?:by|before|within)\b"
    r"|^applying\s+(?:to|for)\b"
    r"|^(?:goal|goals|target|resolution|dream|plan)\s*(?::|for\s+(?:this|next|the|\d{4})\b)"
    r"|^the\s+(?:plan|goal|dream|aim|hope)\s+is\s+to\b"
    r"|^looking\s+for\s+(?:a\s+)?(?:new\s+)?(?:job|role|position|house|home|flat|apartment|place\s+to\s+live|partner|"
    r"internship)\b|^looking\s+to\s+\w"
    r"|\b(?:'ve|have)\s+(?:always|long)\s+wanted\s+to\b"
    rf"|^i\s+(?:really\s+)?want\s+(?:{_BASE_VERB})\b"  # "I want make my English better": the "to" left out
    r"|\b(?:sitting|taking|retaking|resitting)\s+(?:my|the|a|an)\s+(?:[\w-]+\s+){0,3}?(?:exams?|finals|test|boards|bar)\b"
)
_PREFERENCE = re.compile(
    r"\b(?:i|we)\s+(?:(?:really|also|just|truly|genuinely|absolutely|totally|kinda|much|still|"
    r"definitely|personally|generally|do|don't|do\s+not|didn't|never|always|usually|mostly)\s+)*"
    r"(?:like|love|enjoy|hate|dislike|detest|adore|prefer|loathe|despise)\b"
    r"|\b(?:prefer|prefers|preferred|preference|preferences|favou?rite|favou?rites|rather)\b"
    r"|\b(?:can't|cannot|can\s+not|could\s+never)\s+(?:stand|bear)\b"
    r"|\b(?:picky|fussy|particular)\s+about\b|\b(?:can't|cannot)\s+(?:live|function|survive|do)\s+without\b"
    r"|\bfan\s+of\b|\b(?:am|'m)\s+(?:not\s+)?(?:really\s+)?into\b|\bmy\s+(?:thing|jam|cup\s+of\s+tea)\b"
    r"|\b(?:am|'m)\s+(?:more\s+of\s+)?(?:a|an)\s+(?:\w+\s+)?person\b"
    r"|\b(?:vegetarian|vegan|pescatarian|pescetarian|keto|paleo|halal|kosher|teetotal|plant-based)\b"
    r"|\b(?:don't|do\s+not|never)\s+(?:eat|drink)\b"
    r"|\b(?:always|never)\s+want\b|\bwould\s+like\s+you\s+to\b|\b'd\s+like\s+you\s+to\b"
    r"|\bfind\s+(?:\w+\s+){1,3}(?:annoying|distracting|helpful|useful|boring|confusing|easier|harder|relaxing|stressful|overwhelming)\b"
    r"|^(?:love|like|hate|prefer|enjoy|not\s+(?:a\s+)?(?:big\s+|huge\s+)?fan|(?:a\s+)?(?:big|huge)\s+fan)\b"
    r"|^(?:you\s+can\s+|please\s+)?call\s+me\b"
    r"|\b(?:would|'d)\s+(?:really\s+)?(?:love|like|prefer|appreciate)\s+it\s+if\b"
    # comparisons: "X over Y any day", "slow travel beats cramming", "cats > dogs"
    r"|\bover\b.*\b(?:any\s+day|every\s+time|anytime|any\s+time)\b|\bbeats\b|\w\s*>\s*\w"
    r"|\bpronouns\b|\bplant\s+based\b"
    r"|^(?:\w+ly\s+)?(?:(?:a|an)\s+)?(?:[\w-]+\s+){1,2}person\b"  # "window seat person", "not a morning person"
)
_WEAK_PREFERENCE = re.compile(r"\b(?:i|we)\s+(?:\w+\s+)?want\s+(?!to\b)")

_WEEKDAY_PLURAL = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days"
_PROCEDURE_STRUCTURE = re.compile(
    r"^(?:when|whenever|before|after|once|each\s+time|every\s+time|if|as\s+soon\s+as)\b.*?(?:,\s*|\s)(?:i|we)\s+(?!am\b|'m\b|was\b|were\b|\w+ed\b)"
    r"|\b(?:my|our)\s+(?:\w+\s+)?(?:process|workflow|routine|ritual|method|system|approach|checklist|rule)\b"
    r"|^(?:i|we)(?:\s+have|'ve|\s+have\s+got|'ve\s+got|\s+got)\s+(?:a|one)\s+(?:\w+\s+)?rule\b"
    r"|^to\s+\w+,\s*(?:i|we)\b"
)
_HABITUAL_ADVERB = re.compile(
    r"\b(?:i|we)\s+(?:always|usually|normally|typically|never|generally|routinely|habitually|"
    r"tend\s+to|make\s+sure\s+to|try\s+to\s+always)\s+(?!want|like|love|prefer|hate|enjoy|feel|get\s+\w+ed|am\b|'m\b|was\b|have\s+been)"
)
_SCHEDULE = re.compile(
    r"\b(?:every|each)\s+(?:\w+\s+)?(?:morning|day|night|evening|afternoon|week|weekend|month|year|"
    r"time|monday|tuesday|wednesday|thursday|friday|saturday|sunday|meeting|sprint|release|commit|"
    r"pull\s+request|pr|run|workout|session|quarter|deploy|deployment|paycheck|payday|purchase|trip|flight|"
    r"client|order|meal|shift|semester|term|season|spring|summer|autumn|fall|winter|holiday)\b"
    r"|\b(?:daily|nightly|every\s+other\s+\w+)\b|\bon\s+(?:my|the)\s+(?:commute|way\s+(?:to|home)|lunch\s+break)\b"
    rf"|\bon\s+(?:weekends|weekdays|{_WEEKDAY_PLURAL}|(?:mon|tues|wednes|thurs|fri|satur|sun)day\s+(?:mornings|evenings|nights|afternoons))\b"
    r"|\bon\s+the\s+(?:first|last|\d{1,2}(?:st|nd|rd|th))\s+(?:day\s+)?of\s+(?:the|each|every)\s+month\b"
    r"|\b(?:once|twice|\w+\s+times)\s+(?:a|per|every)\s+(?:day|week|month|year)\b"
    r"|\b(?:before|after)\s+(?:bed|breakfast|lunch|dinner|work|running|every|each|\w+ing\b)"
    r"|\bat\s+\d{1,2}(?::\d{2})?\s*(?:am|pm)\b"
    r"|\bfor\s+(?:all|every|each)\s+(?:of\s+)?(?:my|our)\b"
    r"|\bthe\s+(?:night|day|evening|morning)\s+before\b"
    r"|\b(?:mon|tues|wednes|thurs|fri|satur|sun)day,\s+(?:mon|tues|wednes|thurs|fri|satur|sun)day\b"
    r"|,\s*then\b|\bfirst\b.*\bthen\b|\balways\s+the\s+same\s+\w+"
)
# A schedule cue only makes a procedure when the user (or their team) does something.
_ACTING_SUBJECT = re.compile(
    r"\b(?:i|we)\s+(?:\w+ly\s+|also\s+|just\s+|still\s+)?"
    r"(?!am\b|'m\b|are\b|'re\b|was\b|were\b|have\b|'ve\b|had\b|'d\b|would\b|will\b|'ll\b|can\b|"
    r"could\b|need\b|want\b|like\b|love\b|prefer\b|hate\b|enjoy\b|\w+ed\b|broke\b|got\b|went\b)[a-z]"
)

_EXPERTISE = re.compile(
    r"\b(?:years?|decades?|months?)\s+of\s+(?:\w+\s+)?experience\b|\bexperience\s+(?:in|with)\b|\bexperienced\b"
    r"|\bexperts?\b|\bexpertise\b|\bproficient\b|\bfluent\b|\bnative\s+(?:\w+\s+)?speaker\b|\bconversational\s+in\b"
    r"|\b(?:beginner|novice|newbie|amateur|intermediate|advanced|self-taught|autodidact)\b|\bnew\s+to\b"
    r"|\b(?:certified|licensed|qualified|chartered|accredited)\b|\ba\s+registered\b"
    r"|\b(?:phd|ph\.d|doctorate|master's|masters|bachelor's|bachelors|degree|diploma|mba|bsc|msc)\b"
    r"|\bi\s+studied\b|\b(?:black|brown)\s+belt\b|\bspeciali[sz](?:e|es|ed|ing)\s+in\b"
    r"|\b(?:good|great|bad|terrible|decent|solid|strong|weak|comfortable|familiar|skilled|competent|"
    r"rusty|hopeless|awful|excellent|fluent|confident)\s+(?:at|with|in)\b"
    r"|\bknow\s+(?:\w+\s+){0,3}?(?:well|inside\s+out|the\s+basics|a\s+lot\s+about|a\s+bit\s+about|nothing\s+about|little\s+about|my\s+way\s+around)\b"
    r"|\b(?:don't|do\s+not)\s+know\s+(?:much|anything|a\s+lot|the\s+first\s+thing)\b"
    r"|\bno\s+(?:\w+\s+)?(?:background|experience|training|knowledge)\b"
    r"|\bnever\s+(?:really\s+)?(?:used|cooked|written|coded|programmed|done|built|worked\s+with|played|studied|learned|learnt)\b"
    r"|\b(?:been|'ve\s+been)\s+(?:a|an)\s+[\w\s-]{2,40}?\s+for\s+(?:\d+|a|an|about|over|almost|nearly|\w+)\s+(?:\w+\s+)?(?:years?|decades?)\b"
    r"|\b(?:doing|working|coding|programming|teaching|playing|using|writing|practi[cs]ing|building|designing|"
    r"developing|used|played|taught|worked|practi[cs]ed|coded|programmed|designed|developed|managed|led|done|"
    r"growing|keeping|raising|breeding|baking|brewing|knitting|sewing|painting|drawing|singing|dancing|"
    r"riding|fixing|repairing|restoring|coaching|cooking|gardening|farming|fishing|climbing|sailing|shooting)\b"
    r".*\b(?:for|over)\s+(?:\d+|a|an|about|over|almost|nearly|several|many|[\w-]+)\s+(?:\w+\s+)?"
    r"(?:years?|yrs?|decades?|a\s+decade)\b"
    r"|\b(?:played|coded|programmed|painted|danced|sung|sang|drawn|cooked)\s+(?:\w+\s+)?since\b"
    r"|\b(?:i've|i\s+have|'ve)\s+(?:run|done|completed|finished|climbed|built|written|published|shipped|taught|led|managed)\s+"
    r"(?:\d+|a\s+few|several|many|two|three|four|five|six|seven|eight|nine|ten|dozens|hundreds)\b"
    r"|\b(?:am|'m)\s+(?:a|an)\s+(?:senior|junior|lead|principal|staff|chief|head|experienced|professional|"
    r"trained|seasoned|veteran|qualified|certified|licensed|self-taught)\b"
    r"|\b(?:first|native|mother|second)\s+(?:language|tongue)\b"
    r"|\bmy\s+\w+(?:\s+skills?)?\s+(?:is|are)\s+(?:\w+\s+)?(?:rusty|limited|basic|decent|solid|fluent|excellent|poor|weak|strong)\b"
    r"|\b(?:charter|certification|certificate)\b"
    r"|\bunderstand\s+(?:the\s+)?(?:basics?|some|a\s+bit|a\s+little|a\s+lot)\b"
    r"|\bspeak\s+(?:basic|some|a\s+little|a\s+bit|fluent|conversational|decent|good|broken|okay|ok)\b"
    r"|\btrained\s+(?:in|as)\b"
    r"|\b(?:am|'m)\s+(?:a|an)\s+(?:pretty\s+|really\s+|very\s+|fairly\s+)?(?:good|great|decent|solid|strong|skilled|"
    r"competent|excellent|confident|fast|accomplished|keen|avid)\s+[\w-]+(?:er|or|ist|ian)\b"
    r"|\bcan(?:'t|not)?\s+(?:read|speak|write|play|code|program|cook|swim|drive|sight-read|ski|sew|knit)\b"
)
_FACT_CUES = re.compile(
    r"\b(?:live|lives|living|moved|born|grew\s+up|based\s+in|work\s+(?:at|for|as|in)|works\s+(?:at|for|as|in)|"
    r"allergic|allergy|intolerant|diagnosed|years\s+old|birthday|appointment|name\s+is|called|drive|own|rent|"
    r"studying|student|salary|budget|deadline|exam|flight|interview|diabetes|pregnant|commute|"
    r"office|company|team|laptop|phone|car|apartment|house|job)\b"
    r"|\b(?:am|'m)\s+(?:a|an)\s+[\w\s-]{2,40}?\s+(?:at|for|in|with)\s"
)


# "I'm deaf, so no audio suggestions", "Is gay, if it matters": what follows is drawn from the
# first clause, which is what the memory is about (a fact stated with the request it implies).
_CONSEQUENCE = re.compile(r"(?:,\s*|\s+)(?:so|if\s+(?:it|that)\s+matters|which\s+(?:is\s+)?why)\s+")


def focus(text: str) -> str:
    """The part of a sentence its category is read from: the first clause when the rest only
    draws a consequence from it."""
    consequence = _CONSEQUENCE.search(text.lower())
    if consequence is not None and len(text[: consequence.start()].split()) >= 2:
        return text[: consequence.start()]
    return text


def categorise(lower: str) -> tuple[str, Strength]:
    """The category of a cleaned, lower-cased sentence, and how sure the rule is."""
    return _categorise(focus(lower))


# "When I ask for a recipe, just the steps": how the user wants to be answered, not a routine.
_WHEN_ASKING = re.compile(
    r"^(?:when|whenever|if|every\s+time)\s+(?:i|u|you)\s+(?:\w+\s+)?(?:ask|request|want|need|write|message|text|"
    r"talk|search|look\s+up|recommend|recomend|suggest|give|plan|send|explain|make)\b"
)
# "My doctor told me to cut down on salt": the advice is about the user's health.
_ADVISED = re.compile(
    r"^(?:my|our)\s+(?:doctor|gp|dentist|physio|physiotherapist|therapist|nurse|dietitian|dietician|consultant|"
    r"specialist|optician|pharmacist|cardiologist|surgeon)\s+(?:\w+\s+)?(?:told|said|says|advised|wants|"
    r"recommended|put|has\s+put|suggested)\s+(?:me|us|that\s+i)\b"
)
# A schedule the user works to is a fact ("I work nights, Monday to Thursday"), not a routine.
_WORK_SCHEDULE = re.compile(r"^(?:i|we)\s+work\b(?!\s+out\b)")


# "Me and my husband want to buy a house", "my wife and I never eat out": the user does it with
# someone, and what they do is the memory (the person is doubt, by ``doubt_of``).
_JOINT_SUBJECT = re.compile(
    r"^(?:me\s+and\s+(?:my|our)\s+[\w'-]+(?:\s+[\w'-]+)?|(?:my|our)\s+[\w'-]+(?:\s+[\w'-]+)?\s+and\s+(?:i|me))\s+\w"
)
_OWN_WITH_SOMEONE = frozenset({"goal", "preference", "procedure"})


# "My dad taught me woodworking": the skill is the user's; the teacher is context.
_TAUGHT_ME = re.compile(r"\b(?:taught|teaches|showed)\s+me\s+(?!that\b|to\s+never\b|never\b|nothing\b|little\b|anything\b)")
# "My sister books fancy hotels, but honestly I'm happier in a hostel": the user's own taste, said against someone's.
_BUT_I = re.compile(r"\bbut\s+(?:honestly\s+|personally\s+|tbh\s+|myself\s+)?(?=(?:i|i'm|i'd|i've|me)\b)")


def _categorise(lower: str) -> tuple[str, Strength]:
    if _ADVISED.search(lower):
        return "fact", 2
    if (taught := _TAUGHT_ME.search(lower)) and not _THIRD_PERSON_GOES_ON.search(lower, taught.end()):
        return "expertise", 2
    if _WHEN_ASKING.search(lower):
        return "preference", 2
    if _JOINT_SUBJECT.search(lower):
        category, strength = _own(lower)
        if strength == 2 and category in _OWN_WITH_SOMEONE:
            return category, strength
    if (contrast := _BUT_I.search(lower)) and PERSON_MENTION.search(lower, 0, contrast.start()):
        category, strength = _own(lower[contrast.end() :])
        if strength == 2 and category in _OWN_WITH_SOMEONE:
            return category, strength
    if _RELATION_SUBJECT.search(lower) or _RELATION_STATUS.search(lower) or _RELATION_HAVE.search(lower):
        return "relationship", 2
    if _PET_SUBJECT.search(lower):
        return "fact", 2
    if _RELATION_IS_MY.search(lower):
        return "relationship", 1
    category, strength = _own(lower)
    if strength < 2 and category == "fact" and (mention := PERSON_MENTION.search(lower)):
        # Nothing says what of the user's own it is, and someone in their life is in it.
        if strength == 0 or _THIRD_PERSON_GOES_ON.search(lower, mention.end()):
            return "relationship", 1
    return category, strength


# Studies in progress and circumstances are facts, however skilled they sound.
_CIRCUMSTANCE = re.compile(
    r"\b(?:junior|senior|sophomore|freshman|fresher|\d+(?:st|nd|rd|th)[\s-]+(?:grade|year)|year\s+\d+|grade\s+\d+)\b"
    r".*\b(?:school|college|uni|university|high|academy)\b"
    r"|\b(?:postdoc|phd\s+student|grad\s+student|undergrad|undergraduate)\b"
    r"|\b(?:college|uni|university|medical|med|law|nursing|art|design|exchange|international|mature|part-time|"
    r"full-time|first-year|second-year|final-year|[\w-]+-generation)\s+student\b"
    r"|^i(?:'m|\s+am)\s+(?:currently\s+)?(?:on\s+(?:a\s+)?(?:tight\s+|strict\s+|limited\s+|fixed\s+)?(?:budget|income)|"
    r"in\s+(?:\w+\s+){0,4}?debt|broke|unemployed|between\s+jobs)\b"
    r"|^i(?:'m|\s+am)\s+(?:currently\s+)?on\s+(?:disability|benefits|welfare|leave|sick\s+leave|maternity|paternity|"
    r"parental|furlough|medication|meds|antidepressants|the\s+pill)\b"
)
# A licence or rank held in a trade or sport is expertise; a driving licence is not.
_CREDENTIAL = re.compile(
    r"\b(?:have|has|hold|holds|got|earned|passed|did|finished|completed)\s+(?:my|a|an|the|their)\s+"
    r"(?!driving\b|driver'?s\b|drivers\b)(?:[\w'-]+\s+){0,3}?"
    r"(?:licen[cs]e|cert|certificate|certification|qualification|diploma|dan|kyu|belt|nvq|cdl|hgv|endorsement)\b"
    r"|\b\d+(?:st|nd|rd|th)\s+(?:dan|kyu)\b"
)


# A trade held before, said as a title ("former paramedic", "ex-chef, ten years"): the know-how
# stays (bench/data/messages_v2.md, rule 2), where "I'm retired" alone is a circumstance.
_FORMER_TRADE = re.compile(
    r"^(?:i'm\s+|i\s+am\s+)?(?:a\s+|an\s+)?(?:former|ex-|ex\s+)\s*"
    r"(?!(?:wife|husband|partner|boyfriend|girlfriend|bf|gf|fianc\w*|spouse|smoker|drinker|addict|user)\b)[a-z]"
)


# Work done that shows know-how ("I've shipped …", "I've restored …"): likely expertise.
_ACCOMPLISHED = re.compile(
    r"^(?:i've|i\s+have|i\s+had)\s+(?:\w+ly\s+|also\s+|already\s+)?(?:shipped|built|launched|deployed|designed|written|"
    r"led|managed|taught|trained|coached|published|restored|repaired|rebuilt|developed|coded|programmed|negotiated|"
    r"refactored|migrated|installed|maintained|renovated|founded|produced|directed|edited|translated|competed)\b"
)
# A job held, with no seniority, years or qualification said: a fact.
_JOB = re.compile(
    r"\b(?:work|works|working|employed)\s+as\s+(?:a|an)?\b|^i(?:'m|\s+am)\s+(?:a\s+|an\s+)?(?:freelance|self-employed|"
    r"part-time|full-time)\b"
)


# Faith, nationality and origin ("Catholic, but not very practising", "I'm Nigerian"), health
# conditions ("I have ADHD") and the car one drives: facts about the user, whatever else is said.
_IDENTITY = re.compile(
    r"^(?:i'm\s+|i\s+am\s+)?(?:a\s+|an\s+)?(?:proud\s+|practising\s+|practicing\s+|devout\s+|lapsed\s+|non-practising\s+)?"
    r"(?:" + "|".join(sorted(NOT_NAMES - {"vegan", "vegetarian"})) + r")\b(?!\s+(?:food|cuisine|cooking|music|films?|"
    r"movies|tv|literature|history|speaker|language|lessons?|class|classes|course))"
    r"|^i\s+drive\s+(?:a|an)\b"
)
_HEALTH = re.compile(r"^i(?:'m|\s+am|\s+have|'ve\s+got|\s+got)\s+(?:\w+\s+){0,2}?(?:" + HEALTH_TERMS + r")")


def _own(lower: str) -> tuple[str, Strength]:
    """The category when the sentence is not about someone else."""
    head, comma, tail = lower.partition(", ")
    if comma and _PREFERENCE.search(tail) and not _PREFERENCE.search(head) and not tail.startswith("like "):
        # "I do laundry every other day, can't stand a full basket": the taste is the habit's reason.
        category, strength = _own(head)
        if category == "procedure":
            return category, strength
    if _CIRCUMSTANCE.search(lower):
        return "fact", 2
    if _CREDENTIAL.search(lower) or _FORMER_TRADE.search(lower):
        return "expertise", 2
    if _GOAL.search(lower):
        return "goal", 2
    if _PREFERENCE.search(lower):
        return "preference", 2
    if _PROCEDURE_STRUCTURE.search(lower) or _HABITUAL_ADVERB.search(lower):
        return "procedure", 2
    if _SCHEDULE.search(lower) and _ACTING_SUBJECT.search(lower) and not _WORK_SCHEDULE.search(lower):
        return "procedure", 1
    if _EXPERTISE.search(lower):
        return "expertise", 2
    if _JOB.search(lower) or _IDENTITY.search(lower) or _HEALTH.search(lower):
        return "fact", 2
    if _WEAK_PREFERENCE.search(lower):
        return "preference", 1
    if _ACCOMPLISHED.search(lower):
        return "expertise", 2
    return "fact", 1 if _FACT_CUES.search(lower) else 0


def doubt_of(lower: str, category: str, plausible: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The other categories a memory may belong to: those the classifier found close
    (``plausible``), and ``relationship`` when someone in the user's life is in it."""
    doubt = [c for c in plausible if c != category]
    if category != "relationship" and "relationship" not in doubt and PERSON_MENTION.search(lower):
        doubt.append("relationship")
    return tuple(doubt)
