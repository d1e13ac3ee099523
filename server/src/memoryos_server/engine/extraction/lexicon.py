"""Word lists shared by the rule-based extractor.

Plain frozensets so membership tests stay O(1): the default extractor has to keep up with
thousands of messages a second on one core.
"""

from __future__ import annotations

FIRST_PERSON = frozenset(
    "i me my mine myself we us our ours ourselves i'm i've i'd i'll we're we've we'd we'll".split()
)

# Words that may stand between a subject and its verb ("I always run", "I really hate").
ADVERBS = frozenset(
    """always usually normally typically generally never really also just only mostly still
    sometimes often rarely seldom currently recently actually honestly definitely absolutely
    totally basically literally personally mainly mostly seriously even already kinda kind sort
    much truly genuinely probably maybe certainly occasionally regularly frequently constantly
    barely hardly nearly almost simply usually completely strongly deeply""".split()
)

MODALS = frozenset("can could will would shall should may might must ought cannot".split())

# Negative contractions rewritten after a dropped "I": third person, written out.
NEGATIVE_AFTER_DROPPED_I = {
    "don't": "does not",
    "dont": "does not",
    "didn't": "did not",
    "can't": "cannot",
    "cant": "cannot",
    "won't": "will not",
    "wouldn't": "would not",
    "couldn't": "could not",
    "shouldn't": "should not",
    "haven't": "has not",
    "hadn't": "had not",
    "wasn't": "was not",
    "aren't": "is not",
    "ain't": "is not",
    "mustn't": "must not",
}

AUX_AFTER_DROPPED_I = {
    "am": "is",
    "are": "is",
    "have": "has",
    "do": "does",
    "was": "was",
    "were": "was",
    "had": "had",
}

IRREGULAR_PAST = frozenset(
    """was were had did went got made took came saw knew thought bought brought taught caught
    fought sought found left felt kept slept met ran began broke chose drove ate fell forgot
    gave grew held lost paid said sold sent spent stood told understood won wrote built became
    spoke swam sang drank flew threw wore rode woke hid bit led fed heard meant sat lay lit
    dealt dug drew forgave froze hung shook stole stuck struck swore tore wept wound been done
    gone seen taken given known shown grown written driven eaten fallen forgotten spoken
    chosen broken begun flown worn""".split()
)

# Words ending in -ed that are present tense, so "-ed" alone does not mean past.
ED_PRESENT = frozenset(
    "need feed bleed breed seed speed proceed succeed exceed heed weed embed shred wed bed shed".split()
)

IRREGULAR_THIRD_PERSON = {"be": "is", "am": "is", "are": "is", "have": "has", "do": "does", "go": "goes"}

# Common base-form verbs, used to conjugate coordinated verbs ("checks X and plans Y") and to
# recognise subject-less statements ("Love running in the rain").
BASE_VERBS = frozenset(
    """accept add agree allow answer apply arrive ask attend avoid bake believe belong blog book
    borrow bring brush build buy call care carry catch change check choose clean climb close
    coach code collect come commute compare cook cost count create cycle dance decide deliver
    deploy design develop do draw dream dress drink drive drop earn eat edit email end enjoy
    exercise expect explain feel fill find finish fix fly follow forget get give go grab grow
    hate have help hike hire hold hope host hunt journal jog join keep kill know label lead
    learn leave lend let lift like listen live lock look lose love maintain make manage meal
    meditate meet mentor merge miss move need note open order organise organize own pack paint
    pair pay pick plan plant play post practice practise pray prefer prepare print publish
    push put rank read receive record relax remember rent repair reply report rest review ride
    run save say schedule see sell send set share shop show sign sing sit skip sleep smoke
    speak spend split squash start stay stick stop stretch study submit surf swim take talk
    teach tell test text think throw track trade train travel try turn type understand update
    use visit vote wait wake walk want watch water wear weigh win wish work worry write""".split()
)

# What may follow a coordinated verb for us to trust that it is one ("and plan *the* tasks").
VERB_FOLLOWERS = frozenset(
    """a an the my their our your his her its it them this that these those some any all
    every each to in on at for with from into onto about by up down out off over around through
    after before back away""".split()
)

# Subordinators after which "I" becomes a gerund ("when I deploy" -> "when deploying").
GERUND_SUBORDINATORS = frozenset("when whenever while before after once until till".split())

# Subordinators and relatives after which "I" becomes "they" ("because I get up" -> "because they get up").
THEY_SUBORDINATORS = frozenset(
    """because since as if unless though although that than where what how why who whom which
    whether so cause cuz coz even whereas wherever""".split()
)

