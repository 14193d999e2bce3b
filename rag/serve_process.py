"""A real `rag serve` in a child process on a free 127.0.0.1 port, for tests, bench and eval.

`start` returns once /readyz answers 200 and the server is a context manager that stops it
(terminate, then kill) whatever happens; `spawn`, `wait_ready` and `stop` are its steps.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

from rag.bench import common
from rag.settings import PROJECT_ROOT

HOST = "127.0.0.1"
START_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 15.0
CLIENT_TIMEOUT_S = 60.0
POLL_S = 0.05
ATTEMPTS = 3  # another process may take the free port before the server binds it
PORT_TAKEN = "address already in use"
TAIL_CHARS = 3000
BASE_ENV = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}


class ServerNotReady(RuntimeError):
    """`rag serve` exited, or was not ready in time; the message ends with its log."""


@dataclass
class ServeProcess:
    proc: subprocess.Popen[bytes]
    port: int
    index_dir: Path
    log_path: Path
    env: dict[str, str]  # the server's whole environment
    ready_s: float  # from its start to the first 200 from /readyz

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def rss_mb(self) -> float:
        return common.rss_mb(self.proc.pid)

    @property
    def anon_mb(self) -> float | None:
        return common.anon_mb(self.proc.pid)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, **{"timeout": CLIENT_TIMEOUT_S, **kwargs})

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, chars: int = TAIL_CHARS) -> str:
        return self.log()[-chars:]

    def stop(self) -> None:
        stop(self.proc)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def serve_env(env: Mapping[str, str] | None = None, *, clean: bool = False) -> dict[str, str]:
    """This process's environment (less its RAG_ settings if `clean`), offline, then `env`."""
    inherited = {k: v for k, v in os.environ.items() if not (clean and k.startswith("RAG_"))}
    return {**inherited, **BASE_ENV, **(env or {})}


def spawn(
    index_dir: Path,
    log_path: Path,
    port: int,
    env: Mapping[str, str],
    args: Sequence[str] = (),
    explicit_host: bool = True,
) -> subprocess.Popen[bytes]:
    """`rag serve --index DIR --port PORT ARGS`, its output appended to `log_path`.

    `explicit_host=False` leaves out `--host 127.0.0.1` (the server's default is loopback too).
    """
    command = [sys.executable, "-m", "rag.cli", "serve", "--port", str(port)]
    command += ["--host", HOST] if explicit_host else []
    command += ["--index", str(index_dir), *args]
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=dict(env), stdout=log, stderr=subprocess.STDOUT
        )


def wait_ready(proc: subprocess.Popen[bytes], base_url: str, timeout_s: float) -> bool:
    """True once /readyz answers 200; False if the process exits first or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base_url}/readyz", timeout=5).status_code == 200:
                return True
        time.sleep(POLL_S)
    return False


def stop(proc: subprocess.Popen[bytes], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Terminate, and kill if it is still there after `timeout_s`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start(
    index_dir: Path,
    log_path: Path,
    *,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    clean_env: bool = False,
    explicit_host: bool = True,
    start_timeout_s: float = START_TIMEOUT_S,
    attempts: int = ATTEMPTS,
) -> ServeProcess:
    """`rag serve` over `index_dir` on a free port, once ready; `with` it to stop it at the end.

    The environment is `serve_env(env, clean=clean_env)`. A port someone else took first means
    another try on another port; any other failure stops the server and raises ServerNotReady.
    """
    child_env = serve_env(env, clean=clean_env)
    for _attempt in range(attempts):
        port = free_port()
        logged = log_path.stat().st_size if log_path.exists() else 0
        started = time.perf_counter()
        proc = spawn(index_dir, log_path, port, child_env, args, explicit_host)
        try:
            ready = wait_ready(proc, f"http://{HOST}:{port}", start_timeout_s)
        except BaseException:
            stop(proc)
            raise
        if ready:
            elapsed = time.perf_counter() - started
            return ServeProcess(proc, port, index_dir, log_path, child_env, elapsed)
        exited = proc.poll() is not None
        stop(proc)
        if not exited or PORT_TAKEN not in _log_since(log_path, logged):
            break
    why = f"exited with status {proc.returncode}" if exited else "was not ready"
    raise ServerNotReady(
        f"`rag serve` {why} after {time.perf_counter() - started:.0f} s; its log ends with:\n"
        + _log_since(log_path, 0)[-TAIL_CHARS:]
    )


def _log_since(log_path: Path, offset: int) -> str:
    with log_path.open("rb") as log:
        log.seek(offset)
        return log.read().decode("utf-8", errors="replace")
