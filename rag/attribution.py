"""Who makes a claim: the speaker of a reporting verb ("officials confirmed", "according to X")."""

from __future__ import annotations

import re

from rag.lexicon import Lexicon

CLAUSE_BREAK = re.compile(r"[,;:(]|\b(?:while|but|as|which|who|after|when|whereas|that)\b", re.I)
AUXILIARY = re.compile(
    r"(?:\s+(?:has|have|had|also|reportedly|repeatedly|previously|then|later|again|"
    r"publicly|openly|quickly|recently|has since))+$",
    re.I,
)
PASSIVE = {"is", "are", "was", "were", "be", "been", "being"}
MAX_SPEAKER_WORDS = 8
LEADING = re.compile(r"^(?:the|a|an|also|both|then)\s+", re.I)
STRAY = "\"'“”‘’«»„()[]-–—,;:. "  # quote marks and punctuation a clause can end on
# a news dateline before an article's first sentence: "KYIV —", "NIAMEY, March 22 (Reuters) -"
UPPER = "A-ZÀ-ÖØ-Þ"  # "BOGOTÁ —"
DATELINE = re.compile(
    rf"^\s*[{UPPER}][{UPPER} .'-]*[{UPPER}](?:,[^—–\n]{{0,40}}?)?(?:\s*\([^)]*\))?\s+[—–-]\s+"
)


# a figure a source gives as its estimate, right before it: "the agency put the toll at 26"
PUT_AT = re.compile(
    r"\b(?:put|puts|putting|placed|places|estimated|estimates)\s+(?:the|its|their)\s+"
    r"(?:[\w-]+\s+){0,3}?(?:toll|figure|number|count|tally)(?:\s+of\s+[\w-]+)?\s+at\s+"
    r"(?:about\s+|around\s+|at\s+least\s+|more\s+than\s+|nearly\s+)?$",
    re.I,
)


def attribution(sentence: str, answer_start: int, lexicon: Lexicon) -> str | None:
    """The speaker whose claim holds the answer, or None when the sentence states it as fact
    or the answer is the speaker itself.

    >>> from rag.lexicon import load_lexicon
    >>> lex = load_lexicon()
    >>> attribution("Local officials confirmed that three were wounded.", 31, lex)
    'Local officials'
    >>> attribution("Zelensky alleged 3,000 violations, while Russia accused Ukraine of strikes.", 60, lex)
    'Russia'
    >>> attribution("Zelensky alleged 3,000 violations, while Russia accused Ukraine of strikes.", 0, lex)
    >>> attribution("Three people were wounded, officials said.", 0, lex)
    'officials'
    >>> attribution("Hostilities were reported in the city.", 30, lex) is None
    True
    >>> attribution('Three were hurt, according to “Ukrainska Pravda”.', 0, lex)
    'Ukrainska Pravda'
    >>> attribution('“We are ready,” said Peskov, adding that three were hurt.', 42, lex) is None
    True
    >>> attribution("KYIV — Ukraine's General Staff said 10 missiles were fired.", 36, lex)
    "Ukraine's General Staff"
    >>> s = "The hospital said it received 21 bodies, while the civil defence agency put the toll at 26."
    >>> attribution(s, s.index("26"), lex), attribution(s, s.index("21"), lex)
    ('civil defence agency', 'hospital')
    """
    dateline = DATELINE.match(sentence)
    if dateline and answer_start >= dateline.end():  # where it was filed is nobody's claim
        sentence, answer_start = sentence[dateline.end() :], answer_start - dateline.end()
    put = PUT_AT.search(sentence[:answer_start])
    if put is not None:  # "..., while the civil defence agency put the toll at 26"
        speaker = _speaker_before(sentence, put.start())
        if speaker is not None:
            return speaker
    according = re.search(r"\baccording to ([^,.;]+)", sentence, re.I)
    if according and not according.start(1) <= answer_start < according.end(1):
        named = speaker_name(according.group(1))
        if named:
            return named
    before: str | None = None
    after: str | None = None
    for match in re.finditer(r"[\w’'-]+", sentence):
        word = match.group().lower()
        if word not in lexicon.reporting_verbs or word == "according":
            continue
        head = sentence[: match.start()].split()
        if head and head[-1].lower() in PASSIVE:
            continue  # "were reported": nobody named
        if match.start() <= answer_start:
            speaker = _speaker_before(sentence, match.start())
            if speaker is None and word.endswith("ing"):
                speaker = _sentence_subject(sentence)
            if speaker is None or any(
                w.lower() in lexicon.reporting_verbs for w in speaker.split()
            ):
                continue  # "said it had received" is no one who reports
            if _inside(speaker, sentence, match.start(), answer_start):
                return None  # the answer is who speaks
            before = speaker
        elif after is None:
            if _speaker_before(sentence, match.start()) and _inside(
                _speaker_before(sentence, match.start()) or "",
                sentence,
                match.start(),
                answer_start,
            ):
                return None
            after = _speaker_after(sentence, match.end())
    return before or after


def _speaker_before(sentence: str, verb_start: int) -> str | None:
    """The speaker right before a reporting verb; an appositive where the clause ends on one.

    >>> s = "The UN humanitarian office, OCHA, said 19 people were killed."
    >>> _speaker_before(s, s.index("said"))
    'UN humanitarian office OCHA'
    >>> s = "The abbot, who asked that his name be withheld, said 40 were hurt."
    >>> _speaker_before(s, s.index("said"))
    'abbot'
    >>> s = "Jean-Pierre Ndjadi, president of civil society in Djugu, said 31 died."
    >>> _speaker_before(s, s.index("said"))
    'Jean-Pierre Ndjadi'
    """
    head = sentence[:verb_start]
    breaks = list(CLAUSE_BREAK.finditer(head))
    clause = head[breaks[-1].end() :] if breaks else head
    if not clause.strip() and breaks and breaks[-1].group() == ",":
        clause = _set_off_speaker(head, breaks)
    clause = AUXILIARY.sub("", " " + LEADING.sub("", speaker_name(clause) or "")).strip()
    if not clause or len(clause.split()) > MAX_SPEAKER_WORDS:
        return None
    return clause


