"""`rag check` and damaged indexes: every broken file gives a one-line error, never a traceback.

Each case damages a copy of a small index built once by a real `rag ingest` (fake embedder via
RAG_EMBEDDING_MODEL=hashing:64), then runs real `rag` processes against it.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import pytest

from rag.embedding import HashingEmbedder
from rag.errors import CorruptIndex
from rag.integrity import check_index
from rag.store import FILES, IndexSpec, IndexStore

FAKE_MODEL = "hashing:64"
TIMEOUT_S = 120
QUESTION = "how many were wounded in Odessa?"


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def rag_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return {**env, "RAG_EMBEDDING_MODEL": FAKE_MODEL, "HF_HUB_OFFLINE": "1"}


def rag_all(*argsets: list[str], cwd: Path) -> list[Run]:
    """Run several `rag` processes at once (they only read) and collect their results."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "rag.cli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=rag_env(),
            cwd=cwd,
            umask=0o022,
        )
        for args in argsets
    ]
    runs = []
    for proc in procs:
        out, err = proc.communicate(timeout=TIMEOUT_S)
        runs.append(
            Run(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))
        )
    return runs


def rag(*args: str, cwd: Path) -> Run:
    return rag_all(list(args), cwd=cwd)[0]


def assert_one_line_failure(run: Run, *, needle: str = "") -> None:
    """Exit 1 with exactly one `rag: ...` line on stderr: no traceback, no signal."""
    assert run.code == 1, (run.code, run.stderr[-2000:])
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rag: "), run.stderr[-2000:]
    assert needle.lower() in lines[0].lower(), lines[0]


def fake_store(index: Path) -> IndexStore:
    embedder = HashingEmbedder(64)
    spec = IndexSpec(embedder.name, embedder.fingerprint, embedder.dim, 600, 120)
    return IndexStore(index, spec)


