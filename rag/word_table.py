"""Vectors of the model's whole words, computed once per model and kept on disk.

The answerer matches paraphrases ("injured" ~ "wounded") by embedding single words, each
on its own, so a word's vector depends on nothing but the word. On a fresh server every
new word costs a forward pass; about four in five of the words it meets are whole words of
the model's own vocabulary (about 22,000 for all-MiniLM-L6-v2). This table holds their
vectors, built in a few seconds the first time a model is loaded and then read from the
cache folder: words outside it are encoded as before.

Stored as two arrays in one `.npz` (words as fixed-width unicode, vectors as float32),
written under a temporary name and renamed, and read without pickles.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)
WHOLE_WORD = re.compile(r"[a-z][a-z'-]*")
BUILD_BATCH = 512
FORMAT = 1


def whole_words(vocabulary: Iterable[str]) -> list[str]:
    """The entries of a WordPiece vocabulary that are whole lowercase words, sorted.

    >>> whole_words(["[CLS]", "##ing", "attack", "a", "7", "shell", "x-ray"])
    ['a', 'attack', 'shell', 'x-ray']
    """
    return sorted(w for w in vocabulary if WHOLE_WORD.fullmatch(w))


class WordTable:
    """A read-only map word -> vector."""

    def __init__(self, words: Sequence[str], vectors: np.ndarray) -> None:
        if len(words) != len(vectors):
            raise ValueError(f"{len(words)} words but {len(vectors)} vectors")
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.vectors.flags.writeable = False
        self.rows = {w: i for i, w in enumerate(words)}

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, word: str) -> np.ndarray | None:
        row = self.rows.get(word)
        return None if row is None else self.vectors[row]

    @classmethod
    def build(
        cls, words: Sequence[str], encode: Callable[[Sequence[str]], np.ndarray]
    ) -> WordTable:
        parts = [encode(words[i : i + BUILD_BATCH]) for i in range(0, len(words), BUILD_BATCH)]
        return cls(words, np.concatenate(parts) if parts else np.zeros((0, 0), np.float32))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        words = sorted(self.rows, key=self.rows.__getitem__)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        with tmp.open("wb") as fh:
            np.savez(fh, format=np.array(FORMAT), words=np.array(words), vectors=self.vectors)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> WordTable:
        with np.load(path, allow_pickle=False) as data:
            if int(data["format"]) != FORMAT:
                raise ValueError(f"word table format {int(data['format'])}, expected {FORMAT}")
            return cls([str(w) for w in data["words"]], data["vectors"])

    @classmethod
    def cached(
        cls, path: Path, words: Sequence[str], encode: Callable[[Sequence[str]], np.ndarray]
    ) -> WordTable:
        """The table at `path` when it holds exactly `words`; else built and saved there."""
        if path.is_file():
            try:
                table = cls.load(path)
                if len(table) == len(words) and all(w in table.rows for w in words):
                    return table
            except (OSError, ValueError, KeyError) as exc:
                logger.warning("rebuilding unreadable word table %s (%s)", path, exc)
        table = cls.build(words, encode)
        try:
            table.save(path)
        except OSError as exc:  # a read-only cache still gets the table for this process
            logger.warning("could not save word table %s (%s)", path, exc)
        return table
