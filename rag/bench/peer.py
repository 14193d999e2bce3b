"""The peer: what a user would write with LangChain instead, on the same chunks and model.

    HuggingFaceEmbeddings(model_name=<the bundled MiniLM folder>)      (langchain-huggingface)
    FAISS.from_texts(chunks, embeddings, metadatas=[{"doc_id": ...}])  (langchain-community)
    store.similarity_search(question, k)

Both sides answer the same questions with the same k; a hit is the question's own paragraph
among the top-5 distinct paragraphs (as eval/retrieval_bench.py counts it).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

from rag.bench.common import Latency
from rag.evaluation import EvalQuestion
from rag.pipeline import Pipeline

POOL = 20  # chunks asked of each side; R@5 counts distinct paragraphs among them
RECALL_AT = 5


def top_docs(doc_ids: list[str], k: int) -> list[str]:
    """The first k distinct ids, in order.

    >>> top_docs(["a", "a", "b", "c"], 2)
    ['a', 'b']
    """
    return list(dict.fromkeys(doc_ids))[:k]


def ours(pipeline: Pipeline, questions: list[EvalQuestion]) -> dict[str, Any]:
    seconds, hits = [], 0
    pipeline.search(questions[0].question, POOL)  # warm: BM25 cache, first-call costs
    for q in questions:
        started = time.perf_counter()
        passages = pipeline.search(q.question, POOL)
        seconds.append(time.perf_counter() - started)
        hits += q.doc_id in top_docs([p.doc_id for p in passages], RECALL_AT)
    return {"query_ms": Latency.of_seconds(seconds).to_dict(), "R@5": hits / len(questions)}


def langchain_peer(
    model_path: Path, chunk_texts: list[str], chunk_docs: list[str], questions: list[EvalQuestion]
) -> dict[str, Any]:
    """Ingestion time, per-query latency and R@5 of the LangChain FAISS store."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # langchain_community's sunset notice
        from langchain_community.vectorstores import FAISS
        from langchain_huggingface import HuggingFaceEmbeddings

    embeddings = HuggingFaceEmbeddings(
        model_name=str(model_path),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"normalize_embeddings": True},
    )
    embeddings.embed_documents(chunk_texts[:16])  # warm, as our side is
    started = time.perf_counter()
    store = FAISS.from_texts(chunk_texts, embeddings, metadatas=[{"doc_id": d} for d in chunk_docs])
    ingest_s = time.perf_counter() - started
    store.similarity_search(questions[0].question, k=POOL)
    seconds, hits = [], 0
    for q in questions:
        started = time.perf_counter()
        docs = store.similarity_search(q.question, k=POOL)
        seconds.append(time.perf_counter() - started)
        hits += q.doc_id in top_docs([d.metadata["doc_id"] for d in docs], RECALL_AT)
    return {
        "ingest_s": round(ingest_s, 2),
        "ingest_chunks_per_s": round(len(chunk_texts) / ingest_s, 1),
        "query_ms": Latency.of_seconds(seconds).to_dict(),
        "R@5": hits / len(questions),
        "index": type(store.index).__name__,
    }
