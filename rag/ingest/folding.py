"""Wire copies: the same story republished by several outlets is stored once.

Each article's text becomes a MinHash of its 5-word shingles (lowercased words, punctuation
dropped); an LSH index finds stored articles whose estimated Jaccard similarity reaches the
threshold, and the closest one keeps the story while the copy becomes one of its
`also_published` entries (source, url, date). eval/fold_pairs.jsonl measures the threshold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np

from rag.documents import Article, Copy

if TYPE_CHECKING:
    from rag.segments import Segment

SHINGLE_WORDS = 5
MAX_WORDS = 20_000  # a story is recognized by its first 20,000 words (a 10 MB page has ~1.7M)
NUM_PERM = 128
SEED = 1
WORD = re.compile(r"\w+")


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The text's runs of `size` words, lowercased, punctuation ignored.

    >>> sorted(shingles("Three were WOUNDED, officials said.", size=3))
    ['three were wounded', 'were wounded officials', 'wounded officials said']
    """
    words = [m.group() for m in islice(WORD.finditer(text.casefold()), MAX_WORDS)]
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    """|a & b| / |a | b|; 0 for two empty sets."""
    return len(a & b) / len(a | b) if a or b else 0.0


@cache
def _empty() -> Any:
    """A fresh MinHash to copy: making the permutations is most of a short text's cost."""
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=SEED)


def signature(text: str) -> Any:
    """The MinHash of the text's shingles (datasketch)."""
    minhash = _empty().copy()
    minhash.update_batch([s.encode("utf-8") for s in shingles(text)])
    return minhash


def signature_kind() -> dict[str, Any]:
    """What stored signature rows were made with; rows of another kind are made anew."""
    return {
        "scheme": _empty().scheme,
        "num_perm": NUM_PERM,
        "seed": SEED,
        "shingle_words": SHINGLE_WORDS,
        "max_words": MAX_WORDS,
    }


def signature_rows(texts: Iterable[str]) -> np.ndarray:
    """The texts' MinHash values, one row each (kept in an index segment, so a process
    never shingles the whole archive again to fold one copy)."""
    rows = [signature(text).hashvalues for text in texts]
    dtype = _empty().hashvalues.dtype
    return np.array(rows, dtype=dtype).reshape(len(rows), NUM_PERM)


# odd 64-bit multipliers that fold a band's values into one key (wrapping arithmetic)
_MIX = np.random.default_rng(20240303).integers(1, 2**63, size=NUM_PERM, dtype=np.uint64) | 1


@dataclass(frozen=True)
class Banding:
    """LSH bands for a threshold, as datasketch picks them: `bands` bands of `width` values;
    two signatures are candidates when all the values of one band agree."""

    bands: int
    width: int

    @classmethod
    def for_threshold(cls, threshold: float) -> Banding:
        return _banding(threshold)

    @property
    def name(self) -> str:
        """How stored keys were made ("25x5"): keys of another banding are made anew."""
        return f"{self.bands}x{self.width}"

    def keys(self, rows: np.ndarray) -> np.ndarray:
        """One key per band and row (int64, so PostgreSQL's bigint[] can hold them)."""
        used = self.bands * self.width
        values = rows[:, :used].astype(np.uint64).reshape(len(rows), self.bands, self.width)
        mixed = (values * _MIX[:used].reshape(self.bands, self.width)).sum(axis=2)
        return mixed.view(np.int64)


@cache
def _banding(threshold: float) -> Banding:
    """datasketch's choice for a threshold, made once (it integrates the false positive and
    negative rates: ~30 ms a call, and a PostgreSQL write asks for it several times)."""
    from datasketch import MinHashLSH

    chosen = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
    return Banding(int(chosen.b), int(chosen.r))


