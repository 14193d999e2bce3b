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
