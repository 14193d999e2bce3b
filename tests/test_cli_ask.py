"""`rag ask` as people use it: a stream of questions, the interactive prompt, a running server.

Real `rag` processes on the fake embedder (RAG_EMBEDDING_MODEL=hashing:64), so nothing here
waits for the model; the server is a real `rag serve` on 127.0.0.1 (tests/api_fixtures.py).
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rag.ask_cli import Prompt, ask_stream, render_answer
from rag.errors import RagError
from rag.settings import PROJECT_ROOT

pytest_plugins = ["api_fixtures"]

ODESSA = "How many people were wounded in Odessa?"
TIMEOUT_S = 120


def rag_env(home: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    return {
        **base,
        "HOME": str(home),
        "RAG_EMBEDDING_MODEL": "hashing:64",
        "HF_HUB_OFFLINE": "1",
        **extra,
    }


def rag(
    *args: str, home: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**rag_env(home), **(env or {})},
        cwd=home,
        timeout=TIMEOUT_S,
    )


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("ask-index")
    run = rag("ingest", str(PROJECT_ROOT / "seeds"), "--index", str(home / "index"), home=home)
    assert run.returncode == 0, run.stderr
    return home / "index"


# ----- rag ask - ------------------------------------------------------------------------------
def test_a_stream_of_questions_gets_one_json_answer_a_line(index: Path, tmp_path: Path) -> None:
    questions = f"{ODESSA}\n\n   \nwho is the Kremlin's spokesperson?\n"
    run = rag("ask", "-", "--index", str(index), home=tmp_path, stdin=questions)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 2  # blank lines are skipped
    first, second = (json.loads(line) for line in lines)
    assert first["question"] == ODESSA and first["answer"] == "three"
    assert second["question"] == "who is the Kremlin's spokesperson?"
    assert {"answer", "confidence", "abstained", "citations", "passages"} <= set(second)


def test_a_bad_line_in_the_stream_is_an_error_line_and_the_rest_is_answered(
    index: Path, tmp_path: Path
) -> None:
    questions = f"{'x' * 1001}\n{ODESSA}\n"
    run = rag("ask", "-", "--index", str(index), home=tmp_path, stdin=questions)
    assert run.returncode == 1
    bad, good = (json.loads(line) for line in run.stdout.splitlines())
    assert "1,001 characters" in bad["error"] and "answer" not in bad
    assert good["answer"] == "three"


def test_the_stream_equals_ask_json_question_by_question(index: Path, tmp_path: Path) -> None:
    one = rag("ask", ODESSA, "--json", "--index", str(index), home=tmp_path)
    stream = rag("ask", "-", "--index", str(index), home=tmp_path, stdin=ODESSA + "\n")
    assert json.loads(one.stdout) == json.loads(stream.stdout)


# ----- rag ask (the prompt) -------------------------------------------------------------------
def test_the_prompt_answers_toggles_json_shows_sources_and_quits(
    index: Path, tmp_path: Path
) -> None:
    script = f"{ODESSA}\n:sources\n:json\n{ODESSA}\n:nonsense\n:quit\nnever asked\n"
    run = rag("ask", "--index", str(index), home=tmp_path, stdin=script)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.count("Answer: three") == 1  # the second answer comes as JSON
    assert "[1] Putin Expresses Openness" in out and "chars " in out  # :sources
    assert "JSON output on." in out
    assert '"answer": "three"' in out
    assert "Unknown command :nonsense" in out
    assert "never asked" not in out


def test_the_prompt_ends_at_end_of_input(index: Path, tmp_path: Path) -> None:
    run = rag("ask", "--index", str(index), home=tmp_path, stdin="")
    assert run.returncode == 0 and ":quit" in run.stdout


def test_the_prompt_keeps_a_history_on_a_terminal(index: Path, tmp_path: Path) -> None:
    """On a real terminal (a pty) the questions asked land in ~/.rag_history for next time."""
    out = run_on_a_terminal(
        [sys.executable, "-m", "rag.cli", "ask", "--index", str(index)],
        [ODESSA, ":quit"],
        rag_env(tmp_path),
        tmp_path,
    )
    assert "Answer: three" in out
    history = (tmp_path / ".rag_history").read_text(encoding="utf-8")
    assert ODESSA in history.splitlines()


def run_on_a_terminal(command: list[str], lines: list[str], env: dict[str, str], cwd: Path) -> str:
    """Type `lines` into `command` on a pseudo-terminal, each after the prompt appears."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(command, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd)
    os.close(slave)
    seen = b""
    try:
        for line in lines:
            seen = read_until(master, seen, b"? ")
            os.write(master, line.encode() + b"\r")
            seen += b"\0"  # the next prompt must come after this point
        proc.wait(timeout=TIMEOUT_S)
        seen = read_until(master, seen, None)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert proc.returncode == 0, seen[-2000:]
    return seen.decode(errors="replace")