def fingerprint(index: Path) -> dict[str, str]:
    """Every file under the index folder (but the lock) -> sha256: to prove nothing changed."""
    return {
        str(p.relative_to(index)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(index.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def write_articles(path: Path, count: int) -> Path:
    lines = []
    for i in range(count):
        paragraphs = [
            f"Officials in city {i} said {i + 2} people were wounded on day {i}. "
            f"Rescue teams worked through the night near the station number {i}.",
            " ".join(
                f"Sentence {j} of report {i} describes the damage in district {j}."
                for j in range(12)
            ),
        ]
        record = {"id": f"art-{i:03d}", "title": f"Report {i}", "text": "\n\n".join(paragraphs)}
        lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small whole index, built once by a real `rag ingest`."""
    root = tmp_path_factory.mktemp("template")
    run = rag("ingest", str(write_articles(root / "a.jsonl", 6)), "--index", "index", cwd=root)
    assert run.code == 0, run.stderr
    return root / "index"


@pytest.fixture
def index(template: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "index"
    shutil.copytree(template, copy)
    return copy


def manifest_dir(index: Path) -> Path:
    return index / "snapshots" / (index / "CURRENT").read_text().strip()


def snapshot_dir(index: Path) -> Path:
    """The folder holding the index's files: its one segment (the template is one write)."""
    manifest = json.loads((manifest_dir(index) / "manifest.json").read_text())
    (segment,) = manifest["segments"]
    return index / "segments" / segment["name"]


def reseal(folder: Path) -> None:
    """Recompute the manifest's checksums, so damage gets past them to the deeper checks."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"] = {
        name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in FILES
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


# ----- a whole index ------------------------------------------------------------------------
def test_whole_index_passes(index: Path):
    human, machine = rag_all(
        ["check", "--index", str(index)],
        ["check", "--index", str(index), "--json"],
        cwd=index.parent,
    )
    assert human.code == 0 and "is whole" in human.stdout and "6 articles" in human.stdout
    report = json.loads(machine.stdout)
    assert machine.code == 0 and report["ok"] and report["problems"] == []
    assert report["counts"]["articles"] == 6 and report["counts"]["chunks"] > 6
    assert check_index(fake_store(index)) == []


# ----- truncated, empty or garbage files ---------------------------------------------------
DAMAGE: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda data: data[: len(data) // 2],
    "empty": lambda data: b"",
    "garbage": lambda data: random.Random(len(data)).randbytes(max(len(data), 64)),
}
DAMAGED_FILE = ["CURRENT", *(f"snapshot/{name}" for name in (*FILES, "manifest.json"))]


@pytest.mark.slow  # 24 cases, each running four real commands: ~80 s
@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("target", DAMAGED_FILE)
def test_damaged_file_stops_every_command_with_one_line(index: Path, target: str, damage: str):
    path = index / "CURRENT" if target == "CURRENT" else snapshot_dir(index) / target.split("/")[1]
    path.write_bytes(DAMAGE[damage](path.read_bytes()))
    before = fingerprint(index)
    commands = [
        ["check", "--index", str(index)],
        ["ask", QUESTION, "--index", str(index)],
        ["info", "--index", str(index)],
    ]
    if damage == "garbage":  # a write must refuse a damaged index too, not paper over it
        commands.append(
            ["ingest", str(write_articles(index.parent / "new.jsonl", 1)), "--index", str(index)]
        )
    check, *others = rag_all(*commands, cwd=index.parent)
    assert check.code == 1 and "Traceback" not in check.stdout + check.stderr
    named = "CURRENT" if target == "CURRENT" else path.name
    assert named in check.stdout or "snapshot 000" in check.stdout, check.stdout
    for run in others:
        assert_one_line_failure(run)
    assert fingerprint(index) == before, "a failed command changed the index"


# ----- a manifest with the wrong shape -------------------------------------------------------
def _edit_manifest(
    change: Callable[[dict], object], segment: bool = False
) -> Callable[[Path], None]:
    """Edit the snapshot's manifest, or its segment's (which holds the file checksums)."""

    def apply(index: Path) -> None:
        path = (snapshot_dir(index) if segment else manifest_dir(index)) / "manifest.json"
        manifest = json.loads(path.read_text())
        result = change(manifest)
        path.write_text(json.dumps(manifest if result is None else result))

    return apply


def _nested_manifest(index: Path) -> None:
    path = manifest_dir(index) / "manifest.json"
    path.write_text('{"files": ' + "[" * 100_000 + "]" * 100_000 + "}")


MANIFEST_CASES = {
    "a list, not an object": (_edit_manifest(lambda m: [m]), "not a json object"),
    "files is a list": (_edit_manifest(lambda m: m.update(files=[]), segment=True), "'files'"),
    "files missing": (_edit_manifest(lambda m: m.pop("files"), segment=True), "'files'"),
    "checksum is a number": (
        _edit_manifest(lambda m: m["files"].update({"index.faiss": 7}), segment=True),
        "no checksum",
    ),
    "dim is a string": (_edit_manifest(lambda m: m.update(dim="64")), "'dim'"),
    "format version from the future": (
        _edit_manifest(lambda m: m.update(format_version=99)),
        "format_version",
    ),
    "other model": (
        _edit_manifest(lambda m: m.update(embedding_model="other")),
        "not compatible",
    ),
    "nested 100,000 deep": (_nested_manifest, "not valid json"),
}


def problems_of(index: Path) -> list[str]:
    return [str(p) for p in check_index(fake_store(index))]


@pytest.mark.parametrize("case", list(MANIFEST_CASES))
def test_malformed_manifest(index: Path, case: str):
    damage, needle = MANIFEST_CASES[case]
    damage(index)
    problems = problems_of(index)
    assert any(needle in p.lower() for p in problems), problems
    assert_one_line_failure(rag("ask", QUESTION, "--index", str(index), cwd=index.parent))


def test_wrong_counts_in_manifest_are_reported(index: Path):
    _edit_manifest(lambda m: m["counts"].update(articles="six", chunks=1))(index)
    problems = problems_of(index)
    assert any("counts.articles should be a count" in p for p in problems), problems
    assert any("disagree: manifest.json chunks 1" in p for p in problems), problems


# ----- missing pieces ------------------------------------------------------------------------
def _rm(relative: str) -> Callable[[Path], None]:
    def apply(index: Path) -> None:
        path = snapshot_dir(index) / relative if relative != "snapshots" else index / relative
        shutil.rmtree(path) if path.is_dir() else path.unlink()

    return apply


def _point_to(name: str) -> Callable[[Path], None]:
    return lambda index: (index / "CURRENT").write_text(name + "\n")


def _current_is_folder(index: Path) -> None:
    (index / "CURRENT").unlink()
    (index / "CURRENT").mkdir()


MISSING_CASES = {
    "CURRENT names a missing snapshot": (_point_to("000009"), "names snapshot 000009"),
    "CURRENT names no snapshot": (_point_to("../../etc"), "does not name a snapshot"),
    "CURRENT in Arabic-Indic digits": (_point_to("\u0661"), "does not name a snapshot"),
    "CURRENT is a folder": (_current_is_folder, "unreadable"),
    "snapshots folder missing": (_rm("snapshots"), "snapshots"),
    "snapshot folder missing": (_rm("."), "does not exist"),
    "index.faiss missing": (_rm("index.faiss"), "index.faiss"),
    "meta.sqlite missing": (_rm("meta.sqlite"), "meta.sqlite"),
}


@pytest.mark.parametrize("case", list(MISSING_CASES))
def test_missing_piece(index: Path, case: str):
    damage, needle = MISSING_CASES[case]
    damage(index)
    problems = problems_of(index)
    assert any(needle in p for p in problems), problems
    assert_one_line_failure(rag("ask", QUESTION, "--index", str(index), cwd=index.parent))


def test_missing_current_with_snapshots_suggests_the_fix(index: Path):
    (index / "CURRENT").unlink()
    check, ask = rag_all(
        ["check", "--index", str(index)], ["ask", QUESTION, "--index", str(index)], cwd=index.parent
    )
    assert check.code == 1 and "restore the pointer with `echo 000001 >" in check.stdout
    assert_one_line_failure(ask, needle="no index")


def test_no_index_and_a_file_as_index(tmp_path: Path):
    (tmp_path / "afile").write_text("x")
    missing, a_file, ask, ingest = rag_all(
        ["check", "--index", "nowhere"],
        ["check", "--index", "afile"],
        ["ask", QUESTION, "--index", "afile"],
        ["ingest", str(write_articles(tmp_path / "a.jsonl", 1)), "--index", "afile"],
        cwd=tmp_path,
    )
    assert missing.code == 1 and "does not exist" in missing.stdout
    assert a_file.code == 1 and "is a file" in a_file.stdout
    assert_one_line_failure(ask, needle="is a file")
    assert_one_line_failure(ingest, needle="is a file")


# ----- damage that gets past the checksums (a buggy or hostile writer) -----------------------
def _sql(statement: str) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        con = sqlite3.connect(folder / "meta.sqlite")
        con.execute(statement)
        con.commit()
        con.close()

    return apply


def _vectors(
    change: Callable[[np.ndarray], np.ndarray], pickle: bool = False
) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        vectors = np.load(folder / "vectors.npy")
        np.save(folder / "vectors.npy", change(vectors), allow_pickle=pickle)

    return apply


def _faiss(build: Callable[[np.ndarray], faiss.Index]) -> Callable[[Path], None]:
    def apply(folder: Path) -> None:
        faiss.write_index(build(np.load(folder / "vectors.npy")), str(folder / "index.faiss"))

    return apply


def _flat_ip(vectors: np.ndarray) -> faiss.Index:
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors))
    return index


def _flat_l2(vectors: np.ndarray) -> faiss.Index:
    index = faiss.IndexFlatL2(vectors.shape[1])
    index.add(vectors)
    return index


def _truncate_faiss(folder: Path) -> None:
    path = folder / "index.faiss"
    path.write_bytes(path.read_bytes()[:100])


def _garbage_meta(folder: Path) -> None:
    (folder / "meta.sqlite").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)


# case -> (damage, words in a problem, whether opening the index must fail)
RESEALED_CASES = {
    "meta.sqlite garbage": (_garbage_meta, "not a readable index database", True),
    "a chunk record deleted": (
        _sql("DELETE FROM chunks WHERE id = 3"),
        "FAISS ids without a chunk record: 3",
        True,
    ),
    "an article deleted": (
        _sql("DELETE FROM articles WHERE id = 'art-002'"),
        "chunks whose article is missing",
        True,
    ),
    "chunk offsets past the text": (
        _sql('UPDATE chunks SET "end" = 10000000 WHERE id = 0'),
        "chunk offsets outside",
        True,
    ),
    "chunk offsets as text": (
        _sql("UPDATE chunks SET start = 'x' WHERE id = 1"),
        "chunk offsets outside",
        True,
    ),
    "index_spans not JSON": (
        _sql("UPDATE articles SET index_spans = '[[' WHERE id = 'art-001'"),
        "malformed article records",
        True,
    ),
    "article text changed": (
        _sql("UPDATE articles SET text = text || ' Added.' WHERE id = 'art-001'"),
        "content_hash",
        False,
    ),
    "an article without chunks": (
        _sql(
            "INSERT INTO articles SELECT 'ghost', title, text, source, url, published_at, index_spans, content_hash FROM articles LIMIT 1"
        ),
        "articles with text but no chunks",
        False,
    ),
    "vectors in float64": (_vectors(lambda v: v.astype(np.float64)), "2-D float32", True),
    "a vector row missing": (_vectors(lambda v: v[:-1]), "vectors.npy rows", True),
    "vectors not normalized": (_vectors(lambda v: v * 2), "not unit-length", False),
    "vectors pickled as objects": (
        _vectors(lambda v: np.array([object()] * 3), pickle=True),
        "not a readable vector file",
        True,
    ),
    "FAISS with L2 metric": (_faiss(_flat_l2), "not a flat inner-product", True),
    "FAISS missing its last vector": (
        _faiss(lambda v: _flat_ip(v[:-1])),
        "chunk records without a FAISS vector",
        True,
    ),
    "FAISS vectors in another order": (
        _faiss(lambda v: _flat_ip(v[::-1])),
        "FAISS vectors that differ",
        False,
    ),
    "FAISS file truncated": (_truncate_faiss, "not a readable FAISS index", True),
}


@pytest.mark.parametrize("case", list(RESEALED_CASES))
def test_damage_behind_valid_checksums(index: Path, case: str):
    damage, needle, opening_fails = RESEALED_CASES[case]
    folder = snapshot_dir(index)
    damage(folder)
    reseal(folder)
    problems = problems_of(index)
    assert any(needle in p for p in problems), problems
    if opening_fails:
        with pytest.raises(CorruptIndex):
            fake_store(index).load()
    else:
        fake_store(index).load()  # harmless to serving; `rag check` still reports it


def test_damage_behind_valid_checksums_through_the_cli(template: Path, tmp_path: Path):
    """FAISS' C++ reader and SQLite meet the damaged bytes in a real process: one line, exit 1."""
    indexes = []
    for damage in (_truncate_faiss, _garbage_meta, _vectors(lambda v: v[:, :10])):
        index = tmp_path / f"index{len(indexes)}"
        shutil.copytree(template, index)
        damage(snapshot_dir(index))
        reseal(snapshot_dir(index))
        indexes.append(index)
    runs = rag_all(*(["ask", QUESTION, "--index", str(i)] for i in indexes), cwd=tmp_path)
    for run, needle in zip(runs, ("index.faiss", "meta.sqlite", "inconsistent"), strict=True):
        assert_one_line_failure(run, needle=needle)


# ----- permissions -----------------------------------------------------------------------------
def _loose_modes(index: Path) -> dict[str, str]:
    """Paths under the index whose mode is not 0700 (folders) or 0600 (files)."""
    return {
        str(p.relative_to(index.parent)): f"{mode:04o}"
        for p in [index, *index.rglob("*")]
        if (mode := stat.S_IMODE(p.stat().st_mode)) != (0o700 if p.is_dir() else 0o600)
    }


def test_index_files_are_owner_only(tmp_path: Path):
    """0600 files and 0700 folders after a first ingest, a replacement and a delete (umask 022)."""
    articles = write_articles(tmp_path / "a.jsonl", 3)
    index = tmp_path / "deep" / "index"
    assert rag("ingest", str(articles), "--index", str(index), cwd=tmp_path).code == 0
    assert (index / ".lock").is_file() and (index / "CURRENT").is_file()
    assert _loose_modes(index) == {}
    articles.write_text(articles.read_text().replace("wounded", "injured"))
    assert rag("ingest", str(articles), "--index", str(index), cwd=tmp_path).code == 0
    assert rag("delete", "art-001", "--index", str(index), cwd=tmp_path).code == 0
    assert len(list((index / "snapshots").iterdir())) == 2  # the current one and the one before
    assert _loose_modes(index) == {}


def test_check_reports_loose_permissions(index: Path):
    os.chmod(snapshot_dir(index) / "meta.sqlite", 0o644)
    os.chmod(index, 0o755)
    problems = problems_of(index)
    assert any(p.startswith(".: is accessible to other users (mode 0755)") for p in problems)
    assert any("meta.sqlite: is accessible to other users (mode 0644)" in p for p in problems)