def _set_off_speaker(head: str, breaks: list[re.Match[str]]) -> str:
    """The speaker of "X, <set off by commas>, said": X, with the part set off where it is a
    name ("The UN office, OCHA," -> "The UN office OCHA"); a description ("a group that ...",
    "who asked not to be named", "speaking on condition of anonymity") is left out."""
    subject = _sentence_subject(head) or ""
    set_off = ""
    if len(breaks) >= 2 and breaks[-2].group() == ",":
        set_off = head[breaks[-2].end() : breaks[-1].start()].strip()
    named = re.match(r"(?:the\s+)?[A-Z]", set_off) and len(set_off.split()) <= 5
    if subject and head.find(subject) + len(subject) < breaks[-1].start() - len(set_off) - 3:
        named = False  # more than one part set off: the subject alone
    return f"{subject} {set_off}".strip() if named else subject


TRAILING_TIME = re.compile(
    r"\s*(?:(?:late |early )?(?:on|last|this) \w+(?: \d{1,2})?|yesterday|today|overnight)?"
    r"\s*(?:[.,;]|$)",
    re.I,
)


def _speaker_after(sentence: str, verb_end: int) -> str | None:
    """Trailing attribution: '..., officials said.', '..., officials said on Friday.',
    '..., the regional governor, Ivan Fedorov, said.' or '..., said the governor.'

    >>> s = "The toll rose to 9, the health department said on Friday."
    >>> _speaker_after(s, s.index(" on"))
    'health department'
    >>> s = "It reached 10 dead, the city's mayor, Oleksandr Hnatenko, said yesterday."
    >>> _speaker_after(s, s.index(" yesterday"))  # had been 'yesterday': the word after the verb
    'Oleksandr Hnatenko'
    >>> _speaker_after("Ten people died, said yesterday.", 21) is None
    True
    >>> s = "Six were killed, the head of the region, Ivan Fedorov, said."
    >>> _speaker_after(s, len(s) - 1)
    'Ivan Fedorov'
    """
    head, rest = sentence[:verb_end].rstrip(), sentence[verb_end:]
    speaker = None
    clause = re.search(r"[,;]\s*((?:the\s+)?[\w’' -]{2,60}?),?\s+\w+$", head)
    if clause and TRAILING_TIME.match(rest):  # "..., officials said (on Friday)."
        speaker = clause.group(1)
    tail = re.match(r"\s+((?:the\s+)?[\w’' -]{2,60}?)\s*[.,;]", rest)
    # "..., said the governor." (not "..., said yesterday.": a time is nobody)
    if speaker is None and tail and not TRAILING_TIME.match(rest) and re.search(r",\s*\w+$", head):
        speaker = tail.group(1)
    if speaker is None or len(speaker.split()) > MAX_SPEAKER_WORDS:
        return None
    if re.match(r"(?:who|which|that)\b", speaker.strip(), re.I):
        return None
    return speaker_name(LEADING.sub("", speaker.strip()))


def speaker_name(text: str) -> str | None:
    """A speaker without the quote marks and punctuation around it; None if no word is left.

    >>> speaker_name('” officials'), speaker_name('"'), speaker_name(" (the ministry) ")
    ('officials', None, 'the ministry')
    """
    name = text.strip(STRAY)
    return name if any(ch.isalnum() for ch in name) else None


def _sentence_subject(sentence: str) -> str | None:
    """The opening noun phrase of a sentence, up to its first comma."""
    first = sentence.split(",")[0].strip()
    words = first.split()
    if 0 < len(words) <= MAX_SPEAKER_WORDS and words[0][:1].isupper():
        return first
    return None


def _inside(speaker: str, sentence: str, verb_start: int, answer_start: int) -> bool:
    pos = sentence.rfind(speaker, 0, verb_start)
    return pos >= 0 and pos <= answer_start < pos + len(speaker)


BARE = re.compile(r"^(?:the\s+)?(?P<head>[a-z][\w-]*)$")


def named_earlier(speaker: str | None, text: str, before: int) -> str | None:
    """A bare noun speaker ("the service", "the ministry") as the article named it before
    ("Ukraine's State Emergency Service"): the latest earlier mention that ends on that noun
    and starts with a capital; else the speaker as it is.

    >>> t = "Ukraine's State Emergency Service said nine died. The toll rose, the service said."
    >>> named_earlier("service", t, t.index("The toll"))
    "Ukraine's State Emergency Service"
    >>> named_earlier("ministry", "Later, said the Health Ministry. The ministry said so.", 33)
    'Health Ministry'
    >>> named_earlier("officials", t, len(t)), named_earlier("the governor Oleh Marchuk", t, 0)
    ('officials', 'the governor Oleh Marchuk')
    """
    bare = BARE.match(speaker.strip()) if speaker else None
    if bare is None:
        return speaker
    head = re.escape(bare.group("head"))
    found = None
    for match in re.finditer(
        rf"\b[A-Z][\w’'-]*(?:\s+(?:of\s+|the\s+)?[\w’'-]+){{0,5}}?\s+(?i:{head})\b", text[:before]
    ):
        found = match.group()
    return found or speaker
