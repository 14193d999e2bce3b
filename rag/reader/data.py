"""Training and validation questions for the reader, read from ../shared/data (never committed).

The split is fixed by article index, so every run sees the same questions:

- train: the three SQuADShifts files (CC BY 4.0); the SQuAD v1.1 public-half articles whose index
  i (0-based, file order) has i % 3 != 2 (16 articles); the unanswerable SQuAD v2.0 public-half
  questions on those same articles (the no-answer option).
- validation: the v1.1 articles with i % 3 == 2 (2, 5, 8, 11, 14, 17, 20, 23: 8 articles, all
  their questions), plus the unanswerable v2.0 questions on those articles. The v2.0 public half
  has the same paragraphs as the v1.1 one, so its unanswerable questions follow their article:
  training on them would show the validation paragraphs to the model.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SQUADSHIFTS_FILES = ("amazon_reviews_v1.0.json", "reddit_v1.0.json", "new_wiki_v1.0.json")
SQUAD_V1 = "squad-v1.1-dev-public-half.json"
SQUAD_V2 = "squad-v2.0-dev-public-half.json"
VALIDATION_EVERY = 3
VALIDATION_REMAINDER = 2
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"


class DataMissing(FileNotFoundError):
    pass


@dataclass(frozen=True)
class QAExample:
    id: str
    question: str
    context: str
    answers: tuple[str, ...]  # empty: the context does not say
    answer_start: int  # characters of answers[0] in the context; -1 when unanswerable
    source: str

    @property
    def answer_end(self) -> int:
        return self.answer_start + len(self.answers[0]) if self.answers else -1


@dataclass
class Split:
    train: list[QAExample]
    validation: list[QAExample]
    counts: dict[str, int] = field(default_factory=dict)
    validation_titles: list[str] = field(default_factory=list)


def is_validation_article(index: int) -> bool:
    """True for the 8 v1.1 articles kept for validation.

    >>> [i for i in range(24) if is_validation_article(i)]
    [2, 5, 8, 11, 14, 17, 20, 23]
    """
    return index % VALIDATION_EVERY == VALIDATION_REMAINDER


def find_file(data_dir: Path, subdir: str, name: str) -> Path:
    """`data_dir/subdir/name`, or its `.gz` (as packed for the GPU machine)."""
    for candidate in (data_dir / subdir / name, data_dir / subdir / (name + ".gz")):
        if candidate.is_file():
            return candidate
    raise DataMissing(
        f"{data_dir / subdir / name} not found; the training data stays out of git: "
        "give --data-dir, the folder holding squadshifts/ and squad/"
    )


def read_json(path: Path) -> Any:
    raw = path.read_bytes()
    return json.loads(gzip.decompress(raw) if path.suffix == ".gz" else raw)


def _located(context: str, text: str, start: int) -> int:
    """Where the answer really is: its recorded start when that matches, else its first match."""
    if start >= 0 and context[start : start + len(text)] == text:
        return start
    return context.find(text)


def examples_of(
    article: dict[str, Any], source: str, *, unanswerable_only: bool = False
) -> tuple[list[QAExample], int]:
    """The questions of one SQuAD article, and how many were skipped (answer not in context)."""
    out, skipped = [], 0
    for paragraph in article["paragraphs"]:
        context = paragraph["context"]
        for qa in paragraph["qas"]:
            impossible = bool(qa.get("is_impossible")) or not qa.get("answers")
            if unanswerable_only and not impossible:
                continue
            if impossible:
                out.append(QAExample(str(qa["id"]), qa["question"], context, (), -1, source))
                continue
            answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"] if a["text"].strip()))
            first = qa["answers"][0]
            start = _located(context, first["text"], int(first.get("answer_start", -1)))
            if not answers or start < 0:
                skipped += 1
                continue
            # answers[0] must be the located one: put it first
            ordered = (first["text"], *[a for a in answers if a != first["text"]])
            out.append(QAExample(str(qa["id"]), qa["question"], context, ordered, start, source))
    return out, skipped


def load_split(data_dir: Path = DEFAULT_DATA_DIR) -> Split:
    """The fixed train/validation split described in this module's docstring."""
    split = Split([], [])
    skipped = 0
    for name in SQUADSHIFTS_FILES:
        data = read_json(find_file(data_dir, "squadshifts", name))
        source = "squadshifts-" + name.split("_v1")[0]
        for article in data["data"]:
            examples, bad = examples_of(article, source)
            split.train += examples
            skipped += bad
        split.counts[source] = sum(1 for e in split.train if e.source == source)
    v1 = read_json(find_file(data_dir, "squad", SQUAD_V1))
    validation_titles = set()
    for index, article in enumerate(v1["data"]):
        examples, bad = examples_of(article, "squad-v1.1")
        skipped += bad
        if is_validation_article(index):
            validation_titles.add(article["title"])
            split.validation += examples
        else:
            split.train += examples
    v2 = read_json(find_file(data_dir, "squad", SQUAD_V2))
    for article in v2["data"]:
        examples, _ = examples_of(article, "squad-v2.0-unanswerable", unanswerable_only=True)
        (split.validation if article["title"] in validation_titles else split.train).extend(
            examples
        )
    for part in ("train", "validation"):
        for source in ("squad-v1.1", "squad-v2.0-unanswerable"):
            key = f"{part}:{source}"
            split.counts[key] = sum(1 for e in getattr(split, part) if e.source == source)
    split.counts["skipped_answer_not_in_context"] = skipped
    split.validation_titles = sorted(validation_titles)
    return split
