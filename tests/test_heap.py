"""Freed heap memory goes back to the OS after a merge (rag/heap.py)."""

from __future__ import annotations

import sys

import pytest

from rag.heap import release_free_memory


def anon_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no RssAnon in /proc/self/status")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc: Linux")
def test_freed_memory_held_in_holes_of_the_heap_is_returned():
    """Every other 64 KB block freed: glibc cannot shrink the heap past the blocks still alive
    and keeps the holes (what a server's writes and merges leave), until trimmed."""
    blocks = [bytearray(64 * 1024) for _ in range(3_000)]  # ~190 MB on the heap, touched
    kept = blocks[::2]
    del blocks
    held = anon_mb()
    assert release_free_memory()
    returned = held - anon_mb()
    assert returned > 60, f"only {returned:.0f} MB of ~95 MB of holes returned"
    assert len(kept) == 1_500


ARENA_PROBE = """
import sys, threading
from rag.heap import _libc, limit_arenas
print(limit_arenas(int(sys.argv[1])))
go = threading.Event()
def work():
    kept = [bytearray(1000) for _ in range(20_000)]  # small blocks: the thread's own arena
    go.wait()
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
import time
time.sleep(0.5)
_libc().malloc_stats()  # one 'Arena N:' block per arena, on stderr
go.set()
for t in threads:
    t.join()
"""


def arenas_after_eight_threads(limit: int, env: dict[str, str] | None = None) -> tuple[str, int]:
    import os
    import subprocess

    run = subprocess.run(
        [sys.executable, "-c", ARENA_PROBE, str(limit)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=True,
    )
    arenas = sum(line.startswith("Arena ") for line in run.stderr.splitlines())
    return run.stdout.strip(), arenas


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc: Linux")
def test_threads_share_the_arenas_the_limit_allows():
    assert arenas_after_eight_threads(2) == ("True", 2)
    assert arenas_after_eight_threads(1) == ("True", 1)
    kept, arenas = arenas_after_eight_threads(0)  # glibc's default: a thread gets its own
    assert kept == "False" and arenas > 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc: Linux")
def test_malloc_arena_max_in_the_environment_wins():
    kept, arenas = arenas_after_eight_threads(1, {"MALLOC_ARENA_MAX": "3"})
    assert kept == "False" and arenas == 3


def test_collection_is_paused_inside_and_restored_as_it_was():
    import gc

    from rag.heap import collection_paused

    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()  # it was off before: left off
    finally:
        gc.enable()
