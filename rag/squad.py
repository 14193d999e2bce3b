"""SQuAD-format files as an eval corpus: one article per paragraph, in an index folder of its own.

The data is not ours to commit (CC BY-SA): it is read from outside the repository,
`../shared/data/squad/` by default or the folder named by RAG_SQUAD_DIR.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rag.documents import Article, article_from_record
from rag.errors import RagError
from rag.evaluation import EvalQuestion
from rag.pipeline import Pipeline
from rag.settings import PROJECT_ROOT

SQUAD_DIR_ENV = "RAG_SQUAD_DIR"
DEFAULT_SQUAD_DIR = PROJECT_ROOT.parent / "shared" / "data" / "squad"
CACHE_DIR = PROJECT_ROOT / "eval" / ".cache" / "squad"  # git-ignored
FINGERPRINT_FILE = "squad-source.json"
LOADER_VERSION = (
    2  # bump when paragraph ids, titles or what an index stores change (2: sentence vectors)
)


class SquadDataMissing(RagError):
    status_code = 404


class BadSquadFile(RagError):
    status_code = 422


@dataclass(frozen=True)
class SquadSet:
    name: str
    sha256: str
    articles: list[Article]
    questions: list[EvalQuestion]


def squad_dir() -> Path:
    return Path(os.environ.get(SQUAD_DIR_ENV) or DEFAULT_SQUAD_DIR)


def resolve_squad_file(name: str | Path) -> Path:
    """The file as given if it exists, else that name inside the SQuAD data folder."""
    path = Path(name)
    if path.is_file():
        return path
    candidate = squad_dir() / path.name
    if candidate.is_file():
        return candidate
    raise SquadDataMissing(
        f"SQuAD file {name} not found (nor {candidate}); the data stays out of git: put it in "
        f"{DEFAULT_SQUAD_DIR} or point {SQUAD_DIR_ENV} at its folder"
    )


def paragraph_id(title: str, index: int) -> str:
    """A stable article id from the SQuAD title and the paragraph's index in it.

    >>> paragraph_id("Super_Bowl_50", 3)
    'squad-Super_Bowl_50-p3-c8f7e4'
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", title).strip("-._")[:80] or "untitled"
    digest = hashlib.sha256(f"{title}\x00{index}".encode()).hexdigest()[:6]
    return f"squad-{slug}-p{index}-{digest}"  # the digest keeps titles that slug alike apart


def parse_squad(data: Any, where: str) -> tuple[list[Article], list[EvalQuestion]]:
    """Articles (one per paragraph) and questions of a parsed SQuAD v1.1/v2.0 document."""
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise BadSquadFile(f"{where}: not a SQuAD file (no 'data' list)")
    articles: list[Article] = []
    questions: list[EvalQuestion] = []
    try:
        for entry in data["data"]:
            title = str(entry["title"])
            for index, paragraph in enumerate(entry["paragraphs"]):
                doc_id = paragraph_id(title, index)
                record = {
                    "id": doc_id,
                    "title": title.replace("_", " "),
                    "text": paragraph["context"],
                }
                articles.append(article_from_record(record, f"{where}: {title}[{index}]"))
                for qa in paragraph["qas"]:
                    golds = [] if qa.get("is_impossible") else [a["text"] for a in qa["answers"]]
                    golds = list(dict.fromkeys(g for g in golds if g.strip()))
                    questions.append(
                        EvalQuestion(str(qa["id"]), qa["question"], tuple(golds), doc_id)
                    )
    except (KeyError, TypeError) as exc:
        raise BadSquadFile(f"{where}: malformed SQuAD entry ({exc!r})") from None
    return articles, questions


def load_squad(path: Path) -> SquadSet:
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise BadSquadFile(f"{path}: invalid JSON ({exc})") from None
    articles, questions = parse_squad(data, str(path))
    return SquadSet(path.stem, hashlib.sha256(raw).hexdigest(), articles, questions)


def default_index_dir(squad: SquadSet) -> Path:
    return CACHE_DIR / squad.name


def _fingerprint(squad: SquadSet, pipeline: Pipeline) -> dict[str, Any]:
    return {
        "squad_sha256": squad.sha256,
        "loader_version": LOADER_VERSION,
        "embedding_model": pipeline.embedder.name,
        "model_fingerprint": pipeline.embedder.fingerprint,
        "chunk_size": pipeline.settings.chunk_size,
        "chunk_overlap": pipeline.settings.chunk_overlap,
    }


def ensure_squad_index(pipeline: Pipeline, squad: SquadSet, *, show_progress: bool = False) -> bool:
    """Index the paragraphs unless the folder already holds them; True when it (re)built."""
    root = pipeline.store.root
    marker = root / FINGERPRINT_FILE
    wanted = _fingerprint(squad, pipeline)
    if marker.is_file():
        try:
            if json.loads(marker.read_text(encoding="utf-8")) == wanted and pipeline.store.exists():
                return False
        except ValueError:
            pass
        shutil.rmtree(root)  # our own cache of another file or model: rebuild from scratch
    elif pipeline.store.exists():
        raise RagError(
            f"{root} holds an index that rag eval --squad did not build; choose another --index"
        )
    report = pipeline.ingest(squad.articles, strict=True, show_progress=show_progress)
    if report.skipped:
        raise BadSquadFile(f"{squad.name}: cannot index {report.skipped[0]}")
    marker.write_text(json.dumps(wanted, indent=2) + "\n", encoding="utf-8")
    return True
