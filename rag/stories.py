"""Whether two articles tell the same story: the test a figure of one must pass before it can
update or dispute the other's.

A news story names its event in its title and lead (place, people, forces). Two articles about
one event share at least one such name; two about different events mostly do not, once the
names of countries and their demonyms ("Russia", "Ukrainian": every story of a war names them)
are left out. Measured on the updates development set (eval/updates-dev: 18 series of 2-4
articles): every one of the 30 same-series pairs shares a name, 15 of 831 pairs from different
series do (61 with countries counted); on the news fitting set (eval/fit, every article its own
event) 15 of 276 pairs (36). The mean of the articles' sentence vectors separated them worse
(171 of 831 different-series pairs at the cosine that kept 29 of 30 same-series pairs).
"""

from __future__ import annotations

import re
from collections.abc import Set
from functools import lru_cache

from babel import Locale

from rag.dates import WEEKDAYS
from rag.documents import Article
from rag.sentences import article_sentences
from rag.spans import MONTHS_RE
from rag.text import WORD, Analyzer

LEAD_SENTENCES = 2
# a capitalized word that is not the first of its sentence (nor after a dateline's dash)
NAME = re.compile(r"(?<![.!?—–-]\s)(?<!^)\b[A-Z][a-z][\w'’-]*")
NOT_NAMES = frozenset(
    {"the", "a", "an", "in", "on", "at", "he", "she", "it", "they", "we", "i", "but", "and"}
    | set(WEEKDAYS)
)
_TERM = Analyzer({})
MONTH = re.compile(rf"(?:{MONTHS_RE})", re.I)
# CLDR's English names of countries and territories (Babel), word by word and stemmed:
# "ukraine", "ukrain", "sudan", "palestinian" (of "Palestinian Territories"), "arabia"
_WORDS = {w.lower() for name in Locale("en").territories.values() for w in WORD.findall(name)}
COUNTRIES = frozenset(_WORDS | {Analyzer({}).term(w) for w in _WORDS} - {""})

DEMONYM_ENDINGS = frozenset(
    {"n", "an", "ian", "ean", "ese", "i", "is", "ns", "ans", "ians", "ien", "iens"}
)  # "Nigerien" for Niger


def names_in(name: tuple[str, ...], vocabulary: Set[str]) -> bool:
    """Whether an article's words and terms hold a name, as written or as the demonym of
    it or its place ("Sudanese" for Sudan, "Israeli" for Israel, "Ukrainian" for Ukraine).

    >>> names_in(("israeli", "isra"), {"israel", "gaza"}), names_in(("sudan", "sudan"), {"sudanese"})
    (True, True)
    >>> names_in(("niger", "niger"), {"nigeria"}), names_in(("mali", "mali"), {"malik"})
    (False, False)
    >>> names_in(("nigerien", "nigerien"), {"niger", "abala"})
    True
    """
    if any(form in vocabulary for form in name):
        return True
    for form in name:
        for word in vocabulary:
            short, long = (form, word) if len(form) < len(word) else (word, form)
            if len(short) >= 4 and long.startswith(short) and long[len(short) :] in DEMONYM_ENDINGS:
                return True
    return False


def lead_names(article: Article) -> frozenset[str]:
    """The names an article's title and lead give, lower case, possessives stripped.

    >>> a = Article(id="x", title="Strike on Kramatorsk kills five",
    ...             text="KRAMATORSK — A Russian missile hit a block on Monday. Rescuers dug.")
    >>> sorted(lead_names(a))  # "Russian" names a country, not this story
    ['kramatorsk']
    """
    return _names(article.id, article.title, article.text)


@lru_cache(maxsize=1024)  # holds the texts: a few MB
def _names(doc_id: str, title: str, text: str) -> frozenset[str]:
    article = Article(id=doc_id, title=title, text=text)
    lead = [s.text for s in article_sentences(article)[:LEAD_SENTENCES]]
    found = set()
    for part in (title, *lead):
        for match in NAME.finditer(part):
            word = re.sub(r"['’]s$", "", match.group()).lower()
            country = names_in((word, _TERM.term(word)), COUNTRIES)
            if word in NOT_NAMES or MONTH.fullmatch(word) or country:
                continue
            found.add(word)
    return frozenset(found)


def same_story(a: Article, b: Article) -> bool:
    """True for the same article, or two whose titles and leads share a name."""
    return a.id == b.id or bool(lead_names(a) & lead_names(b))
