"""A real Ray cluster on this machine (two nodes, fractional CPUs) over a real PostgreSQL.

Ingestion through Ray Data (and resuming it), a SIGKILLed ingest that leaves whole articles
only, and questions through two Ray Serve replicas while one of them is killed. The smallest
honest versions (fake embedder, a few hundred articles), so CI can afford them: one cluster for
the module, about a minute here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from rag.chunking import chunk_article, make_splitter
from rag.documents import Article
from rag.settings import PROJECT_ROOT, Settings

pytest_plugins = ["pg_fixtures"]
pytestmark = pytest.mark.slow

FAKE_MODEL = "hashing:64"
ODESSA = "how many were wounded in Odessa?"
TOKEN = "ray-token-0123456789"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    from pg_fixtures import require

    require("ray")
    from ray.cluster_utils import Cluster

    mib = 2**20
    cluster = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": 80 * mib},
    )
    cluster.add_node(num_cpus=1, object_store_memory=80 * mib)
    import ray

    ray.init(address=cluster.address, logging_level="ERROR", log_to_driver=False)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


def articles(n: int, prefix: str) -> list[Article]:
    return [
        Article(
            f"{prefix}-{i}",
            f"Convoy report {i}",
            f"Report {prefix} {i}: "
            + " ".join(f"{i + j} drones were shot down over town {j}." for j in range(50)),
        )
        for i in range(n)
    ]


def write_jsonl(folder: Path, items: list[Article], per_file: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, len(items), per_file):
        with (folder / f"part-{start:05d}.jsonl").open("w", encoding="utf-8") as fh:
            for a in items[start : start + per_file]:
                fh.write(json.dumps({"id": a.id, "title": a.title, "text": a.text}) + "\n")
    return folder


def stored_chunks(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('chunks')").fetchone()[0] is None:
            return {}  # the ingest has not created the schema yet
        rows = conn.execute(
            "SELECT a.id, count(c.id) FROM articles a LEFT JOIN chunks c "
            "ON c.article_id = a.id GROUP BY a.id"
        ).fetchall()
    return dict(rows)


def expected_chunks(items: list[Article], settings: Settings) -> dict[str, int]:
    splitter = make_splitter(settings.chunk_size, settings.chunk_overlap)
    return {a.id: len(chunk_article(a, splitter)) for a in items}


def pg_settings(url: str, **more: Any) -> Settings:
    return Settings(
        store="postgres",
        database_url=SecretStr(url),
        embedding_model=FAKE_MODEL,
        seeds_dir=PROJECT_ROOT / "seeds",
        fold_copies=False,
        **more,
    )


def test_ingest_through_ray_data_and_resume(cluster, database_url: str, tmp_path: Path) -> None:
    from rag.cluster.ingest import ingest_on_ray
    from rag.pipeline import open_pipeline

    items = articles(40, "a")
    folder = write_jsonl(tmp_path / "in", items, per_file=10)
    settings = pg_settings(database_url, pg_write_batch=8)
    first = ingest_on_ray(
        settings, [folder, PROJECT_ROOT / "seeds"], cluster.address, workers=2, cpus_per_worker=0.5
    )
    assert (first.files, first.written, first.unchanged, first.skipped) == (5, 41, 0, [])
    stored = stored_chunks(database_url)
    assert {k: v for k, v in stored.items() if k.startswith("a-")} == expected_chunks(
        items, settings
    )
    assert open_pipeline(settings).ask(ODESSA).answer == "three"
    again = ingest_on_ray(settings, [folder], cluster.address, workers=2, cpus_per_worker=0.5)
    assert (again.written, again.unchanged, again.chunks) == (0, 40, 0)


def test_sigkilled_ingest_leaves_whole_articles(cluster, database_url: str, tmp_path: Path) -> None:
    items = articles(120, "k")
    folder = write_jsonl(tmp_path / "in", items, per_file=20)
    settings = pg_settings(database_url, pg_write_batch=2)
    env = {
        **os.environ,
        "RAG_STORE": "postgres",
        "RAG_DATABASE_URL": database_url,
        "RAG_EMBEDDING_MODEL": FAKE_MODEL,
        "RAG_FOLD_COPIES": "false",
        "RAG_PG_WRITE_BATCH": "2",
    }
    command = [sys.executable, "-m", "rag.cli", "ingest", "--ray", cluster.address]
    command += ["--workers", "2", "--cpus-per-worker", "0.5", "--json", str(folder)]
    proc = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if len(stored_chunks(database_url)) >= 6:
                break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    time.sleep(2)  # an actor's transaction in flight ends, committed or rolled back
    stored = stored_chunks(database_url)
    expected = expected_chunks(items, settings)
    assert 0 < len(stored) < len(items), f"killed after {len(stored)} articles"
    assert {k: expected[k] for k in stored} == stored  # every stored article is whole
    from rag.cluster.ingest import ingest_on_ray

    resumed = ingest_on_ray(settings, [folder], cluster.address, workers=2, cpus_per_worker=0.5)
    assert resumed.unchanged >= len(stored) - 4  # at most the batches in flight came back
    assert resumed.written + resumed.unchanged == len(items)
    assert stored_chunks(database_url) == expected


def test_two_serve_replicas_survive_a_killed_replica(cluster, database_url: str) -> None:
    import ray
    from ray import serve

    from rag.cluster.serve import APP_NAME, build_app
    from rag.pg.local import free_port

    port = free_port()
    settings = pg_settings(database_url, api_token=TOKEN)
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        serve.run(build_app(settings, 2, 0.25), name=APP_NAME, route_prefix="/")
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=60) as http:
            assert http.get("/readyz").json()["articles"] == 1
            replicas = {http.post("/ask", json={"question": ODESSA}).status_code for _ in range(6)}
            assert replicas == {200}
            added = http.post(
                "/documents",
                json={"id": "lviv", "text": "Ten drones were downed over Lviv."},
                headers={"Authorization": f"Bearer {TOKEN}"},
            )
            assert added.status_code == 201
            refused = http.post("/documents", json={"text": "x"})
            assert refused.status_code == 401
            statuses: list[int] = []
            stop = threading.Event()

            def load() -> None:
                with httpx.Client(base_url=base, timeout=60) as client:
                    while not stop.is_set():
                        try:
                            r = client.post("/ask", json={"question": ODESSA})
                            statuses.append(r.status_code)
                            assert r.status_code != 200 or r.json()["answer"] == "three"
                        except httpx.TransportError:
                            statuses.append(0)

            threads = [threading.Thread(target=load) for _ in range(3)]
            for t in threads:
                t.start()
            time.sleep(2)
            from ray.util.state import list_actors

            victims = [
                a
                for a in list_actors(filters=[("state", "=", "ALIVE")])
                if a.class_name.startswith("ServeReplica")
            ]
            assert len(victims) == 2
            ray.kill(ray.get_actor(victims[0].name, namespace="serve"), no_restart=False)
            time.sleep(8)
            stop.set()
            for t in threads:
                t.join(timeout=60)
            assert statuses and statuses.count(200) >= len(statuses) - 6, statuses
            assert set(statuses) <= {200, 500, 502, 503}  # retried, or a clean failure
            after = [http.post("/ask", json={"question": ODESSA}) for _ in range(4)]
            assert [r.status_code for r in after] == [200] * 4
            assert http.get("/readyz").json()["articles"] == 2  # no article lost
    finally:
        serve.shutdown()
