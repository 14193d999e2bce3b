"""Hostile input to the real `rag` command, table-driven.

Every case runs a real `rag` process (fake embedder via RAG_EMBEDDING_MODEL=hashing:64) against
a copy of a small index and checks: the exit code, one clear `rag: ...` line on stderr per
problem (never a traceback), an answer or an abstention for odd-but-valid questions, and an
index left byte-for-byte unchanged by anything rejected.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rag.answering import NO_ANSWER
from rag.embedding import HashingEmbedder
from rag.errors import EmptyQuestion
from rag.pipeline import check_question
from rag.store import IndexSpec, IndexStore
from rag.verified import FILE as VERIFIED_FILE

TIMEOUT_S = 120
BASE = [
    {
        "id": "odessa",
        "title": "Strike on Odessa",
        "text": "Local officials confirmed that three individuals were wounded during the "
        "assault on Odessa. The strike hit a port warehouse overnight.",
    },
    {
        "id": "kyiv",
        "title": "Drones over Kyiv",
        "text": "Two drones were shot down over Kyiv on Monday, the air force said.",
    },
]


@dataclass(frozen=True)
class Run:
    code: int
    stdout: str
    stderr: str


def rag(args: list[str | bytes], index: Path, env: dict[str, str] | None = None) -> Run:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    full_env = {**base, "RAG_EMBEDDING_MODEL": "hashing:64", "HF_HUB_OFFLINE": "1", **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "rag.cli", *args, "--index", str(index)],
        capture_output=True,
        env=full_env,
        cwd=index.parent,
        timeout=TIMEOUT_S,
    )
    return Run(
        proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
    )


def fake_store(index: Path) -> IndexStore:
    embedder = HashingEmbedder(64)
    return IndexStore(index, IndexSpec(embedder.name, embedder.fingerprint, 64, 600, 120))


def fingerprint(index: Path) -> dict[str, str]:
    """Every file of the index but the lock and `verified.json` (a cache of which files hashed
    whole, rag/verified.py: a read of a copied index rewrites it, the index is the same)."""
    return {
        str(p.relative_to(index)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(index.rglob("*"))
        if p.is_file() and p.name not in (".lock", VERIFIED_FILE)
    }


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("cli-errors")
    source = root / "base.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in BASE), encoding="utf-8")
    run = rag(["ingest", str(source)], root / "index")
    assert run.code == 0, run.stderr
    return root / "index"


@pytest.fixture
def index(template: Path, tmp_path: Path) -> Path:
    shutil.copytree(template, tmp_path / "index")
    return tmp_path / "index"


# ----- the table ------------------------------------------------------------------------------
Argv = Callable[[Path], list[str | bytes]]


@dataclass(frozen=True)
class Case:
    argv: Argv  # given a scratch folder for input files, the arguments after `rag`
    code: int
    needle: str = ""  # in stderr
    lines: int | None = 1  # stderr lines, each `rag: ...`; None: argparse's usage + error
    env: dict[str, str] = field(default_factory=dict)
    answers: bool = False  # exit 0 with an answer or "The sources do not say."
    changes_index: bool = False
    after: Callable[[IndexStore], None] | None = None


def ask(question: str | bytes, *extra: str) -> Argv:
    return lambda _: ["ask", question, *extra]


def search(question: str, *extra: str) -> Argv:
    return lambda _: ["search", question, *extra]


def ingest_bytes(name: str, data: bytes, *extra: str) -> Argv:
    def argv(folder: Path) -> list[str | bytes]:
        (folder / name).write_bytes(data)
        return ["ingest", str(folder / name), *extra]

    return argv


def ingest_lines(*records: object, extra: tuple[str, ...] = ()) -> Argv:
    """A JSONL file: dicts are dumped, strings are written as they are."""
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    return ingest_bytes("in.jsonl", ("\n".join(lines) + "\n").encode(), *extra)


def good(doc_id: str, text: str = "Five people were wounded in Kharkiv on Sunday.") -> dict:
    return {"id": doc_id, "text": text}


def has_articles(*ids: str, count: int | None = None) -> Callable[[IndexStore], None]:
    def check(store: IndexStore) -> None:
        articles = store.load().articles
        assert set(ids) <= articles.keys(), sorted(articles)[:10]
        assert count is None or len(articles) == count, len(articles)

    return check


def text_is(doc_id: str, text: str) -> Callable[[IndexStore], None]:
    def check(store: IndexStore) -> None:
        assert store.load().articles[doc_id].text == text

    return check


DEEP = "[" * 100_000 + "]" * 100_000
TEN_MB = ("Shelling continued near the front line, officials said. " * 180_000)[:10_000_000]
# Ids are any string up to 512 characters (URLs and paths included), without control characters.
BAD_IDS = ["", "   ", "x" * 513, "a\nb", "tab\there", "nul\u0000"]
HTML = '<script>alert(1)</script><img src=x onerror="alert(2)"> Four were wounded in Sumy.'

CASES: dict[str, Case] = {
    # questions
    "empty question": Case(ask(""), 1, "the question is empty"),
    "whitespace question": Case(ask(" \t\n  "), 1, "the question is empty"),
    "100k-character question": Case(ask("wounded " * 12_500), 1, "the limit is 1,000"),
    "100k-character search": Case(search("w" * 100_000), 1, "the limit is 1,000"),
    "1,001 characters": Case(ask("x" * 1001), 1, "1,001 characters"),
    "exactly 1,000 characters": Case(
        ask(("how many were wounded " * 50)[:1000]), 0, lines=0, answers=True
    ),
    "right-to-left Arabic": Case(ask("كم عدد الجرحى في أوديسا؟"), 0, lines=0, answers=True),
    "Hebrew with a bidi override": Case(
        ask("\u202eכמה נפצעו in Odessa?"), 0, lines=0, answers=True
    ),
    "emoji": Case(ask("how many 💥 were wounded in Odessa 🇺🇦?"), 0, lines=0, answers=True),
    "combining characters": Case(
        ask("how many were wounded in Ode\u0301s\u0327sa\u0308?"), 0, lines=0, answers=True
    ),
    "zalgo": Case(ask("w\u0336\u0337o\u0338u\u0334nded" * 5), 0, lines=0, answers=True),
    "only zero-width characters": Case(ask("\u200b\u200c\u200d\ufeff"), 0, lines=0, answers=True),
    "HTML and script": Case(ask(HTML, "--json"), 0, lines=0, answers=True),
    "invalid UTF-8 bytes in argv": Case(
        ask(b"how many \xff\xfe were wounded?", "--json"),
        1,
        "not valid UTF-8",
        env={"PYTHONIOENCODING": "utf-8"},  # a strict stdout, as under a UTF-8 locale
    ),
    "-k 0": Case(ask("wounded?", "-k", "0"), 2, "-k must be between 1 and 50"),
    "-k negative": Case(ask("wounded?", "-k", "-5"), 2, "-k must be between 1 and 50"),
    "-k huge": Case(ask("wounded?", "-k", "1000000"), 2, "-k must be between 1 and 50"),
    "-k not a number": Case(ask("wounded?", "-k", "ten"), 2, "invalid int value", lines=None),
    "--after not a date": Case(ask("wounded?", "--after", "yesterday"), 1, "ISO date"),
    "--before impossible date": Case(search("wounded?", "--before", "2024-02-30"), 1, "ISO date"),
    "delete a path-like id": Case(
        lambda _: ["delete", "../../etc/passwd"], 1, "no article with id"
    ),
    # files
    "invalid UTF-8 file": Case(
        ingest_bytes("bad.txt", b"caf\xe9 \xff\xfe wounded"), 1, "invalid UTF-8 at byte 3"
    ),
    "binary file": Case(
        ingest_bytes("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), 1, "binary file"
    ),
    "UTF-16 file": Case(
        ingest_bytes("u16.txt", "three wounded".encode("utf-16")), 1, "binary file"
    ),
    "empty file": Case(ingest_bytes("empty.txt", b""), 1, "empty article"),
    "whitespace-only file": Case(ingest_bytes("blank.md", b"  \n\n\t \n"), 1, "empty article"),
    "empty .json": Case(ingest_bytes("empty.json", b""), 1, "invalid JSON"),
    "empty .jsonl": Case(ingest_bytes("empty.jsonl", b""), 0, lines=0),
    "unsupported file type": Case(
        ingest_bytes("report.docx", b"PK\x03\x04 word"), 1, "unsupported file type .docx"
    ),
    "truncated PDF": Case(ingest_bytes("report.pdf", b"%PDF-1.7"), 1, "not a readable PDF"),
    "missing path": Case(
        lambda f: ["ingest", str(f / "nowhere.jsonl")], 1, "no such file or folder"
    ),
    "JSON nested 100,000 deep": Case(
        ingest_bytes("deep.json", DEEP.encode()), 1, "nested too deeply"
    ),
    "JSONL line nested 100,000 deep": Case(ingest_lines(DEEP), 1, "nested too deeply"),
    "a 5,000-digit number": Case(
        ingest_lines('{"text": "x", "id": ' + "9" * 5000 + "}"), 1, "invalid JSON"
    ),
    # records
    "record without text": Case(
        ingest_lines({"id": "a1", "title": "No body"}), 1, "record has no 'text'"
    ),
    "text is empty": Case(ingest_lines({"id": "a1", "text": ""}), 1, "record has no 'text'"),
    "text is a number": Case(ingest_lines({"id": "a1", "text": 42}), 1, "record has no 'text'"),
    "text holds NUL": Case(ingest_lines({"id": "a1", "text": "a\u0000b"}), 1, "NUL"),
    "text holds a lone surrogate": Case(
        ingest_lines('{"id": "s1", "text": "abc \\ud800 wounded"}'), 1, "not valid Unicode"
    ),
    "record is a list": Case(ingest_lines([1, 2]), 1, "expected a JSON object"),
    "record is null": Case(ingest_lines("null"), 1, "expected a JSON object"),
    "id is a list": Case(
        ingest_lines({"id": ["a"], "text": "x y"}), 1, "id must be a string or an integer"
    ),
    "title is a number": Case(
        ingest_lines({"text": "x y", "title": 7}), 1, "title must be a string"
    ),
    "published_at not a date": Case(
        ingest_lines({"text": "x y", "published_at": "last week"}), 1, "not an ISO date"
    ),
    "published_at a number": Case(
        ingest_lines({"text": "x y", "published_at": 20240101}), 1, "ISO date string"
    ),
    "unusable ids": Case(
        ingest_lines(*({"id": i, "text": "x y"} for i in BAD_IDS)),
        1,
        "is not allowed",
        lines=len(BAD_IDS),
    ),
    "10 MB article": Case(
        ingest_lines({"id": "huge", "text": TEN_MB}), 1, "over the limit of 5,000,000"
    ),
    "article over RAG_MAX_ARTICLE_CHARS": Case(
        ingest_lines(good("long", "word " * 400)),
        1,
        "RAG_MAX_ARTICLE_CHARS",
        env={"RAG_MAX_ARTICLE_CHARS": "1000"},
    ),
    "--strict with one bad record": Case(
        ingest_lines(good("fine"), {"id": "bad"}, extra=("--strict",)),
        1,
        "nothing was written",
        lines=2,
    ),
    # accepted, with the right effect
    "one bad line among good ones": Case(
        # g2 says something else: the same text under two ids is one story, folded
        ingest_lines(good("g1"), "{not json", good("g2", "Two drones were shot down over Odesa.")),
        0,
        "in.jsonl:2: invalid JSON",
        changes_index=True,
        after=has_articles("g1", "g2", "odessa", count=4),
    ),
    "duplicate ids in one batch": Case(
        ingest_lines(
            good("dup", "First version of the report."), good("dup", "Second version, kept.")
        ),
        0,
        lines=None,  # the last one wins; a warning line is welcome but not required
        changes_index=True,
        after=text_is("dup", "Second version, kept."),
    ),
    "an integer id": Case(
        ingest_lines({"id": 42, "text": "x y"}),
        0,
        lines=0,
        changes_index=True,
        after=has_articles("42"),
    ),
    "HTML and script in an article": Case(
        ingest_lines({"id": "html", "text": HTML}),
        0,
        lines=0,
        changes_index=True,
        after=text_is("html", HTML),
    ),
    "a batch of 10,000 articles": Case(
        ingest_lines(
            *(good(f"n{i:05d}", f"Report {i}: {i % 9} wounded in town {i}.") for i in range(10_000))
        ),
        0,
        lines=0,
        changes_index=True,
        after=has_articles("n00000", "n09999", count=10_002),
    ),
}


@pytest.mark.slow  # a real `rag` process per case, ~1.3 s each: 70 s in all
@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input(name: str, index: Path, tmp_path: Path):
    case = CASES[name]
    before = fingerprint(index)
    run = rag(case.argv(tmp_path), index, env=case.env)
    assert "Traceback" not in run.stderr and run.code >= 0, run.stderr[-3000:]
    assert run.code == case.code, (run.code, run.stderr[-3000:])
    lines = run.stderr.strip().splitlines()
    if case.lines is not None:
        assert len(lines) == case.lines, run.stderr[-3000:]
        assert all(line.startswith("rag: ") for line in lines), run.stderr[-3000:]
    elif case.code == 0:
        assert all(line.startswith("rag: ") for line in lines), run.stderr[-3000:]
    assert case.needle in run.stderr, run.stderr[-3000:]
    if case.answers:
        assert run.stdout.startswith(("Answer:", "{")) or NO_ANSWER in run.stdout, run.stdout
        if run.stdout.startswith("{"):
            document = json.loads(run.stdout)
            assert document["abstained"] or document["answer"], document
    if case.changes_index:
        assert fingerprint(index) != before
    else:
        assert fingerprint(index) == before, "a rejected input changed the index"
    if case.after is not None:
        case.after(fake_store(index))


def test_nul_bytes_cannot_reach_argv_and_are_refused_inside():
    """argv cannot carry NUL (the OS strings end there), so the check behind it is tested direct."""
    with pytest.raises(ValueError, match="null byte"):
        subprocess.run([sys.executable, "-c", "pass", "how many\x00wounded?"], check=False)
    with pytest.raises(EmptyQuestion, match="NUL"):
        check_question("how many\x00 were wounded?", 1000)


@pytest.mark.integration
def test_a_10_mb_article_is_ingested_when_the_limit_allows(index: Path, tmp_path: Path):
    """RAG_MAX_ARTICLE_CHARS above 10 MB: the article goes in whole, with exact offsets."""
    argv = ingest_lines({"id": "huge", "text": TEN_MB})(tmp_path)
    run = rag(argv, index, env={"RAG_MAX_ARTICLE_CHARS": "20000000"})
    assert run.code == 0, run.stderr
    snapshot = fake_store(index).load()
    assert snapshot.articles["huge"].text == TEN_MB
    assert max(c.end for c in snapshot.chunks if c.article_id == "huge") <= len(TEN_MB)
