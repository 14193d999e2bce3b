"""Retrieval recall on a SQuAD file: dense vs BM25 vs fused, R@1/R@5/R@20 of the gold paragraph.

    .venv/bin/python eval/retrieval_bench.py [--file squad-v1.1-dev-public-half.json] [--limit N]

Each paragraph is one article in its own index folder (built once, reused); a hit is the
question's own paragraph among the top-k distinct articles. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from rag.errors import RagError
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT, Settings
from rag.squad import default_index_dir, ensure_squad_index, load_squad, resolve_squad_file

KS = (1, 5, 20)
POOL = 60  # chunks per ranking, enough for 20 distinct paragraphs


def distinct_docs(chunk_ids: list[int], chunk_doc: list[str], k: int) -> list[str]:
    out: list[str] = []
    for cid in chunk_ids:
        doc = chunk_doc[cid]
        if doc not in out:
            out.append(doc)
        if len(out) == k:
            break
    return out


def recall(ranked: list[list[str]], gold: list[str]) -> dict[str, float]:
    return {
        f"R@{k}": float(np.mean([g in r[:k] for r, g in zip(ranked, gold, strict=True)]))
        for k in KS
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", default="squad-v1.1-dev-public-half.json")
    parser.add_argument("--limit", type=int, default=0, help="sample this many questions (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(PROJECT_ROOT / "eval" / "reports" / "retrieval.json"))
    args = parser.parse_args()
    try:
        squad = load_squad(resolve_squad_file(args.file))
    except RagError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 0
    pipeline = Pipeline(Settings(index_dir=default_index_dir(squad)))
    ensure_squad_index(pipeline, squad, show_progress=sys.stderr.isatty())
    snapshot = pipeline.snapshot
    _, retriever = pipeline._current()
    print(
        f"fusion in use: {pipeline.settings.fusion} (dense weight {pipeline.settings.dense_weight})"
    )
    chunk_doc = [c.article_id for c in snapshot.chunks]
    questions = [q for q in squad.questions if q.doc_id and q.answers]
    if args.limit:
        questions = random.Random(args.seed).sample(questions, min(args.limit, len(questions)))
    gold = [q.doc_id for q in questions]
    started = time.perf_counter()
    vectors = pipeline.embedder.encode([q.question for q in questions])
    encode_s = time.perf_counter() - started
    ranked: dict[str, list[list[str]]] = {"dense": [], "bm25": [], "RRF k=60": [], "convex": []}
    for q, vec in zip(questions, vectors, strict=True):
        dense = [i for i, _ in retriever.dense(vec, POOL)]
        lexical = [i for i, _ in retriever.lexical(q.question, POOL)]
        retriever.fusion = "rrf"
        rrf_ids = [p.chunk_id for p in retriever.search(q.question, POOL, query_vector=vec)]
        retriever.fusion = "convex"
        convex = [p.chunk_id for p in retriever.search(q.question, POOL, query_vector=vec)]
        ranked["dense"].append(distinct_docs(dense, chunk_doc, max(KS)))
        ranked["bm25"].append(distinct_docs(lexical, chunk_doc, max(KS)))
        ranked["RRF k=60"].append(distinct_docs(rrf_ids, chunk_doc, max(KS)))
        ranked["convex"].append(distinct_docs(convex, chunk_doc, max(KS)))
    results = {name: recall(r, gold) for name, r in ranked.items()}
    print(
        f"{squad.name}: {len(snapshot.articles)} paragraphs, {len(snapshot.chunks)} chunks, "
        f"{len(questions)} questions (question encoding {encode_s:.1f} s)"
    )
    print(f"| retriever | {' | '.join(f'R@{k}' for k in KS)} |")
    print(f"|---|{'---|' * len(KS)}")
    for name, row in results.items():
        cells = " | ".join(f"{row['R@' + str(k)]:.3f}" for k in KS)
        print(f"| {name} | {cells} |")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "file": squad.name,
        "questions": len(questions),
        "paragraphs": len(snapshot.articles),
        "chunks": len(snapshot.chunks),
        "results": results,
    }
    out.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
