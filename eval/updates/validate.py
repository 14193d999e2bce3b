"""Check the hand-written updates set (eval/updates.jsonl over eval/updates/articles.jsonl).

Run from the repository root:  .venv/bin/python eval/updates/validate.py
Exits 1 and lists every problem found; otherwise prints the counts. Another set of the same
kind (the development set): --articles FILE --questions FILE --prefix dev.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
ARTICLES = HERE / "articles.jsonl"
QUESTIONS = ROOT / "eval" / "updates.jsonl"
sys.path.insert(0, str(ROOT))

from rag.documents import article_from_record  # noqa: E402
from rag.ingest.ids import id_problem  # noqa: E402

KINDS = {"latest", "source", "date", "date_resolution"}
LABELS = {"updated", "disputed", "consistent", "single"}
MIN_KIND = {"latest": 12, "source": 8, "date": 6, "date_resolution": 8}
MIN_LABEL = 3
MIN_QUESTIONS = 45
MIN_SERIES = 15
WORDS_MIN, WORDS_MAX = 80, 220
ARTICLE_ID = re.compile(r"^upd-(s\d{2})-[a-d]$")
QUESTION_ID = re.compile(r"^upd-q\d{2,3}$")


def use_prefix(prefix: str) -> None:
    """Ids of another set: PREFIX-sNN-[a-d] and PREFIX-qNN."""
    global ARTICLE_ID, QUESTION_ID
    ARTICLE_ID = re.compile(rf"^{re.escape(prefix)}-(s\d{{2}})-[a-d]$")
    QUESTION_ID = re.compile(rf"^{re.escape(prefix)}-q\d{{2,3}}$")


ARTICLE_KEYS = {"id", "title", "source", "published_at", "url", "text"}
QUESTION_KEYS = {
    "id",
    "series",
    "question",
    "kind",
    "answers",
    "doc_id",
    "agreement",
    "as_of",
    "normalized",
}
NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
DAYS_AGO = {"today": 0, "this morning": 0, "yesterday": 1, "last night": 1, "two days ago": 2}
DAYS_AGO |= {"three days ago": 3}


def read_jsonl(path: Path, problems: list[str]) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            problems.append(f"{path.name}:{n}: blank line")
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path.name}:{n}: invalid JSON ({exc.msg})")
            continue
        if not isinstance(row, dict):
            problems.append(f"{path.name}:{n}: not a JSON object")
            continue
        rows.append(row)
    return rows


def iso(value: object) -> date | None:
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def answer_in_text(answer: str, text: str) -> bool:
    """Exact substring, or bare digits whose number word is in the text."""
    if answer in text:
        return True
    if answer.isdigit():
        words = [w for w, v in NUMBER_WORDS.items() if v == int(answer)]
        return any(re.search(rf"\b{w}\b", text, re.IGNORECASE) for w in words)
    return False


def resolve(span: str, published: date) -> date | None:
    """The absolute date a relative span means for an article published on `published`."""
    low = span.casefold()
    for phrase, back in sorted(DAYS_AGO.items(), key=lambda kv: -len(kv[0])):
        if phrase in low:
            return published - timedelta(days=back)
    for i, name in enumerate(WEEKDAYS):
        if re.search(rf"\b{name}\b", low):
            back = (published.weekday() - i) % 7  # the most recent such day, this day included
            return published - timedelta(days=back)
    return None


def check_articles(articles: list[dict], problems: list[str]) -> dict[str, dict]:
    by_id: dict[str, dict] = {}
    for row in articles:
        aid = row.get("id")
        where = f"article {aid!r}"
        if set(row) != ARTICLE_KEYS:
            problems.append(f"{where}: keys {sorted(row)} != {sorted(ARTICLE_KEYS)}")
        if not isinstance(aid, str) or id_problem(aid) is not None or not ARTICLE_ID.match(aid):
            problems.append(f"{where}: id does not match {ARTICLE_ID.pattern}")
            continue
        if aid in by_id:
            problems.append(f"{where}: duplicate id")
        try:
            article_from_record(row, where)
        except Exception as exc:  # BadDocument, or anything the loader would refuse
            problems.append(f"{where}: rejected by article_from_record: {exc}")
        if iso(row.get("published_at")) is None:
            problems.append(f"{where}: published_at is not YYYY-MM-DD")
        if not str(row.get("url", "")).startswith("https://example.org/"):
            problems.append(f"{where}: url is not under https://example.org/")
        words = len(str(row.get("text", "")).split())
        if not WORDS_MIN <= words <= WORDS_MAX:
            problems.append(f"{where}: {words} words, not {WORDS_MIN}-{WORDS_MAX}")
        by_id[aid] = row
    series: dict[str, list[dict]] = defaultdict(list)
    for aid, row in sorted(by_id.items()):
        series[ARTICLE_ID.match(aid).group(1)].append(row)
    for name, rows in series.items():
        if not 2 <= len(rows) <= 4:
            problems.append(f"series {name}: {len(rows)} articles, not 2-4")
        dates = [row["published_at"] for row in rows]
        if dates != sorted(dates):
            problems.append(f"series {name}: articles a, b, ... are not in date order")
        if len({row.get("source") for row in rows}) < 2:
            problems.append(f"series {name}: all articles come from one source")
    if len(series) < MIN_SERIES:
        problems.append(f"{len(series)} series, fewer than {MIN_SERIES}")
    return by_id


def check_question(row: dict, by_id: dict[str, dict], problems: list[str]) -> None:
    qid = row.get("id")
    where = f"question {qid!r}"
    if set(row) != QUESTION_KEYS:
        problems.append(f"{where}: keys {sorted(row)} != {sorted(QUESTION_KEYS)}")
    kind, label, doc_id = row.get("kind"), row.get("agreement"), row.get("doc_id")
    if not isinstance(row.get("question"), str) or not row["question"].strip().endswith("?"):
        problems.append(f"{where}: question is not a string ending in '?'")
    if kind not in KINDS:
        problems.append(f"{where}: kind {kind!r} not in {sorted(KINDS)}")
    if label is not None and label not in LABELS:
        problems.append(f"{where}: agreement {label!r} not in {sorted(LABELS)}")
    if kind == "latest" and label is None:
        problems.append(f"{where}: a latest question needs an agreement label")
    doc = by_id.get(doc_id)
    if doc is None:
        problems.append(f"{where}: doc_id {doc_id!r} is not an article")
        return
    if ARTICLE_ID.match(doc_id).group(1) != row.get("series"):
        problems.append(f"{where}: series {row.get('series')!r} but doc_id {doc_id}")
    answers = row.get("answers")
    if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
        problems.append(f"{where}: answers must be a non-empty list of strings")
        return
    for answer in answers:
        if not answer_in_text(answer, doc["text"]):
            problems.append(f"{where}: answer {answer!r} is not in {doc_id}")
    published = date.fromisoformat(doc["published_at"])
    if label == "disputed" and kind == "latest":
        values = {NUMBER_WORDS.get(a.casefold(), a) for a in answers}
        values = {int(re.sub(r"\D", "", str(v))) for v in values if re.search(r"\d", str(v))}
        if len(values) < 2:
            problems.append(f"{where}: disputed, but the answers hold fewer than 2 figures")
    if kind == "date_resolution":
        if row.get("as_of") is not None:
            problems.append(f"{where}: as_of should be null on a date_resolution question")
        normalized = iso(row.get("normalized"))
        if normalized is None:
            problems.append(f"{where}: normalized {row.get('normalized')!r} is not an ISO date")
            return
        for answer in answers:
            resolved = resolve(answer, published)
            if resolved is None:
                problems.append(f"{where}: cannot resolve {answer!r} to a date")
            elif resolved != normalized:
                problems.append(
                    f"{where}: {answer!r} in an article of {published} means {resolved}, "
                    f"not {normalized}"
                )
    else:
        if row.get("normalized") is not None:
            problems.append(f"{where}: normalized is only for date_resolution questions")
        if row.get("as_of") != doc["published_at"]:
            problems.append(f"{where}: as_of {row.get('as_of')!r} != {doc_id} published_at")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=Path, default=ARTICLES)
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--prefix", default="upd", help="id prefix (default upd)")
    args = parser.parse_args()
    use_prefix(args.prefix)
    problems: list[str] = []
    articles = read_jsonl(args.articles, problems)
    questions = read_jsonl(args.questions, problems)
    by_id = check_articles(articles, problems)
    seen: set[str] = set()
    for row in questions:
        qid = row.get("id")
        if not isinstance(qid, str) or not QUESTION_ID.match(qid):
            problems.append(f"question {qid!r}: id does not match {QUESTION_ID.pattern}")
        elif qid in seen:
            problems.append(f"question {qid!r}: duplicate id")
        seen.add(str(qid))
        check_question(row, by_id, problems)
    kinds = Counter(row.get("kind") for row in questions)
    labels = Counter(row.get("agreement") for row in questions if row.get("agreement"))
    latest_labels = Counter(
        row.get("agreement") for row in questions if row.get("kind") == "latest"
    )
    if len(questions) < MIN_QUESTIONS:
        problems.append(f"{len(questions)} questions, fewer than {MIN_QUESTIONS}")
    for kind, least in MIN_KIND.items():
        if kinds[kind] < least:
            problems.append(f"{kinds[kind]} {kind} questions, fewer than {least}")
    for label in sorted(LABELS):
        if labels[label] < MIN_LABEL:
            problems.append(f"{labels[label]} questions labelled {label}, fewer than {MIN_LABEL}")
    series = {ARTICLE_ID.match(a).group(1) for a in by_id}
    unused = series - {row.get("series") for row in questions}
    if unused:
        problems.append(f"series without questions: {sorted(unused)}")
    print(f"series: {len(series)}  articles: {len(by_id)}  questions: {len(questions)}")
    print("per kind:", ", ".join(f"{k} {kinds[k]}" for k in sorted(KINDS)))
    print("agreement (all labelled):", ", ".join(f"{k} {labels[k]}" for k in sorted(LABELS)))
    print("agreement (latest only):", ", ".join(f"{k} {latest_labels[k]}" for k in sorted(LABELS)))
    for problem in problems:
        print("PROBLEM:", problem)
    print("FAIL" if problems else "OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
