"""Checks the conflict question set: articles parse, ids unique, answers are substrings, minimums met.

Run from the repository root: `python eval/conflict/validate.py`.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rag.documents import article_from_record  # noqa: E402

HERE = Path(__file__).resolve().parent
ARTICLES = HERE / "articles.jsonl"
QUESTIONS = HERE.parent / "conflict.jsonl"
TYPES = {"count", "person", "organization", "place", "date", "description", "yesno", "unanswerable"}
MINIMUMS = {
    "count": 14,
    "person+organization": 8,
    "place": 6,
    "date": 6,
    "description": 6,
    "yesno": 6,
    "unanswerable": 12,
}
MIN_ARTICLES, MIN_QUESTIONS = 12, 64
WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]


def digit_variant(answer: str, answers: list[str], text: str) -> bool:
    """A bare-digit answer ("3") that is the value of a number word given in the text ("three")."""
    return answer.isdigit() and any(
        a.lower() in WORDS and WORDS.index(a.lower()) == int(answer) and a in text for a in answers
    )


def main() -> int:
    errors: list[str] = []
    texts: dict[str, str] = {}
    for lineno, line in enumerate(ARTICLES.read_text(encoding="utf-8").splitlines(), start=1):
        record = json.loads(line)
        article = article_from_record(record, f"{ARTICLES}:{lineno}")
        if article.id in texts:
            errors.append(f"duplicate article id {article.id}")
        words = len(article.text.split())
        if not 120 <= words <= 350:
            errors.append(f"{article.id}: {words} words (want 120-350)")
        if article.text.splitlines()[0].strip() == article.title.strip():
            errors.append(f"{article.id}: text starts with its title")
        if article.published_at != record["published_at"]:
            errors.append(f"{article.id}: published_at not a plain ISO date")
        texts[article.id] = article.text
    seen: set[str] = set()
    types: Counter[str] = Counter()
    for lineno, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), start=1):
        q = json.loads(line)
        where = f"{QUESTIONS.name}:{lineno} {q.get('id')}"
        if q["id"] in seen:
            errors.append(f"{where}: duplicate id")
        seen.add(q["id"])
        kind, answers, doc = q.get("answer_type"), q["answers"], q.get("doc_id")
        if kind not in TYPES:
            errors.append(f"{where}: bad answer_type {kind!r}")
        types[kind] += 1
        if doc is not None and doc not in texts:
            errors.append(f"{where}: unknown doc_id {doc}")
        if kind in ("yesno", "unanswerable"):
            if answers:
                errors.append(f"{where}: {kind} question must have answers []")
            continue
        if not answers or doc is None:
            errors.append(f"{where}: answerable question needs answers and doc_id")
            continue
        for answer in answers:
            if not isinstance(answer, str) or not answer.strip():
                errors.append(f"{where}: empty answer")
            elif answer not in texts[doc] and not digit_variant(answer, answers, texts[doc]):
                errors.append(f"{where}: answer {answer!r} not in {doc}")
    groups = dict(types)
    groups["person+organization"] = types["person"] + types["organization"]
    for key, least in MINIMUMS.items():
        if groups.get(key, 0) < least:
            errors.append(f"{key}: {groups.get(key, 0)} questions (want >= {least})")
    if len(texts) < MIN_ARTICLES or sum(types.values()) < MIN_QUESTIONS:
        errors.append(f"{len(texts)} articles / {sum(types.values())} questions: too few")
    print(f"articles: {len(texts)}  questions: {sum(types.values())}")
    for kind in sorted(types):
        print(f"  {kind:13s} {types[kind]}")
    for error in errors:
        print("ERROR", error)
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
