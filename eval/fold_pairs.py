"""How well wire-copy folding separates copies from different stories on the same event.

eval/fold_stories.jsonl holds, per event, a wire story (`a`) and an independent report of the
same event (`b`). True copies are `a` with the edits outlets make when they republish (a new
headline line and credit line, a sentence added or dropped, the dateline cut, case and
punctuation changed, numbers written as digits); different stories are `a` or its copies
against `b`, and follow-ups: a new lead from `b` over the last sentences of `a`. Each pair goes through the same CopyIndex the ingestion uses.

    .venv/bin/python eval/fold_pairs.py [--thresholds 0.3 0.4 ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from rag.documents import Article
from rag.ingest.folding import CopyIndex, jaccard, shingles

STORIES = Path(__file__).with_name("fold_stories.jsonl")
DATELINE = re.compile(r"^[A-Z][A-Z ,a-z]*?(?:\([A-Za-z]+\))? ?- ")


def sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text.strip())


EDITS: dict[str, Callable[[str], str]] = {
    "headline and credit lines": lambda t: (
        "Missile strike reported, officials say\n\n"
        + t
        + "\n\n(Reporting by staff; Editing by desk)"
    ),
    "a sentence added": lambda t: " ".join(
        sentences(t)[:2]
        + ["Our correspondent in the region said the situation was tense."]
        + sentences(t)[2:]
    ),
    "last sentence dropped": lambda t: " ".join(sentences(t)[:-1]),
    "dateline cut": lambda t: DATELINE.sub("", t, count=1),
    "case and punctuation": lambda t: t.upper().replace(",", "").replace("'", "\u2019"),
    "numbers as digits": lambda t: re.sub(
        r"\b(two|three|six|nine)\b",
        lambda m: {"two": "2", "three": "3", "six": "6", "nine": "9"}[m.group(1)],
        t,
    ),
    "two sentences dropped, one added": lambda t: " ".join(
        sentences(t)[:-2] + ["The report could not be independently verified."]
    ),
}


def pairs() -> list[tuple[str, str, str, bool]]:
    """(label, stored text, incoming text, is a copy)."""
    out = []
    for line in STORIES.read_text().splitlines():
        story = json.loads(line)
        a, b = story["a"], story["b"]
        for name, edit in EDITS.items():
            out.append((f"{story['event']}: {name}", a, edit(a), True))
        out.append((f"{story['event']}: other report", a, b, False))
        out.append(
            (f"{story['event']}: other report vs a copy", EDITS["dateline cut"](a), b, False)
        )
        out.append((f"{story['event']}: other report, reversed", b, a, False))
        # A follow-up: a new lead on the same event over the first story's background.
        follow_up = " ".join(sentences(b)[:3] + sentences(a)[-2:])
        out.append((f"{story['event']}: follow-up reusing background", a, follow_up, False))
        half = " ".join(sentences(b)[:2] + sentences(a)[-3:])
        out.append((f"{story['event']}: new lead, half the background", a, half, False))
    return out


def folds(stored: str, incoming: str, threshold: float) -> bool:
    index = CopyIndex(threshold)
    index.add(Article("stored", "", stored))
    return index.original_of(Article("incoming", "", incoming)) == "stored"


def measure(thresholds: list[float]) -> list[dict[str, float]]:
    data = pairs()
    rows = []
    for t in thresholds:
        tp = fp = fn = 0
        for _, stored, incoming, copy in data:
            found = folds(stored, incoming, t)
            tp += found and copy
            fp += found and not copy
            fn += copy and not found
        rows.append({
            "threshold": t,
            "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0,
            "copies": sum(c for *_, c in data),
            "different": sum(not c for *_, c in data),
        })  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--thresholds", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--pairs", action="store_true", help="print each pair's exact Jaccard")
    args = parser.parse_args(argv)
    if args.pairs:
        for label, stored, incoming, copy in pairs():
            print(
                f"{jaccard(shingles(stored), shingles(incoming)):.3f}  {'copy' if copy else 'diff'}  {label}"
            )
    rows = measure(args.thresholds)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{rows[0]['copies']} copy pairs, {rows[0]['different']} different-story pairs")
    print("| threshold | precision | recall |\n|---|---|---|")
    for row in rows:
        print(f"| {row['threshold']:.1f} | {row['precision']:.3f} | {row['recall']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
