"""PostgreSQL full text (ts_rank over our analyzer's tsvector) against bm25s on the same chunks.

For every question of eval/{seed,conflict,updates}.jsonl over the seed, conflict and updates
articles: the overlap of the two lexical top-10s, whether both rank the same chunk first, and
each one's hit@5 (a chunk of the question's own article in the top 5). Runs a throwaway local
PostgreSQL (the `cluster` extra). `.venv/bin/python eval/pg_fulltext_vs_bm25.py`
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from pydantic import SecretStr

from rag.embedding import HashingEmbedder
from rag.pg.local import LocalPostgres
from rag.pipeline import Pipeline, open_pipeline
from rag.settings import PROJECT_ROOT, Settings

K = 10
ROOT = PROJECT_ROOT / "eval"


def main() -> None:
    keep = tempfile.TemporaryDirectory(prefix="rag-pg-eval-")
    folder = Path(keep.name)
    questions = [
        json.loads(line)
        for name in ("seed", "conflict", "updates")
        for line in (ROOT / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    paths = [PROJECT_ROOT / "seeds", ROOT / "conflict/articles.jsonl", ROOT / "updates"]
    with keep, LocalPostgres(folder / "server") as server:
        base = Settings(index_dir=folder / "index", fold_copies=False)
        embedded = Pipeline(base, embedder=HashingEmbedder(dim=64))
        embedded.ingest_paths(paths)
        pg = open_pipeline(
            base.model_copy(update={"store": "postgres", "database_url": SecretStr(server.url)}),
            HashingEmbedder(dim=64),
        )
        pg.ingest_paths(paths)
        _, retriever = embedded._current()
        chunks = embedded.snapshot.chunks
        overlap = same_first = bm25_hit = pg_hit = 0
        with pg.store.reading() as conn:
            key = {
                (r[0], r[1], r[2]): r[3]
                for r in conn.execute("SELECT article_id, start_char, end_char, id FROM chunks")
            }
            for q in questions:
                theirs = [
                    key[(chunks[i].article_id, chunks[i].start, chunks[i].end)]
                    for i, _ in retriever.lexical(q["question"], K)
                ]
                ours = [
                    i for i, _ in pg.store.lexical(conn, pg.analyzer.terms(q["question"]), K, None)
                ]
                overlap += len(set(ours) & set(theirs)) / K
                same_first += bool(ours and theirs and ours[0] == theirs[0])
                doc = {v: k[0] for k, v in key.items()}
                bm25_hit += q.get("doc_id") in {doc[i] for i in theirs[:5]}
                pg_hit += q.get("doc_id") in {doc[i] for i in ours[:5]}
        n = len(questions)
        print(
            json.dumps(
                {
                    "questions": n,
                    "chunks": len(chunks),
                    "top10_overlap": round(overlap / n, 3),
                    "same_top1": round(same_first / n, 3),
                    "bm25s_article_hit_at_5": round(bm25_hit / n, 3),
                    "ts_rank_article_hit_at_5": round(pg_hit / n, 3),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
