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
from itertools import islice
from typing import Any

from rag.documents import Article, Copy

SHINGLE_WORDS = 5
MAX_WORDS = 20_000  # a story is recognized by its first 20,000 words (a 10 MB page has ~1.7M)
NUM_PERM = 128
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


def signature(text: str) -> Any:
    """The MinHash of the text's shingles (datasketch)."""
    from datasketch import MinHash

    minhash = MinHash(num_perm=NUM_PERM, seed=1)
    minhash.update_batch([s.encode("utf-8") for s in shingles(text)])
    return minhash


class CopyIndex:
    """Stored articles by MinHash, to find the one an incoming article copies."""

    def __init__(self, threshold: float, signatures: dict[str, tuple[str, Any]] | None = None):
        from datasketch import MinHashLSH

        self.threshold = threshold
        self.lsh = MinHashLSH(threshold=threshold, num_perm=NUM_PERM)
        # id -> (content hash, MinHash); shared across writes so unchanged articles are not redone
        self.cache = signatures if signatures is not None else {}
        self.members: dict[str, Any] = {}
        self.indexed: dict[str, Article] = {}  # the article objects the members were made from

    def add(self, article: Article) -> None:
        cached = self.cache.get(article.id)
        if cached is None or cached[0] != article.content_hash:
            cached = (article.content_hash, signature(article.text))
            self.cache[article.id] = cached
        self.remove(article.id)
        self.lsh.insert(article.id, cached[1])
        self.members[article.id] = cached[1]
        self.indexed[article.id] = article

    def remove(self, doc_id: str) -> None:
        if doc_id in self.members:
            self.lsh.remove(doc_id)
            del self.members[doc_id]
            del self.indexed[doc_id]

    def sync(self, stored: Mapping[str, Article]) -> None:
        """Index exactly the stored articles. Kept from write to write, only what changed is
        redone: stored articles are immutable objects, the same ones from write to write
        (at 100k chunks a rebuild took 4-8 s a write, the signatures 30 s at first)."""
        for doc_id in [d for d in self.members if d not in stored]:
            self.remove(doc_id)
        for doc_id, article in stored.items():
            if self.indexed.get(doc_id) is not article:
                self.add(article)

    def original_of(self, article: Article) -> str | None:
        """The stored article this one is a copy of (the most similar at or over the
        threshold), or None."""
        minhash = signature(article.text)
        self.cache[article.id] = (article.content_hash, minhash)
        best, best_score = None, self.threshold
        for doc_id in self.lsh.query(minhash):
            if doc_id == article.id:
                continue
            score = minhash.jaccard(self.members[doc_id])
            if score >= best_score:
                best, best_score = doc_id, score
        return best


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
