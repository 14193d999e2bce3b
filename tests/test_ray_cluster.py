"""A real Ray cluster on this machine (two nodes, fractional CPUs) over a real PostgreSQL.

Ingestion through Ray Data (and resuming it), a SIGKILLed ingest that leaves whole articles
only, and questions through two Ray Serve replicas while one of them is killed, then while a
whole worker node (raylet and its workers) is killed. The smallest honest versions (fake
embedder, a few hundred articles), so CI can afford them: one cluster for the module.
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
    with pytest.MonkeyPatch.context() as env:
        # The nodes' processes inherit this: Serve's proxy gets 30 s, not 5, to say it is
        # ready, which a loaded 2-core machine needs (it was killed there as unhealthy).
        env.setenv("RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S", "30")
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
    values: dict[str, Any] = {
        "store": "postgres",
        "database_url": SecretStr(url),
        "embedding_model": FAKE_MODEL,
        "seeds_dir": PROJECT_ROOT / "seeds",
        "fold_copies": False,  # the generated reports share most of their words
    }
    return Settings(**{**values, **more})


def article_count(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])


def replica_nodes() -> dict[str, str]:
    """Alive Serve replicas: actor name -> the id of the node hosting it."""
    from ray.util.state import list_actors

    return {
        a.name: a.node_id
        for a in list_actors(filters=[("state", "=", "ALIVE")])
        if a.class_name.startswith("ServeReplica")
    }


class AskLoad:
    """Threads asking ODESSA through the Serve proxy until stopped: every reply's status
    (0 for a transport error or a timeout) and the slowest reply's seconds."""

    def __init__(self, base: str, clients: int, timeout_s: float = 60) -> None:
        self.base, self.timeout_s = base, timeout_s
        self.statuses: list[int] = []
        self.bad_bodies: list[str] = []
        self.slowest_s = 0.0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._ask) for _ in range(clients)]

    def start(self) -> AskLoad:
        for t in self._threads:
            t.start()
        return self

    def _ask(self) -> None:
        with httpx.Client(base_url=self.base, timeout=self.timeout_s) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    r = client.post("/ask", json={"question": ODESSA})
                    self.statuses.append(r.status_code)
                    if not _clean_reply(r):
                        self.bad_bodies.append(f"{r.status_code} {r.text[:200]}")
                except httpx.TransportError:
                    self.statuses.append(0)
                self.slowest_s = max(self.slowest_s, time.monotonic() - started)

    def stop(self) -> list[int]:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=self.timeout_s + 10)
        assert not any(t.is_alive() for t in self._threads), "a client hung"
        return self.statuses


def _clean_reply(r: httpx.Response) -> bool:
    """200 with the right answer, or a 5xx (Serve's own replies to a lost replica are text)."""
    if r.status_code == 200:
        return bool(r.json()["answer"] == "three")
    return 500 <= r.status_code < 600


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
            load = AskLoad(base, clients=3).start()
            time.sleep(2)
            victims = sorted(replica_nodes())
            assert len(victims) == 2
            ray.kill(ray.get_actor(victims[0], namespace="serve"), no_restart=False)
            time.sleep(8)
            statuses = load.stop()
            assert not load.bad_bodies, load.bad_bodies
            assert statuses and statuses.count(200) >= len(statuses) - 6, statuses
            assert set(statuses) <= {200, 500, 502, 503}  # retried, or a clean failure
            after = [http.post("/ask", json={"question": ODESSA}) for _ in range(4)]
            assert [r.status_code for r in after] == [200] * 4
            assert http.get("/readyz").json()["articles"] == 2  # no article lost
    finally:
        serve.shutdown()


