"""SIGKILL a process that adds segments and merges them, at random moments of either.

After every kill the index passes `check_index` and holds exactly the articles of the base plus
the first j batches, for some j (each write is atomic, and a merge changes no article). Half the
runs are killed while a merge's folder is on disk (`segments/merge.*`), half at a random moment
of the writes. Also: readers in the same process see whole snapshots while merges commit.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from rag.documents import Article
from rag.embedding import HashingEmbedder
from rag.integrity import check_index
from rag.pipeline import Pipeline
from rag.settings import Settings
from tests.test_crash import article, fake_store, rag_env

pytestmark = pytest.mark.slow  # 44 real processes killed: 1-7 min (process start-up dominates)

SEED = int(os.environ.get("RAG_CRASH_SEED", "6"))
RUNS_EACH = int(os.environ.get("RAG_SEGMENT_CRASH_RUNS", "22"))
BATCHES, PER_BATCH = 40, 2
TIMEOUT_S = 60
POLL_S = 0.0005

DRIVER = """
import json, sys
from pathlib import Path
from rag.documents import Article
from rag.pipeline import Pipeline
from rag.settings import Settings
pipeline = Pipeline(Settings(index_dir=Path(sys.argv[1])))
batches = json.loads(Path(sys.argv[2]).read_text())
pipeline.snapshot
print("ready", flush=True)
for batch in batches:
    pipeline.ingest([Article(**a) for a in batch])
    pipeline.wait_merges()
"""


def driver_env() -> dict[str, str]:
    env = rag_env()
    env.update({"RAG_MERGE_FACTOR": "2", "RAG_MERGE_FLOOR_CHUNKS": "8"})
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parent.parent)] + sys.path)
    return env


def articles_of(index: Path) -> dict[str, str]:
    store = fake_store(index)
    problems = check_index(store)
    assert problems == [], [str(p) for p in problems]
    return {k: a.content_hash for k, a in store.load().articles.items()}


def merging(index: Path) -> bool:
    segments = index / "segments"
    return segments.is_dir() and any(p.name.startswith("merge.") for p in segments.iterdir())


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict[str, str]]]:
    root = tmp_path_factory.mktemp("segment-crash")
    index = root / "template"
    base = [article(f"a{i:03d}", i) for i in range(10)]
    Pipeline(
        Settings(index_dir=index, fold_copies=False, merge_factor=0),
        embedder=HashingEmbedder(64),
    ).ingest([Article(**a) for a in base])
    batches = [
        [article(f"b{j:02d}-{i}", 100 + j * PER_BATCH + i) for i in range(PER_BATCH)]
        for j in range(BATCHES)
    ]
    batches[5] = [article("a001", 1, version=2), *batches[5][1:]]  # one replacement
    path = root / "batches.json"
    path.write_text(json.dumps(batches))
    return index, path, base


def test_sigkill_during_segment_writes_and_merges(template, tmp_path: Path):
    index_template, batches_path, base = template
    batches = json.loads(batches_path.read_text())
    base_state = articles_of(index_template)
    # the article set after each prefix of the batches
    states = [dict(base_state)]
    for batch in batches:
        state = dict(states[-1])
        state.update({a["id"]: Article(**a).content_hash for a in batch})
        states.append(state)
    rng = random.Random(SEED)
    phases: Counter[str] = Counter()
    for run in range(2 * RUNS_EACH):
        index = tmp_path / f"run{run:02d}"
        shutil.copytree(index_template, index)
        proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, str(index), str(batches_path)],
            env=driver_env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        if run % 2:  # inside a merge: wait for its folder, then a little
            deadline = time.monotonic() + TIMEOUT_S
            while not merging(index) and proc.poll() is None:
                assert time.monotonic() < deadline, "no merge started"
                time.sleep(POLL_S)
            time.sleep(rng.uniform(0, 0.01))
        else:
            time.sleep(rng.uniform(0, 0.6))
        phase = "merge" if merging(index) else "write"
        proc.send_signal(signal.SIGKILL)
        code = proc.wait(timeout=TIMEOUT_S)
        assert code in (0, -signal.SIGKILL), f"run {run}: driver exited {code}"
        phases[phase if code else "finished"] += 1
        state = articles_of(index)
        assert state in states, f"run {run} (seed {SEED}, {phase}): {len(state)} articles"
        if run < 4:  # the next writer cleans up and goes on
            Pipeline(
                Settings(index_dir=index, fold_copies=False, merge_factor=0),
                embedder=HashingEmbedder(64),
            ).ingest([Article(**article("z", 999))])
            assert not merging(index) and articles_of(index).keys() == state.keys() | {"z"}
        shutil.rmtree(index)
    print(f"\nsegment crash runs (seed {SEED}): killed during {dict(phases)}")
    assert phases["merge"] >= RUNS_EACH * 3 // 4 and phases["write"] >= RUNS_EACH // 2, phases


def test_reads_stay_consistent_while_merges_commit(tmp_path: Path):
    pipeline = Pipeline(
        Settings(
            index_dir=tmp_path / "index", fold_copies=False, merge_factor=2, merge_floor_chunks=8
        ),
        embedder=HashingEmbedder(64),
    )
    pipeline.ingest([Article(**article(f"a{i:03d}", i)) for i in range(6)])
    expected = [p.doc_id for p in pipeline.search("wounded in strike", k=5)]
    errors: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                snapshot = pipeline.snapshot
                passages = pipeline.search("wounded in strike", k=5)
                for p in passages:
                    assert snapshot.articles or p.doc_id
                # the base articles are never touched: their ranking holds through merges
                got = [p.doc_id for p in passages if p.doc_id.startswith("a")]
                assert got[: len(expected)] == expected[: len(got)], got
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(repr(exc))

    readers = [threading.Thread(target=read) for _ in range(3)]
    for r in readers:
        r.start()
    for j in range(30):
        pipeline.ingest([Article(id=f"n{j}", title="Other", text=f"A ferry sailed from port {j}.")])
    pipeline.wait_merges()
    stop.set()
    for r in readers:
        r.join()
    assert errors == []
    assert len(pipeline.snapshot.segments) < 10 and check_index(pipeline.store) == []
