"""What a question asks for: its answer type, its key terms, and the noun a count is about."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from rag.lexicon import load_lexicon
from rag.text import STOPWORDS, Analyzer, words


class AnswerType(StrEnum):
    COUNT = "count"
    PERSON = "person"
    ORGANIZATION = "organization"
    PLACE = "place"
    DATE = "date"
    DESCRIPTION = "description"


PERSON_NOUNS = (
    r"person|people|man|woman|official|leader|president|minister|spokesperson|spokesman|"
    r"spokeswoman|commander|general|politician|journalist|author|reporter|envoy|diplomat|head|"
    r"king|queen|emperor|prince|princess|pope|governor|mayor|soldier|scientist|player|coach|"
    r"actor|actress|singer|writer|artist|founder|ceo|chairman|chief|professor|director|composer|"
    r"poet|painter|explorer|inventor|engineer|philosopher|ruler|individual|chancellor|senator"
)
ORG_NOUNS = (
    r"organi[sz]ation|group|agency|company|ministry|party|alliance|institution|body|"
    r"newspaper|outlet|network|union|army|unit|force|forces|government|bank|team|club|"
    r"university|school|college|church|league|committee|council|court|corporation|firm|brand|"
    r"channel|station|broadcaster|publication|magazine|airline|association|movement|militia"
)
PLACE_NOUNS = (
    r"city|town|village|country|nation|region|oblast|province|place|location|port|"
    r"capital|area|state|district|continent|island|river|sea|border|site|base|airport|"
    r"street|building|stadium|venue|hospital|neighbou?rhood|county|territory|peninsula|"
    r"mountain|lake|ocean|front|settlement"
)
DATE_NOUNS = r"year|date|day|month|time|week|century|decade|season|period|hour"
COUNT_NOUNS = r"number|amount|percentage|percent|share|total|figure|sum|count|toll|cost|price"

RULES: list[tuple[re.Pattern[str], AnswerType]] = [
    # a question that opens with when, where or who asks that, whatever figure it names
    # ("When did the mayor say the death toll had climbed to 12?")
    (re.compile(r"^(?:since )?when\b"), AnswerType.DATE),
    (re.compile(r"^where\b"), AnswerType.PLACE),
    (re.compile(r"^(?:who|whom|whose)\b"), AnswerType.PERSON),
    (
        re.compile(r"\bhow (many|much)\b|\bhow (large|big|long|far|old|high|tall)\b"),
        AnswerType.COUNT,
    ),
    (re.compile(rf"\b(what|which) ({COUNT_NOUNS})\b|\bthe ({COUNT_NOUNS}) of\b"), AnswerType.COUNT),
    (re.compile(r"\b(?:death|casualty) toll\b"), AnswerType.COUNT),  # "what is the death toll"
    (re.compile(r"\bwhen\b|\bsince when\b|\bhow long ago\b"), AnswerType.DATE),
    (
        re.compile(
            rf"\b(what|which|in what|in which|on what|on which) ({DATE_NOUNS}|night|morning|"
            r"evening)s?\b"
        ),
        AnswerType.DATE,
    ),
    (re.compile(r"\bwhere\b"), AnswerType.PLACE),
    (re.compile(rf"\b(what|which|in what|in which) ({PLACE_NOUNS})\b"), AnswerType.PLACE),
    (re.compile(rf"\b(what|which) ({ORG_NOUNS})\b"), AnswerType.ORGANIZATION),
    (
        re.compile(rf"\b(what|which) ({PERSON_NOUNS})\b|\bwho\b|\bwhom\b|\bwhose\b"),
        AnswerType.PERSON,
    ),
]


@dataclass(frozen=True)
class QuestionAnalysis:
    text: str
    answer_type: AnswerType
    terms: tuple[str, ...]  # index terms of the question's content words
    surfaces: tuple[str, ...]  # the question's word for each term (for soft matching)
    focus_terms: tuple[str, ...]  # for counts: what is counted ("tanks" in "how many tanks ...")
    proper_terms: frozenset[str]  # terms from capitalized words: names weigh more
    wh: tuple[str, ...] = ()  # the words of a which/what phrase ("former", "u.s", "president")
    wants_money: bool = False  # "how much did it cost": an amount of money, not a count
    owned: str | None = None  # "whose spokesperson": the answer owns a "spokesperson"
    date_prep: str | None = None  # "since when": the answer follows "since" in the text
    date_unit: str | None = None  # "in what year": the answer names a year, not "last year"
    verb: str | None = None  # "what did Zelensky confirm": the answer is the object of "confirm"
    stranded: str | None = None  # "what did X accuse Y of?": the answer follows "of"
    happened: bool = False  # "what happened to X?": the answer is what X did or underwent
    passive: str | None = None  # "how many were killed", "what was damaged": term of "killed"


AUXILIARIES = r"did|does|do|was|were|is|are|has|have|had|will|would|can|could|should|may|might"
WH_PHRASE = re.compile(
    r"\b(?:which|what)\s+(?:(?:kind|type|sort|form)s?\s+of\s+)?(?:(?:is|was) the name of (?:the |a )?)?"
    r"((?:[\w.'’-]+\s*){1,4})",
    re.IGNORECASE,
)
NOUN_TYPES: list[tuple[str, AnswerType]] = [
    (COUNT_NOUNS, AnswerType.COUNT),
    (DATE_NOUNS, AnswerType.DATE),
    (PLACE_NOUNS, AnswerType.PLACE),
    (ORG_NOUNS, AnswerType.ORGANIZATION),
    (PERSON_NOUNS, AnswerType.PERSON),
]


def wh_words(question: str) -> list[str]:
    """The words of a which/what phrase, up to its verb.

    >>> wh_words("Which former U.S. president was skeptical?")
    ['former', 'u.s', 'president']
    >>> wh_words("What kind of strikes hit Odessa?")
    ['strikes', 'hit', 'odessa']
    """
    match = WH_PHRASE.search(question)
    if not match:
        return []
    out = []
    for word in match.group(1).lower().split():
        if word in AUXILIARIES.split("|"):
            break
        out.append(word.strip("?,."))
    return out


MONEY = re.compile(
    r"\bhow much\b.*\b(cost|costs|spend|spent|pay|paid|worth|price|budget|money|fund|funding|"
    r"aid|loan|damage[sd]? worth)\b|\bhow much money\b",
    re.IGNORECASE,
)


def wh_type(question: str) -> AnswerType | None:
    for word in wh_words(question):
        for nouns, answer_type in NOUN_TYPES:
            if re.fullmatch(rf"(?:{nouns})(?:s|es)?", word):
                return answer_type
    return None


def answer_type_of(question: str) -> AnswerType:
    """The kind of answer a question wants.

    >>> answer_type_of("How many were wounded in Odessa?").value
    'count'
    >>> answer_type_of("Which city was struck?").value, answer_type_of("Who alleged it?").value
    ('place', 'person')
    >>> answer_type_of("What is the death toll from the strike on Kramatorsk?").value
    'count'
    >>> answer_type_of("When did the mayor say the death toll had climbed to 12?").value
    'date'
    >>> answer_type_of("How many were killed when shells hit the hospital?").value
    'count'
    """
    low = " ".join(question.lower().split())
    typed = None if re.search(r"\bhow (many|much)\b", low) else wh_type(low)
    if typed is not None:
        return typed
    for pattern, answer_type in RULES:
        if pattern.search(low):
            return answer_type
    return AnswerType.DESCRIPTION


FOCUS_STOP = {
    "were",
    "was",
    "did",
    "do",
    "does",
    "have",
    "has",
    "had",
    "are",
    "is",
    "will",
    "would",
    "could",
    "can",
    "in",
    "of",
    "on",
    "at",
    "by",
    "for",
    "to",
    "the",
    "a",
}
QUESTION_WORDS = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}


DATE_PREP = re.compile(r"\b(since|until|till|by|before|after) (?:when|what|which)\b", re.I)
DATE_UNIT = re.compile(r"\b(?:what|which) (year|century|decade)\b", re.I)


def date_slot(question: str) -> tuple[str | None, str | None]:
    """The preposition before a date question's wh-word, and the calendar unit it names.

    >>> date_slot("Since when has the border been closed?"), date_slot("In what year was it?")
    (('since', None), (None, 'year'))
    """
    prep, unit = DATE_PREP.search(question), DATE_UNIT.search(question)
    return (
        prep.group(1).lower() if prep else None,
        unit.group(1).lower() if unit else None,
    )


PREPOSITIONS = frozenset(
    [
        "of",
        "about",
        "to",
        "for",
        "with",
        "on",
        "from",
        "against",
        "into",
        "at",
        "in",
        "by",
        "over",
        "after",
        "regarding",
        "toward",
        "towards",
    ]
)
HAPPENED = re.compile(
    r"\bwhat\s+(?:(?:has|had|have|will)\s+)?happen(?:ed|s)?\s+(?:to|with)\b", re.I
)
OBJECT_QUESTION = re.compile(
    r"^\s*(?i:what\s+(?:did|does|do|has|have|had|will|would|can|could))\s+"
    r"(?:[A-Z][\w.'’-]*\s+)*[A-Z][\w'’-]*(?<!['’]s)\s+"  # a named subject, not "Kyiv's army"
    r"([a-z][\w-]*)\b"
)


NATIONALITY = re.compile(r"(?:ian|ean|ese|ish|ican)$")
# "how many (people)? were killed", "what was damaged": the participle after the auxiliary
QUESTION_PASSIVE = re.compile(
    r"^\s*(?i:what|how\s+many(?:\s+[\w'’-]+){0,3}?)\s+"
    r"(?i:was|were|is|are|has\s+been|have\s+been|had\s+been)\s+(?:[a-z]+ly\s+)?([a-z][a-z-]+)\b"
)
QUESTION_INTRANSITIVE = re.compile(r"^\s*(?i:how\s+many(?:\s+[\w'’-]+){0,3}?)\s+([a-z]+ed)\b")
# "how many soldiers did the army say were killed", "how many had the ministry reported
# killed": the verb a source's report is about, after the source
QUESTION_SAID = re.compile(
    r"^\s*(?i:how\s+many(?:\s+[\w'’-]+){0,3}?)\s+(?i:had|have|has|did|does|do)\s+[^,?]{1,60}?\s+"
    r"(?i:report|reported|say|said|confirm|confirmed|announce|announced)\s+"
    r"(?:(?i:were|was|had\s+been|have\s+been)\s+)?([a-z]+ed)\b"
)
# what follows "was"/"were" in a question without being its verb ("how many children were
# among the dead", "what was the name")
NOT_A_VERB = (
    frozenset({"the", "a", "an", "it", "there", "not"})
    | PREPOSITIONS
    | {"among", "between", "near", "under", "inside", "behind", "within"}
)
# "were reported killed", "were confirmed injured": the report's verb is the one after it
REPORTED = frozenset({"reported", "said", "confirmed", "believed", "feared", "thought", "known"})
REPORTED_AS = re.compile(r"\s+(?:to\s+have\s+been\s+)?([a-z]+ed)\b")


# "According to the mayor, how many ...", "On Monday, what ...": the question after it
LEADING_CLAUSE = re.compile(r"^[^,?]{1,80},\s*(?=(?:how|what|which|who|when|where)\b)", re.I)
# "What did the ministry say about how many soldiers were wounded?": the count asked is inside
EMBEDDED_COUNT = re.compile(r"^(?:what|which)\b[^?]{1,80}?\b(?:about|on)\s+(?=how many\b)", re.I)


def question_verb(question: str) -> str | None:
    """The verb a "how many"/"what" question asks about, in the passive or as "people died".

    >>> question_verb("How many civilians were killed in Kherson?"), question_verb("What was damaged?")
    ('killed', 'damaged')
    >>> question_verb("how many people died?"), question_verb("What was the name of the ship?")
    ('died', None)
    >>> question_verb("What was believed to be the cause?") is None
    True
    >>> question_verb("According to the doctors, how many people died?")
    'died'
    >>> question_verb("How many had been reported killed?"), question_verb("How many soldiers did the army say were killed?")
    ('killed', 'killed')
    >>> question_verb("How many people had the health ministry reported injured by May 2?")
    'injured'
    >>> question_verb("How many children were among the dead?") is None
    True
    >>> question_verb("What did the ministry say about how many soldiers were wounded near Kiswah?")
    'wounded'
    """
    question = EMBEDDED_COUNT.sub("", LEADING_CLAUSE.sub("", question))
    match = (
        QUESTION_PASSIVE.match(question)
        or QUESTION_INTRANSITIVE.match(question)
        or QUESTION_SAID.match(question)
    )
    if match is None or match.group(1).lower() in NOT_A_VERB:
        return None
    if re.match(r"\s+(?:to|that)\b", question[match.end() :]):
        return None  # "what was believed to be the cause": the complement, not a subject
    verb = match.group(1).lower()
    reported = REPORTED_AS.match(question, match.end()) if verb in REPORTED else None
    return reported.group(1).lower() if reported else verb


def question_slot(question: str) -> tuple[str | None, str | None, bool]:
    """Where a what-question's answer sits: the object of its verb after a named subject, after
    a final stranded preposition, or (for "what happened to X") X's predicate.

    >>> question_slot("What has Smith voiced about the budget?")
    ('voiced', None, False)
    >>> question_slot("What did Chinese engineers build?")
    (None, None, False)
    >>> question_slot("What did the court accuse him of?"), question_slot("What happened to the deal?")
    ((None, 'of', False), (None, None, True))
    """
    verb = OBJECT_QUESTION.match(question)
    if verb:  # "What did European empires rely on": an adjective of nationality, no subject
        named = question[: verb.start(1)].split()[-1].lower()
        if named in load_lexicon().demonyms or NATIONALITY.search(named):
            verb = None
    last = re.findall(r"[\w'’-]+", question.lower())
    stranded = last[-1] if last and last[-1] in PREPOSITIONS else None
    happened = bool(HAPPENED.search(question))
    word = verb.group(1) if verb and verb.group(1) not in STOPWORDS else None
    return word, stranded, happened


def counted_noun(question: str) -> str | None:
    """What a count question counts: the word after "how many" ("children" in "how many
    children were killed"), unless a verb or "of" comes first.

    >>> counted_noun("How many children were among the dead?"), counted_noun("How many were hurt?")
    ('children', None)
    """
    match = re.search(r"\b(?:how many|what number of)\s+([\w'-]+)", question, re.I)
    if match is None or match.group(1).lower() in FOCUS_STOP | {"of", "more", "people"}:
        return None
    return match.group(1)


def analyze_question(question: str, analyzer: Analyzer) -> QuestionAnalysis:
    answer_type = answer_type_of(question)
    date_prep, date_unit = date_slot(question) if answer_type is AnswerType.DATE else (None, None)
    tokens = words(question)
    terms: list[str] = []
    surfaces: list[str] = []
    proper: set[str] = set()
    for i, tok in enumerate(tokens):
        low = tok.text.lower()
        if low in QUESTION_WORDS or low in STOPWORDS:
            continue
        term = analyzer.term(tok.text)
        if not term or term in terms:
            continue
        terms.append(term)
        surfaces.append(tok.text)
        if tok.text[:1].isupper() and i > 0:
            proper.add(term)
    focus: list[str] = []
    match = re.search(
        r"\b(?:how (?:many|much)|(?:what|which) (?:number|amount|quantity) of)\s+(.*)",
        question,
        re.IGNORECASE,
    )
    if match:
        for tok in words(match.group(1)):
            if tok.text.lower() in FOCUS_STOP:
                break
            term = analyzer.term(tok.text)
            if term:
                focus.append(term)
    # The unit a date question asks for ("in what year") is the answer's slot, not evidence.
    verb, stranded, happened = question_slot(question)
    slot = {"mani", "number", *([analyzer.term(date_unit)] if date_unit else [])}
    if happened:  # "what happened to X": "happened" stands for the answer
        slot.add(analyzer.term("happened"))
    kept = [(t, w) for t, w in zip(terms, surfaces, strict=True) if t not in slot]
    return QuestionAnalysis(
        question,
        answer_type,
        tuple(t for t, _ in kept),
        tuple(w for _, w in kept),
        tuple(focus),
        frozenset(proper),
        tuple(wh_words(question)),
        bool(MONEY.search(question)),
        (
            whose.group(1).lower()
            if (whose := re.search(r"\bwhose\s+([\w-]+)", question, re.I))
            else None
        ),
        date_prep,
        date_unit,
        analyzer.term(verb) if verb else None,
        stranded,
        happened,
        analyzer.term(passive) if (passive := question_verb(question)) else None,
    )
