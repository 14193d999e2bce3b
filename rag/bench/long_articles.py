"""Retrieval over long articles: whole SQuAD / SQuADShifts articles as documents, their
questions as queries, hit@k = a passage of the question's own article among the top k.

    python -m rag.bench.long_articles [--questions 600] [--work DIR]

The corpus is every article of the SQuAD v1.1 public half and of SQuADShifts new_wiki
(72 articles of 11,000-85,000 characters, their paragraphs joined) plus the SQuADShifts
Amazon reviews (413 short documents, as distractors), read from ../shared/data; the v2.0 half
is left out, its 18 articles are all v1.1 articles. Questions are split before anything is
measured: **dev** = SQuADShifts new_wiki questions (used to choose a fix), **held-out** =
SQuAD v1.1 questions (only reported). `answer@5` is stricter: a top-5 passage contains the answer's characters.

Each configuration is a named set of settings; those that change what is indexed (chunk
size, title in the embedded text) get an index of their own under --work, kept between runs.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.documents import Article
from rag.settings import PROJECT_ROOT, Settings

DATA = PROJECT_ROOT.parent / "shared" / "data"
HELD_OUT_FILES = ("squad/squad-v1.1-dev-public-half.json",)
DEV_FILES = ("squadshifts/new_wiki_v1.0.json",)
DISTRACTOR_FILES = ("squadshifts/amazon_reviews_v1.0.json",)
SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Query:
    question: str
    doc_id: str
    answer_start: int  # in the joined article text
    answer_end: int


def load(path: Path, prefix: str) -> tuple[list[Article], list[Query]]:
    """Articles (paragraphs joined by a blank line) and their answerable questions."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    articles, queries = [], []
    for n, entry in enumerate(data):
        doc_id = f"{prefix}-{n}"
        title = str(entry["title"]).replace("_", " ")
        parts, offset = [], 0
        for paragraph in entry["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                if qa.get("is_impossible") or not qa.get("answers"):
                    continue
                answer = qa["answers"][0]
                start = context.find(answer["text"])
                if start < 0:
                    continue
                queries.append(
                    Query(
                        qa["question"].strip(),
                        doc_id,
                        offset + start,
                        offset + start + len(answer["text"]),
                    )
                )
            parts.append(context)
            offset += len(context) + len(SEPARATOR)
        articles.append(Article(id=doc_id, title=title, text=SEPARATOR.join(parts)))
    return articles, queries


def corpus(data: Path) -> tuple[list[Article], list[Query], list[Query]]:
    """(all articles, dev queries, held-out queries)."""
    articles: list[Article] = []
    dev: list[Query] = []
    held_out: list[Query] = []
    for files, into in ((DEV_FILES, dev), (HELD_OUT_FILES, held_out), (DISTRACTOR_FILES, None)):
        for name in files:
            path = data / name
            if not path.is_file():
                raise SystemExit(f"long-article bench: {path} is missing (see shared/data)")
            found, queries = load(path, Path(name).stem)
            articles += found
            if into is not None:
                into += queries
    return articles, dev, held_out


def sample(queries: list[Query], n: int, seed: int = 0) -> list[Query]:
    rng = random.Random(seed)
    return queries if n <= 0 or n >= len(queries) else rng.sample(queries, n)


def hits(search: Any, queries: Iterable[Query]) -> dict[str, float]:
    """hit@1, hit@5 (article) and answer@5 (a passage holding the answer) over `queries`."""
    n = at1 = at5 = answer5 = 0
    for query in queries:
        passages = search(query.question)
        ids = [p.doc_id for p in passages[:5]]
        n += 1
        at1 += bool(ids[:1] == [query.doc_id])
        at5 += query.doc_id in ids
        answer5 += any(
            p.doc_id == query.doc_id and p.start <= query.answer_start and query.answer_end <= p.end
            for p in passages[:5]
        )
    return {"hit@1": at1 / n, "hit@5": at5 / n, "answer@5": answer5 / n, "questions": n}


def build(work: Path, name: str, settings: Settings, articles: list[Article]) -> Any:
    """A pipeline over an index of these articles built with `settings` (kept in work/name)."""
    from rag.pipeline import Pipeline

    settings = settings.model_copy(update={"index_dir": work / name})
    pipeline = Pipeline(settings)
    if not pipeline.store.exists():
        started = time.perf_counter()
        report = pipeline.ingest(articles, show_progress=sys.stderr.isatty())
        print(
            f"  built {name}: {len(report.added)} articles, {report.chunks_added} chunks "
            f"in {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
    pipeline.open()
    return pipeline


# What is indexed: each gets an index folder of its own under --work.
INDEXES: dict[str, dict[str, Any]] = {
    "chunks-600": {},  # today's defaults: 600 characters, 120 overlap
    "chunks-1000": {"chunk_size": 1000, "chunk_overlap": 0},
    "titled-600": {"embed_titles": True},
}
# How it is searched: an index plus retrieval settings (no rebuild).
CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "fused-600": ("chunks-600", {}),  # the product as it is
    # the comparison the issue names: plain RRF of the same model and BM25, 1,000-char pieces
    "rrf-1000": ("chunks-1000", {"fusion": "rrf"}),
    "rrf-600": ("chunks-600", {"fusion": "rrf"}),
    "fused-1000": ("chunks-1000", {}),
    "fused-600-pool200": ("chunks-600", {"candidate_k": 200}),
    "titled-fused-600": ("titled-600", {}),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=600, help="per split (0: all)")
    parser.add_argument("--work", default="/tmp/rag-long-articles", help="index folders")
    parser.add_argument("--configs", default="fused-600,rrf-1000", help=", ".join(CONFIGS))
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--json", help="write the results here too")
    args = parser.parse_args(argv)
    articles, dev, held_out = corpus(Path(args.data))
    dev, held_out = sample(dev, args.questions), sample(held_out, args.questions)
    chars = sum(len(a.text) for a in articles)
    print(
        f"{len(articles)} articles ({chars:,} characters); {len(dev)} dev and "
        f"{len(held_out)} held-out questions"
    )
    base = Settings()
    results: dict[str, Any] = {}
    print("| configuration | split | hit@1 | hit@5 | answer@5 |\n|---|---|---:|---:|---:|")
    for name in args.configs.split(","):
        index, overrides = CONFIGS[name]
        settings = base.model_copy(update={**INDEXES[index], **overrides})
        pipeline = build(Path(args.work), index, settings, articles)
        for split, queries in (("dev", dev), ("held-out", held_out)):
            row = hits(lambda q, p=pipeline: p.search(q, 5), queries)
            results[f"{name}/{split}"] = row
            print(
                f"| {name} | {split} | {row['hit@1']:.3f} | {row['hit@5']:.3f} | "
                f"{row['answer@5']:.3f} |",
                flush=True,
            )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