def test_serve_survives_a_killed_worker_node(cluster, database_url: str) -> None:
    """A third node joins; two replicas that cannot share a node (0.6 CPU of 1) run on the
    cluster; a worker node hosting one is killed (raylet and workers, no grace) during a load
    of questions and writes. Every reply is a 200 or a 5xx, none hangs, Serve brings the
    replica back on the nodes left, and every write acknowledged is in PostgreSQL. The
    cluster is left as it came: the head and one worker."""
    from ray import serve

    from rag.cluster.serve import APP_NAME, build_app
    from rag.pg.local import free_port

    spare = cluster.add_node(num_cpus=1, object_store_memory=80 * 2**20)
    port = free_port()
    serve.start(proxy_location="HeadOnly", http_options={"host": "127.0.0.1", "port": port})
    try:
        serve.run(
            build_app(pg_settings(database_url, api_token=TOKEN), 2, 0.6),
            name=APP_NAME,
            route_prefix="/",
        )
        base = f"http://127.0.0.1:{port}"
        placed = replica_nodes()
        assert len(set(placed.values())) == 2, placed  # one replica per node
        victim = [n for n in cluster.worker_nodes if n.node_id in placed.values()][0]
        before = article_count(database_url)
        acked: list[str] = []
        load = AskLoad(base, clients=2, timeout_s=45).start()
        with httpx.Client(base_url=base, timeout=45) as http:
            auth = {"Authorization": f"Bearer {TOKEN}"}

            def write(i: int) -> None:
                r = http.post(
                    "/documents", json={"id": f"n{i}", "text": f"{i} drones."}, headers=auth
                )
                assert r.status_code == 201 or 500 <= r.status_code < 600, r.text
                if r.status_code == 201:
                    acked.append(f"n{i}")

            for i in range(3):
                write(i)
            time.sleep(1)
            killed = time.monotonic()
            cluster.remove_node(victim, allow_graceful=False)
            for i in range(3, 9):
                write(i)
                time.sleep(0.5)
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                nodes = replica_nodes()
                if len(nodes) == 2 and victim.node_id not in nodes.values():
                    break
                time.sleep(1)
            recovered_s = time.monotonic() - killed
            time.sleep(2)
            statuses = load.stop()
            assert victim.node_id not in replica_nodes().values()
            assert len(replica_nodes()) == 2, f"not recovered {recovered_s:.0f} s after the kill"
            assert not load.bad_bodies, load.bad_bodies
            assert 0 not in statuses and load.slowest_s < 45, (statuses, load.slowest_s)
            assert statuses.count(200) >= len(statuses) // 2, statuses
            after = [http.post("/ask", json={"question": ODESSA}) for _ in range(4)]
            assert [r.status_code for r in after] == [200] * 4
            assert http.get("/readyz").status_code == 200
        stored = {k for k in stored_chunks(database_url) if k.startswith("n")}
        assert set(acked) <= stored  # an acknowledged write is never lost
        assert article_count(database_url) == before + len(stored)
        print(
            f"node kill: {len(statuses)} asks, {statuses.count(200)} 200, "
            f"others {sorted(set(statuses) - {200})}, slowest {load.slowest_s:.1f} s, "
            f"{len(acked)}/9 writes acknowledged, replicas back {recovered_s:.0f} s after"
        )
    finally:
        serve.shutdown()
        if len(list(cluster.worker_nodes)) > 1:  # no node was killed: the spare goes
            cluster.remove_node(spare)


def test_ray_ingest_folds_wire_copies_into_stored_articles(
    cluster, database_url: str, tmp_path: Path
) -> None:
    """Ray's writers fold as `rag ingest` does: copies from other outlets, in a later run,
    become `also_published` entries of the stored story (found by its LSH band keys)."""
    from test_folding import KHARKIV, ODESA, copy_of, wire

    from rag.cluster.ingest import ingest_on_ray
    from rag.pipeline import open_pipeline

    settings = pg_settings(database_url, fold_copies=True)

    def ingest(name: str, items: list[Article]) -> Any:
        folder = tmp_path / name
        folder.mkdir(parents=True)
        lines = [
            json.dumps({k: getattr(a, k) for k in ("id", "title", "text", "source", "url")})
            for a in items
        ]
        (folder / "wire.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        return ingest_on_ray(settings, [folder], cluster.address, workers=2, cpus_per_worker=0.5)

    first = ingest("one", [wire("reuters", ODESA["a"], "Reuters"), wire("ap", KHARKIV["a"], "AP")])
    assert (first.written, first.folded) == (2, 0)
    second = ingest(
        "two",
        [
            wire("kyivpost", copy_of(ODESA["a"]), "Kyiv Post"),
            wire("ukrinform", copy_of(KHARKIV["a"]), "Ukrinform"),
        ],
    )
    assert (second.written, second.folded) == (0, 2)
    pipeline = open_pipeline(settings)
    assert [c.id for c in pipeline.article("reuters").also_published] == ["kyivpost"]
    assert [c.id for c in pipeline.article("ap").also_published] == ["ukrinform"]
    assert article_count(database_url) == 2