class CopyIndex:
    """Stored articles by MinHash, to find the one an incoming article copies.

    Locality-sensitive hashing with datasketch's banding for the threshold (b bands of r
    values): two articles are candidates when one band agrees in all its values, and the
    candidates' estimated Jaccard similarity decides. The rows and band keys are numpy arrays
    matched all at once, so taking in a segment's stored rows costs milliseconds (datasketch's
    MinHashLSH took 0.2-0.4 ms an insert: 12-25 s for 58k stored articles)."""

    def __init__(self, threshold: float, signatures: dict[str, tuple[str, Any]] | None = None):
        self.banding = Banding.for_threshold(threshold)
        self.threshold = threshold
        # id -> (content hash, MinHash row); shared across writes so unchanged articles are
        # not redone
        self.cache = signatures if signatures is not None else {}
        self.indexed: dict[str, Article] = {}  # the article objects the rows were made from
        self._position: dict[str, int] = {}
        self._ids: list[str] = []
        self._rows = np.zeros((0, NUM_PERM), dtype=_empty().hashvalues.dtype)
        self._keys = np.zeros((0, self.banding.bands), dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)

    def seed(self, segment: Segment, deleted: frozenset[str]) -> None:
        """Cache the MinHash rows a segment stores for its live articles."""
        rows = segment.copy_signatures(signature_kind())
        if rows is None:
            return
        for doc_id, row in zip(segment.article_ids, rows, strict=True):
            if doc_id not in deleted and doc_id not in self.cache:
                self.cache[doc_id] = (segment.articles[doc_id].content_hash, row)

    def rows_of(self, articles: Mapping[str, Article]) -> dict[str, np.ndarray]:
        """The cached MinHash rows of these articles (their current text's), by id."""
        return {
            k: cached[1]
            for k, a in articles.items()
            if (cached := self.cache.get(k)) is not None and cached[0] == a.content_hash
        }

    def add(self, article: Article) -> None:
        self.add_all([article])

    def add_all(self, articles: list[Article]) -> None:
        rows = [self.row(a) for a in articles]
        for article in articles:
            self.remove(article.id)
        self._append(articles, np.array(rows, dtype=self._rows.dtype).reshape(-1, NUM_PERM))

    def remove(self, doc_id: str) -> None:
        position = self._position.pop(doc_id, None)
        if position is not None:
            self._alive[position] = False
            del self.indexed[doc_id]

    def sync(self, stored: Mapping[str, Article]) -> None:
        """Index exactly the stored articles. Kept from write to write, only what changed is
        redone: stored articles are immutable objects, the same ones from write to write."""
        for doc_id in [d for d in self._position if d not in stored]:
            self.remove(doc_id)
        self.add_all([a for d, a in stored.items() if self.indexed.get(d) is not a])

    def original_of(self, article: Article) -> str | None:
        """The stored article this one is a copy of (the most similar at or over the
        threshold; of equals, the one indexed first), or None."""
        row = self.row(article)
        n = len(self._ids)
        hits = np.flatnonzero((self._keys[:n] == self.banding.keys(row[None])[0]).any(axis=1))
        hits = hits[self._alive[hits]]
        scores = (self._rows[hits] == row).mean(axis=1)  # MinHash's Jaccard estimate
        for i in np.argsort(-scores, kind="stable"):
            if scores[i] < self.threshold:
                break
            if self._ids[hits[i]] != article.id:
                return self._ids[hits[i]]
        return None

    def row(self, article: Article) -> np.ndarray:
        """The article's MinHash row (cached by id and content)."""
        cached = self.cache.get(article.id)
        if cached is None or cached[0] != article.content_hash:
            cached = (article.content_hash, signature(article.text).hashvalues)
            self.cache[article.id] = cached
        return cached[1]

    def _append(self, articles: list[Article], rows: np.ndarray) -> None:
        if len(self._ids) + len(articles) > len(self._rows):
            self._compact(len(articles))
        start = len(self._ids)
        stop = start + len(articles)
        self._rows[start:stop] = rows
        self._keys[start:stop] = self.banding.keys(rows)
        self._alive[start:stop] = True
        for i, article in enumerate(articles, start):
            self._ids.append(article.id)
            self._position[article.id] = i
            self.indexed[article.id] = article

    def _compact(self, room: int) -> None:
        """Drop removed rows and make room for `room` more (at least double the live ones)."""
        live = np.flatnonzero(self._alive[: len(self._ids)])
        size = max(2 * (len(live) + room), 64)
        rows = np.zeros((size, NUM_PERM), dtype=self._rows.dtype)
        keys = np.zeros((size, self.banding.bands), dtype=np.int64)
        alive = np.zeros(size, dtype=bool)
        rows[: len(live)], keys[: len(live)] = self._rows[live], self._keys[live]
        alive[: len(live)] = True
        self._rows, self._keys, self._alive = rows, keys, alive
        self._ids = [self._ids[i] for i in live]
        self._position = {doc_id: i for i, doc_id in enumerate(self._ids)}


@dataclass
class FoldPlan:
    """What a write stores once copies are folded."""

    store: dict[str, Article] = field(default_factory=dict)  # incoming articles kept
    touched: dict[str, Article] = field(default_factory=dict)  # stored ones whose copies changed
    folded: list[tuple[str, str]] = field(default_factory=list)  # (copy id, kept id)


def as_copy(article: Article) -> Copy:
    return Copy(article.id, article.source, article.url, article.published_at, article.title)


def fold(
    existing: Mapping[str, Article], incoming: Iterable[Article], index: CopyIndex | None
) -> FoldPlan:
    """Decide, in order, which incoming articles are stored and which are copies.

    An article whose id is stored is a replacement (it keeps its copies), never folded. A new
    one that copies a stored or earlier incoming article becomes an `also_published` entry
    of it. `index` None turns folding off.
    """
    plan = FoldPlan()
    copy_of = {c.id: kept.id for kept in existing.values() for c in kept.also_published}

    def current(doc_id: str) -> Article:
        return plan.store.get(doc_id) or plan.touched.get(doc_id) or existing[doc_id]

    def put(article: Article) -> None:
        if article.id in plan.store or article.id not in existing:
            plan.store[article.id] = article
        else:
            plan.touched[article.id] = article

    if index is not None:
        index.sync(existing)
    for article in incoming:
        if article.id in existing or article.id in plan.store:
            keep = current(article.id).also_published
            plan.store[article.id] = replace(article, also_published=keep)
            plan.touched.pop(article.id, None)
            if index is not None:
                index.add(article)
            continue
        previous = copy_of.pop(article.id, None)
        if previous is not None:  # a copy seen before: drop its old entry, then fold again
            kept = current(previous)
            others = tuple(c for c in kept.also_published if c.id != article.id)
            put(replace(kept, also_published=others))
        original = index.original_of(article) if index is not None else None
        if original is None:
            plan.store[article.id] = article
            if index is not None:
                index.add(article)
            continue
        kept = current(original)
        copies = tuple(c for c in kept.also_published if c.id != article.id) + (as_copy(article),)
        put(replace(kept, also_published=copies))
        copy_of[article.id] = original
        plan.folded.append((article.id, original))
    return plan
