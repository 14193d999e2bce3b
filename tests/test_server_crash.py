"""Crash safety of the server: SIGKILL a real `rag serve` while it answers POST /documents.

One index lives through every run, as a real deployment's would: each run starts the server on
what the previous kill left (so the index must open), posts a batch (new versions of 100
articles plus 10 new ones), kills the server at a seeded random moment, and then checks that
the index passes `check_index` and holds exactly the articles before the POST or after it.
Kill times: half uniformly over a whole POST, half inside the commit (from the moment the new
segment folder appears), where a half-written segment is on disk. A POST answered before
the kill must have been kept.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from test_crash import (
    article,
    fake_store,
    ingest_cmd,
    phase_at_kill,
    rag_env,
    state_of,
    watch_commit,
    write_jsonl,
    written_folders,
)
from test_reliability_http import SERVER_TOKEN, Server, fake_model_env, launch, serving, stop

from rag.documents import article_from_record

pytestmark = pytest.mark.slow  # SIGKILLs a real server mid-write, ~55 s

SEED = int(os.environ.get("RAG_CRASH_SEED", "6"))
RUNS = int(os.environ.get("RAG_SERVER_CRASH_RUNS", "20"))
BASE_ARTICLES, REWRITTEN, NEW_PER_RUN = 40, 100, 10
POLL_S = 0.001
POST_TIMEOUT_S = 120
SERVER_SETTINGS = {"RAG_MAX_BATCH": "500"}  # one POST holds the whole batch


def batch_for(run: int) -> list[dict[str, str]]:
    """New versions of the same 100 articles, and 10 articles never seen before."""
    records = [article(f"w{i:03d}", i, version=run + 2) for i in range(REWRITTEN)]
    return records + [article(f"n{run:02d}-{i}", 500 + i) for i in range(NEW_PER_RUN)]


def expected_after(old: dict[str, str], records: list[dict[str, str]]) -> dict[str, str]:
    new = dict(old)
    for record in records:
        parsed = article_from_record(record, "test")
        new[parsed.id] = parsed.content_hash
    return new


class Post:
    """POST /documents in a thread; `.status` is the answer's code, or None if there was none."""

    def __init__(self, server: Server, records: list[dict[str, str]]) -> None:
        self.status: int | None = None
        self.error: str | None = None
        self.thread = threading.Thread(target=self._send, args=(server, records))
        self.started = time.monotonic()
        self.thread.start()

    def _send(self, server: Server, records: list[dict[str, str]]) -> None:
        headers = {"Authorization": f"Bearer {SERVER_TOKEN}"}
        try:
            with server.client(timeout=POST_TIMEOUT_S) as http:
                self.status = http.post("/documents", json=records, headers=headers).status_code
        except httpx.TransportError as exc:  # the server died under the request
            self.error = type(exc).__name__
        except Exception as exc:  # a bug in the test: make it fail, not pass as a kill
            self.status, self.error = -1, repr(exc)

    def done(self) -> bool:
        return not self.thread.is_alive()

    def join(self) -> None:
        self.thread.join(timeout=POST_TIMEOUT_S)


def wait_for_commit(index: Path, before: set[str], post: Post) -> None:
    """Until a new segment or snapshot folder appears (or the POST is over)."""
    deadline = time.monotonic() + POST_TIMEOUT_S
    while not written_folders(index) - before and not post.done():
        assert time.monotonic() < deadline, "the POST never started its commit"
        time.sleep(POLL_S)


def calibrate(server: Server, index: Path) -> tuple[float, float]:
    """One whole POST: (seconds to its answer, seconds from the new folder to the rename)."""
    post = Post(server, batch_for(-1))
    appeared, renamed, end = watch_commit(index, lambda: not post.done())
    assert post.status == 201, post.error
    return end - post.started, max((renamed or end) - (appeared or post.started), 0.01)


@pytest.fixture
def index(tmp_path: Path) -> Path:
    base = [article(f"w{i:03d}", i) for i in range(REWRITTEN)]
    base += [article(f"a{i:03d}", i) for i in range(BASE_ARTICLES)]
    source = write_jsonl(tmp_path / "base.jsonl", base)
    done = subprocess.run(
        ingest_cmd(source, tmp_path / "index"), env=rag_env(), capture_output=True
    )
    assert done.returncode == 0, done.stderr
    return tmp_path / "index"


def test_sigkill_during_post_documents_keeps_the_old_or_the_new_state(
    index: Path, tmp_path: Path
) -> None:
    env = fake_model_env(**SERVER_SETTINGS)
    log_path = tmp_path / "server.log"
    server = launch(index, log_path, env)
    try:
        duration, commit = calibrate(server, index)
    finally:
        stop(server.proc)
    rng = random.Random(SEED)
    outcomes: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    for run in range(RUNS):
        old = state_of(fake_store(index))
        records = batch_for(run)
        new = expected_after(old, records)
        server = launch(index, log_path, env)  # opens whatever the last kill left
        before = written_folders(index)
        in_commit = run % 2 == 1
        delay = rng.uniform(0, commit * 1.3 if in_commit else duration * 1.1)
        post = Post(server, records)
        if in_commit:
            wait_for_commit(index, before, post)
        time.sleep(delay)
        server.proc.send_signal(signal.SIGKILL)
        code = server.proc.wait(timeout=POST_TIMEOUT_S)
        post.join()
        assert code == -signal.SIGKILL, f"run {run}: the server exited {code} before the kill"
        phase = "answered before the kill" if post.status else phase_at_kill(index, before)
        phases[phase] += 1

        state = state_of(fake_store(index))
        context = f"run {run} (seed {SEED}, killed {phase} after {delay:.3f}s)"
        assert post.status in (None, 201), f"{context}: POST answered {post.status}"
        assert state == new if post.status else state in (old, new), (
            f"{context}: {len(state)} articles, neither the {len(old)} before "
            f"nor the {len(new)} after the POST"
        )
        outcomes["new" if state == new else "old"] += 1

    final = state_of(fake_store(index))
    with serving(tmp_path, **SERVER_SETTINGS) as survivor, survivor.client() as http:
        assert http.get("/readyz").json()["articles"] == len(final)  # serves what is on disk
    print(
        f"\nserver crash runs: {RUNS} (seed {SEED}); POST {duration:.2f}s, commit {commit:.3f}s; "
        f"outcomes {dict(outcomes)}; killed at {dict(phases)}"
    )
    killed_in_commit = RUNS - phases["before the segment folder"]
    killed_in_commit -= phases["answered before the kill"]
    assert phases["before the segment folder"] >= 1 and killed_in_commit >= 1, dict(phases)