def read_until(fd: int, seen: bytes, marker: bytes | None) -> bytes:
    deadline = time.monotonic() + TIMEOUT_S
    start = seen.rfind(b"\0") + 1
    while time.monotonic() < deadline:
        if marker is not None and marker in seen[start:]:
            return seen
        ready, _, _ = select.select([fd], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the other end closed
            return seen
        if not chunk:
            return seen
        seen += chunk
    raise AssertionError(f"no {marker!r} on the terminal; it shows:\n{seen[-2000:]!r}")


# ----- rag ask --server -----------------------------------------------------------------------
def test_ask_a_running_server_instead_of_loading_the_model(
    fake_server: Any, index: Path, tmp_path: Path
) -> None:
    missing = str(tmp_path / "no-index-here")  # the answer cannot come from this process
    remote = rag(
        "ask", ODESSA, "--json", "--server", fake_server.base_url, "--index", missing, home=tmp_path
    )
    assert remote.returncode == 0, remote.stderr
    doc = json.loads(remote.stdout)
    assert doc["answer"] == "three" and doc["citations"][0]["quote"] in doc["sentence"]
    assert not Path(missing).exists()
    text = rag("ask", ODESSA, home=tmp_path, env={"RAG_SERVER_URL": fake_server.base_url})
    assert text.returncode == 0 and "Answer: three" in text.stdout


def test_a_stream_and_filters_go_to_the_server(fake_server: Any, tmp_path: Path) -> None:
    env = {"RAG_SERVER_URL": fake_server.base_url}
    run = rag("ask", "-", "--source", "No Such Wire", home=tmp_path, env=env, stdin=ODESSA + "\n")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["abstained"] is True  # nothing from that source
    run = rag("ask", "-", "-k", "2", home=tmp_path, env=env, stdin=ODESSA + "\n")
    assert len(json.loads(run.stdout)["passages"]) == 2


def test_the_servers_refusal_is_one_line(fake_server: Any, tmp_path: Path) -> None:
    run = rag("ask", "   ", "--server", fake_server.base_url, home=tmp_path)
    assert run.returncode == 1
    assert run.stderr.strip().startswith("rag: the server answered 422: the question is empty")
    assert len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("server", "needle"),
    [("http://127.0.0.1:9", "could not reach the server"), ("ftp://x", "must start with http")],
)
def test_no_server_there_is_one_line(tmp_path: Path, server: str, needle: str) -> None:
    run = rag("ask", ODESSA, "--server", server, home=tmp_path)
    assert run.returncode == 1 and needle in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


# ----- the pieces, without processes ----------------------------------------------------------
ANSWER = {
    "question": "q",
    "answer": "a truce",
    "answer_type": "description",
    "normalized": 0.3,
    "confidence": 0.5,
    "abstained": False,
    "attribution": None,
    "sentence": "They agreed a truce.",
    "message": None,
    "citations": [],
    "passages": [],
}


def test_a_value_is_printed_only_for_numbers_and_dates() -> None:
    assert "Value:" not in render_answer(ANSWER)
    count = {**ANSWER, "answer": "three", "answer_type": "count", "normalized": 3}
    assert "Value: 3" in render_answer(count)


def test_the_stream_and_the_prompt_on_a_fake_asker(tmp_path: Path) -> None:
    def ask(question: str) -> dict[str, Any]:
        if question == "bad":
            raise RagError("a bad question")
        return {**ANSWER, "question": question}

    out = tmp_path / "out.txt"
    with out.open("w") as sink:
        assert ask_stream(ask, ["one\n", "bad\n", "\n"], sink) == 1
    assert [json.loads(line).get("error") for line in out.read_text().splitlines()] == [
        None,
        "a bad question",
    ]
    with out.open("w") as sink:
        prompt = Prompt(ask, json_output=False, out=sink)
        assert prompt.handle(":sources") and prompt.handle("bad") and prompt.handle("good")
        assert prompt.handle(":json") and not prompt.handle(":quit")
    shown = out.read_text()
    assert "Ask a question first." in shown and "rag: a bad question" in shown
    assert "Answer: a truce" in shown and "JSON output on." in shown


def test_other_reports_are_labelled_earlier_or_later_than_the_chosen_one() -> None:
    from rag.ask_cli import report_lines

    def report(answer: str, doc: str, day: str) -> dict[str, Any]:
        cite = {"doc_id": doc, "answer_start": 10}
        return {"answer": answer, "citations": [cite], "published_at": day, "source": doc}

    reports = [report("Monday", "b", "2026-06-14"), report("late on Friday", "a", "2026-06-15")]
    reports.append(report("Wednesday", "c", "2026-06-18"))
    doc = {
        "agreement": "updated",
        "as_of": "2026-06-15",
        "citations": reports[1]["citations"],
        "reports": reports,
    }
    assert report_lines(doc)[1:] == [
        "  later: Wednesday, c, 2026-06-18",
        "  earlier: Monday, b, 2026-06-14",
    ]
    # a figure given on the 18th about the 14th's event: both days, the figure's first
    reports[2] = {**reports[2], "event_date": "2026-06-14"}
    assert report_lines(doc)[1] == "  later: Wednesday, c, 2026-06-18 (event 2026-06-14)"