# People in the user's life, by kinship or role (with the spellings chat uses: "bf", "mil",
# "husbnd"). A memory about one of them is a relationship.
PEOPLE_NOUNS = (
    "sister|sisters|sis|brother|brothers|bro|sibling|siblings|mom|moms|mum|mums|mother|mommy|mama|ma|"
    "dad|dads|father|daddy|papa|pa|parent|parents|folks|family|wife|wifey|husband|husbnd|hubby|"
    "partner|partners|spouse|other\\s+half|boyfriend|boyfreind|bf|girlfriend|girlfreind|gf|fiance|fiancé|"
    "fiancee|fiancée|son|sons|daughter|daughters|kid|kids|kiddo|kiddos|child|children|baby|babies|"
    "toddler|teen|teens|teenager|teenagers|newborn|twins?|triplets|boys|girls|little\\s+ones?|"
    "grandma|grandmother|grandpa|grandfather|grandparents?|granddaughter|grandson|grandkids?|"
    "grandchildren|grandbaby|nan|nana|nanna|gran|granny|grandad|granddad|abuela|abuelo|oma|opa|"
    "lola|lolo|kuya|ate|anak|amma|appa|aunt|aunts|auntie|aunty|uncle|uncles|cousin|cousins|nephew|"
    "nephews|niece|nieces|in-laws|inlaws|mother-in-law|father-in-law|sister-in-law|brother-in-law|"
    "son-in-law|daughter-in-law|mil|fil|sil|bil|stepson|stepdaughter|stepmom|stepmum|stepdad|"
    "stepmother|stepfather|stepkids|stepbrother|stepsister|godson|goddaughter|godchild|godmother|"
    "godfather|godparents|ex|exes|ex-wife|ex-husband|ex-boyfriend|ex-girlfriend|friend|friends|freind|"
    "freinds|bestie|bff|buddy|buddies|mate|mates|pal|pals|roommate|roommates|flatmate|flatmates|"
    "housemate|housemates|neighbor|neighbour|neighbors|neighbours|landlord|landlady|boss|bosses|"
    "manager|supervisor|team\\s+lead|tech\\s+lead|lead|colleague|colleagues|collegue|collegues|"
    "coworker|coworkers|co-worker|co-workers|teammate|teammates|classmate|classmates|bandmate|"
    "bandmates|cofounder|co-founder|founder|mentor|mentee|direct\\s+reports|employees?|therapist|"
    "counsellor|counselor|psychiatrist|doctor|gp|dentist|physio|physiotherapist|pt|trainer|coach|"
    "tutor|teacher|professor|advisor|adviser|supervisor|lawyer|solicitor|accountant|carer|caregiver|"
    "nanny|babysitter|au\\s+pair|pastor|priest|rabbi|imam|vicar|sponsor|students|crush|date"
)
# Pets are a household fact of the user's, not a relationship.
PET_NOUNS = "dog|dogs|cat|cats|puppy|puppies|kitten|kittens|pet|pets|horse|horses|parrot|rabbit|hamster|bird|birds"
# Both: what may follow "my" in a clause the rewriter treats as a companion ("my dog and I").
RELATION_NOUNS = f"{PEOPLE_NOUNS}|{PET_NOUNS}"

# Demonyms and faith words: capitalised like names, but "I'm Brazilian" is no name.
NOT_NAMES = frozenset(
    """american british english scottish welsh irish canadian mexican brazilian argentinian
    argentine chilean colombian peruvian cuban spanish portuguese french german dutch belgian
    swiss austrian italian greek polish czech slovak hungarian romanian bulgarian serbian
    croatian ukrainian russian swedish norwegian danish finnish icelandic turkish israeli
    iranian iraqi egyptian moroccan nigerian kenyan ghanaian ethiopian african south indian
    pakistani bangladeshi nepali sri chinese japanese korean vietnamese thai filipino
    indonesian malaysian singaporean australian kiwi european asian latino latina hispanic
    arab jewish muslim christian catholic protestant hindu buddhist sikh atheist agnostic
    vegan vegetarian mormon""".split()
)

# Tokens that carry no memory on their own. A sentence made only of these is content-free.
UNINFORMATIVE = frozenset(
    """i me my mine myself we us our ours ourselves you your yours it its it's this that these
    those they them their he him his she her a an the and or but so then too also just still
    now again here there not no yes yeah yep yup ok okay sure fine good great well right wrong
    bad nice cool awesome true false better best worse worst same different back ready done
    busy free tired hungry bored sleepy exhausted thirsty confused curious lost stuck sorry
    glad happy sad excited annoyed frustrated interested fun funny interesting helpful useful
    possible clear today tonight currently really very quite pretty bit little lot lol haha
    thing things stuff one ones something anything everything nothing way kind sort am is are
    was were be been being have has had do does did done will would can could should shall may
    might must think thought know knew see saw guess tried try trying mean meant ask asked say
    said tell told agree agreed get got go going went come came like love want need prefer
    hate work worked works working understand understood remember suppose believe feel felt
    look looks looked seem seems of to in on at for with about from by as if what which who
    how why when where i'm i've i'd i'll im let lets let's please thanks thank thx maybe
    probably perhaps exactly totally actually honestly basically literally anyway okay hmm
    hey hi hello bye oh ah um uh wow oops again soon later right now yet ever even only much
    more less some any all""".split()
)

# Words that make a memory matter more: health and safety come first.
HEALTH_TERMS = (
    r"allerg\w*|anaphyla\w*|diabet\w*|asthma\w*|epilep\w*|seizure\w*|intoleran\w*|celiac|"
    r"coeliac|pregnan\w*|medication\w*|medicine|insulin|blood pressure|heart condition|"
    r"disabilit\w*|disabled|wheelchair|colou?r ?blind|deaf|blind|alzheimer\w*|dementia|"
    r"cancer|chemo\w*|surgery|migraine\w*|adhd|autis\w*|dyslexi\w*|depress\w*|anxiety|"
    r"sertraline|inhaler|epipen|caregiver|carer"
)
