"""`rag ingest --ray ADDRESS PATH...`: read, parse, chunk and embed on a Ray cluster, write to
PostgreSQL in batches.

Ray Data reads the files in parallel (one task a file), then an actor pool, each actor holding
the model once, takes batches of articles: it drops those already stored with the same
content (so an interrupted run resumes where it stopped), chunks and embeds the rest, and
writes each batch in one transaction (articles, chunks, vectors, sentence vectors together:
a killed ingest leaves whole articles only). The paths must be readable from every node (a
shared folder), and every node needs this package installed. Wire copies are folded as
`rag ingest` folds them, against every stored article (LSH band keys in PostgreSQL).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.documents import Article, Copy, IdFrom, Limits, Problem, iter_paths, read_file
from rag.errors import RagError
from rag.settings import Settings


@dataclass
class RayIngestReport:
    files: int = 0
    written: int = 0  # articles added or replaced
    unchanged: int = 0  # already stored with the same content (a resumed run skips them)
    folded: int = 0  # wire copies folded into a stored article
    chunks: int = 0
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def require_ray() -> Any:
    try:
        import ray
    except ModuleNotFoundError:
        raise RagError("`rag ingest --ray` needs Ray: pip install -e '.[cluster]'") from None
    return ray


def settings_payload(settings: Settings) -> dict[str, Any]:
    """The settings as plain values for the workers (the database URL in the clear: workers
    must connect; Ray keeps it in the cluster's object store, never in a log)."""
    values = settings.model_dump(mode="json", exclude={"api_token"})
    values["database_url"] = settings.database_dsn()
    return values


def _encode(article: Article) -> str:
    """An article as JSON text: Arrow would turn nested fields into arrays and structs."""
    return json.dumps(asdict(article), ensure_ascii=False)


def _decode(text: str) -> Article:
    values = json.loads(text)
    values["index_spans"] = tuple(tuple(s) for s in values.get("index_spans") or ())
    values["also_published"] = tuple(Copy(**c) for c in values.get("also_published") or ())
    return Article(**values)


def parse_file(row: dict[str, Any], id_from: IdFrom, limits: tuple[int, int]) -> list[dict]:
    """One file -> its articles (or its problems), as rows."""
    out: list[dict[str, Any]] = []
    for item in read_file(Path(row["path"]), id_from=id_from, limits=Limits(*limits)):
        if isinstance(item, Problem):
            out.append({"article": "", "problem": str(item)})
        else:
            out.append({"article": _encode(item), "problem": ""})
    return out


class EmbedAndWrite:
    """A Ray Data actor: the model loaded once, a batch of articles embedded and written."""

    def __init__(self, values: dict[str, Any]) -> None:
        from rag.pg.pipeline import PgPipeline

        self.pipeline = PgPipeline(Settings(**values))

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        problems = [p for p in batch["problem"] if p]
        incoming: dict[str, Article] = {}
        for text in batch["article"]:
            if text:
                article = _decode(text)
                if len(article.text) > self.pipeline.settings.max_article_chars:
                    problems.append(f"{article.id}: over RAG_MAX_ARTICLE_CHARS")
                    continue
                incoming[article.id] = article
        # the PostgreSQL pipeline's write: embedded before, folded and written in one
        # transaction (whole articles or none); stored articles with the same content are
        # left alone, so a rerun resumes
        report = self.pipeline.ingest(list(incoming.values()))
        return {
            "written": [len(report.added) + len(report.replaced)],
            "unchanged": [len(report.unchanged)],
            "folded": [len(report.folded)],
            "chunks": [report.chunks_added],
            "problems": [problems],
        }


def ingest_on_ray(
    settings: Settings,
    paths: Iterable[Path],
    address: str,
    *,
    workers: int = 2,
    cpus_per_worker: float = 1.0,
    id_from: IdFrom = "content",
    show_progress: bool = True,
) -> RayIngestReport:
    """Ingest the files through Ray Data into the PostgreSQL the settings name."""
    if settings.store != "postgres":
        raise RagError("`rag ingest --ray` writes to PostgreSQL: set RAG_STORE=postgres")
    ray = require_ray()
    values = settings_payload(settings)
    report = RayIngestReport()
    files: list[str] = []
    for item in iter_paths(paths):
        if isinstance(item, Problem):
            report.skipped.append(str(item))
        else:
            files.append(str(item.resolve()))
    report.files = len(files)
    started = time.monotonic()
    if not files:
        return report
    # the schema and the spec, once, before the workers race to create them
    from rag.pg.pipeline import PgPipeline

    PgPipeline(settings).pg.open()
    if not ray.is_initialized():
        ray.init(address=address, logging_level="ERROR", log_to_driver=False)
    from ray.data import ActorPoolStrategy, DataContext

    DataContext.get_current().enable_progress_bars = False
    limits = (settings.max_page_bytes, settings.max_pdf_bytes)
    dataset = (
        ray.data.from_items([{"path": f} for f in files], override_num_blocks=len(files))
        # 0 CPUs reserved: actors that take every CPU must not starve the parsing (a hang)
        .flat_map(
            parse_file,
            fn_kwargs={"id_from": id_from, "limits": limits},
            num_cpus=0,
            concurrency=max(2, workers),
        )
        .map_batches(
            EmbedAndWrite,
            fn_constructor_kwargs={"values": values},
            batch_size=settings.pg_write_batch,
            batch_format="default",
            compute=ActorPoolStrategy(size=workers),
            num_cpus=cpus_per_worker,
        )
    )
    for row in dataset.iter_rows():
        report.written += row["written"]
        report.unchanged += row["unchanged"]
        report.folded += row["folded"]
        report.chunks += row["chunks"]
        report.skipped.extend(str(p) for p in row["problems"])
        if show_progress:
            rate = report.chunks / max(time.monotonic() - started, 1e-9)
            print(
                f"rag: {report.written:,} articles written, {report.unchanged:,} unchanged, "
                f"{report.chunks:,} chunks ({rate:,.0f} chunks/s)",
                file=sys.stderr,
                flush=True,
            )
    report.seconds = round(time.monotonic() - started, 2)
    return report
