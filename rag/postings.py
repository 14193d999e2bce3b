"""BM25 postings of one segment as plain arrays, and BM25 scores with statistics summed over
segments.

A segment's postings are a term-major CSR matrix: `terms[t]`'s documents are
`docs[indptr[t]:indptr[t + 1]]` (local rows, ascending) with term counts `tf[...]`, and
`doc_len[row]` is the row's number of terms. They are saved as `.npy` files (never pickled) and
memory-mapped at start-up, so a server no longer re-tokenizes every chunk to serve BM25.

Scoring is bm25s' default (Lucene) formula, with the document frequency of a term and the
average document length taken over the *live* rows of every segment: a search over many
segments ranks exactly as one over a single segment holding the same chunks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

K1, B = 1.5, 0.75  # bm25s' defaults (method "lucene")
EMPTY_TERM = "\u2205"  # a chunk without terms still counts as a document of length 1
FILES = {
    "terms": "bm25_terms.npy",
    "indptr": "bm25_indptr.npy",
    "docs": "bm25_docs.npy",
    "tf": "bm25_tf.npy",
    "doc_len": "bm25_doc_len.npy",
}
VERSION = "bm25-lucene-v1"


def analyzer_fingerprint(aliases: dict[str, str]) -> str:
    """What persisted postings depend on besides the text: the alias table (and this format)."""
    digest = hashlib.sha256(VERSION.encode())
    for variant, canonical in sorted(aliases.items()):
        digest.update(f"{variant}\t{canonical}\n".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Postings:
    terms: np.ndarray  # str [n_terms]
    indptr: np.ndarray  # int64 [n_terms + 1]
    docs: np.ndarray  # int32 [n_postings], local rows
    tf: np.ndarray  # float32 [n_postings]
    doc_len: np.ndarray  # float32 [n_rows]
    vocab: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.vocab and len(self.terms):
            object.__setattr__(self, "vocab", {t: i for i, t in enumerate(self.terms.tolist())})

    @property
    def rows(self) -> int:
        return len(self.doc_len)

    @classmethod
    def build(cls, token_lists: Sequence[list[str]]) -> Postings:
        """Postings of documents given as their terms.

        >>> p = Postings.build([["kyiv", "port", "kyiv"], []])
        >>> p.lookup("kyiv"), p.doc_len.tolist()
        ((array([0], dtype=int32), array([2.], dtype=float32)), [3.0, 1.0])
        """
        vocab: dict[str, int] = {}
        ids: list[int] = []
        lengths = np.empty(len(token_lists), dtype=np.int64)
        for row, tokens in enumerate(token_lists):
            tokens = tokens or [EMPTY_TERM]
            ids.extend(vocab.setdefault(t, len(vocab)) for t in tokens)
            lengths[row] = len(tokens)
        rows = np.repeat(np.arange(len(token_lists), dtype=np.int64), lengths)
        return cls._from_coo(
            list(vocab), np.asarray(ids, dtype=np.int64), rows, None, lengths, len(token_lists)
        )

    @classmethod
    def _from_coo(
        cls,
        terms: list[str],
        term_ids: np.ndarray,
        rows: np.ndarray,
        counts: np.ndarray | None,
        doc_len: np.ndarray,
        n_rows: int,
    ) -> Postings:
        """From (term, row[, count]) triples; repeated pairs are summed."""
        key = term_ids * max(n_rows, 1) + rows
        unique, inverse = np.unique(key, return_inverse=True)
        if counts is None:
            tf = np.bincount(inverse, minlength=len(unique))
        else:
            tf = np.bincount(inverse, weights=counts, minlength=len(unique))
        term_of = unique // max(n_rows, 1)
        used = np.unique(term_of)  # drop terms left without postings
        renumber = np.full(len(terms), -1, dtype=np.int64)
        renumber[used] = np.arange(len(used))
        indptr = np.zeros(len(used) + 1, dtype=np.int64)
        np.cumsum(np.bincount(renumber[term_of], minlength=len(used)), out=indptr[1:])
        return cls(
            terms=np.array([terms[i] for i in used.tolist()], dtype=str),
            indptr=indptr,
            docs=(unique % max(n_rows, 1)).astype(np.int32),
            tf=tf.astype(np.float32),
            doc_len=np.asarray(doc_len, dtype=np.float32),
        )

    def lookup(self, term: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(rows, term counts) of a term, or None when no row holds it."""
        t = self.vocab.get(term)
        if t is None:
            return None
        lo, hi = int(self.indptr[t]), int(self.indptr[t + 1])
        return self.docs[lo:hi], self.tf[lo:hi]

    def _coo(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        term_ids = np.repeat(np.arange(len(self.terms), dtype=np.int64), np.diff(self.indptr))
        return term_ids, self.docs.astype(np.int64), self.tf

    @classmethod
    def concat(cls, parts: Sequence[tuple[Postings, np.ndarray]]) -> Postings:
        """The postings of the kept rows (a bool mask per part) of several segments, in order,
        renumbered from 0: what a merge writes, without re-tokenizing any text."""
        vocab: dict[str, int] = {}
        term_parts, row_parts, tf_parts, len_parts = [], [], [], []
        offset = 0
        for postings, keep in parts:
            new_row = np.cumsum(keep) - 1 + offset
            mapping = np.array(
                [vocab.setdefault(t, len(vocab)) for t in postings.terms.tolist()], dtype=np.int64
            )
            term_ids, rows, tf = postings._coo()
            alive = keep[rows] if len(rows) else np.zeros(0, dtype=bool)
            term_parts.append(mapping[term_ids[alive]] if len(mapping) else term_ids[alive])
            row_parts.append(new_row[rows[alive]])
            tf_parts.append(tf[alive])
            len_parts.append(postings.doc_len[keep])
            offset += int(keep.sum())
        empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        return cls._from_coo(
            list(vocab),
            np.concatenate(term_parts) if term_parts else empty_i,
            np.concatenate(row_parts) if row_parts else empty_i,
            np.concatenate(tf_parts) if tf_parts else empty_f,
            np.concatenate(len_parts) if len_parts else empty_f,
            offset,
        )

    def save(self, folder: Path) -> list[str]:
        """Write the arrays into `folder`; returns the file names written."""
        for key, name in FILES.items():
            np.save(folder / name, np.ascontiguousarray(getattr(self, key)), allow_pickle=False)
        return list(FILES.values())

    @classmethod
    def load(cls, folder: Path, mmap: bool = True) -> Postings:
        """Read saved postings (raises OSError / ValueError on a damaged file)."""
        mode = "r" if mmap else None
        arrays = {
            # a plain ndarray over the mapped file: slicing a np.memmap costs microseconds a
            # slice in Python (a query slices each term's postings in every segment)
            key: np.load(
                folder / name, allow_pickle=False, mmap_mode=None if key == "terms" else mode
            ).view(np.ndarray)
            for key, name in FILES.items()
        }
        return cls(**arrays)

    def problems(self, n_rows: int) -> list[str]:
        """What is inconsistent in these arrays for a segment of `n_rows` chunks."""
        out = []
        if len(self.doc_len) != n_rows:
            out.append(f"doc lengths for {len(self.doc_len)} rows, the segment has {n_rows}")
        if len(self.indptr) != len(self.terms) + 1 or (len(self.indptr) and self.indptr[0] != 0):
            out.append("the term pointer does not match the terms")
        elif int(self.indptr[-1]) != len(self.docs) or np.any(np.diff(self.indptr) <= 0):
            out.append("the term pointer does not cover the postings in order")
        if len(self.tf) != len(self.docs):
            out.append("term counts and postings differ in length")
        elif len(self.docs) and (self.docs.min() < 0 or self.docs.max() >= n_rows):
            out.append("postings name rows outside the segment")
        elif len(self.doc_len) == n_rows:
            summed = np.bincount(self.docs, weights=self.tf, minlength=n_rows)
            if not np.array_equal(summed, self.doc_len.astype(np.float64)):
                out.append("term counts do not add up to the document lengths")
        if len(set(self.terms.tolist())) != len(self.terms):
            out.append("a term is listed twice")
        return out


def bm25_scores(
    parts: Sequence[tuple[Postings, np.ndarray]],
    terms: Sequence[str],
    n_docs: int,
    avg_len: float,
    size: int,
    doc_len: np.ndarray | None = None,
) -> np.ndarray:
    """BM25 of every live row for a query, over segments given as (postings, local row -> global
    id or -1 for a deleted row); df and the average length are those of the live rows.
    `doc_len`: the live rows' lengths by global id, when the caller keeps them (else read
    from each segment).

    >>> p = Postings.build([["strike", "kyiv"], ["kyiv"]])
    >>> to_global = np.array([0, 1])
    >>> s = bm25_scores([(p, to_global)], ["strike"], 2, 1.5, 2)
    >>> bool(s[0] > 0), float(s[1])
    (True, 0.0)
    """
    scores = np.zeros(size, dtype=np.float32)
    counts: dict[str, int] = {}
    for term in terms:
        counts[term] = counts.get(term, 0) + 1
    for term, times in counts.items():
        id_parts, tf_parts, len_parts = [], [], []
        for postings, to_global in parts:
            found = postings.lookup(term)
            if found is None:
                continue
            rows, tf = found
            id_parts.append(to_global[rows])
            tf_parts.append(tf)
            if doc_len is None:
                len_parts.append(postings.doc_len[rows])
        if not id_parts:
            continue
        ids, tf = np.concatenate(id_parts), np.concatenate(tf_parts)
        live = ids >= 0  # one array per term, not per segment: many segments cost little more
        df = int(np.count_nonzero(live))
        if not df:
            continue
        ids, tf = ids[live], tf[live]
        lengths = doc_len[ids] if doc_len is not None else np.concatenate(len_parts)[live]
        idf = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
        norm = K1 * ((1 - B) + B * lengths / avg_len)
        scores[ids] += (times * idf * tf / (norm + tf)).astype(np.float32)
    return scores
