"""Keeping a long-running server's heap to what it holds.

glibc keeps memory a program frees in its arenas for reuse, and a long-running server that
writes and merges segments frees a lot of it in odd sizes: in a soak of writes under queries,
the heap grew by a few tens of MB a minute while the objects alive stayed flat (after 100
one-article writes and their merges: 1,028 MB held, 787 MB after `malloc_trim`). Trimming
after a merge takes a few milliseconds.

glibc also gives threads arenas of their own, up to eight per core, and each keeps its own
free memory: a server's pool of request threads then holds free memory many times over. With
two arenas, a 4-minute soak (8 clients, a write a second, 100k chunks) ended at 893 MB of heap
against 1,038 MB with glibc's 16, at the same query rate.

Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

M_ARENA_MAX = -8  # mallopt's parameter number in glibc's malloc.h


@cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
        return libc if libc is not None and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def release_free_memory() -> bool:
    """Return the heap's free pages to the OS; False where the C library cannot."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True


def limit_arenas(arenas: int) -> bool:
    """At most `arenas` malloc arenas from now on (threads that start later share them);
    False where the C library cannot, for 0 (glibc's default kept), or where MALLOC_ARENA_MAX
    is in the environment (glibc read it at start; it wins)."""
    libc = _libc()
    if libc is None or arenas <= 0 or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))


@contextmanager
def collection_paused() -> Iterator[None]:
    """No cyclic garbage collection inside. Reading a 100k-chunk index makes ~160k objects
    (articles, chunk rows), none of them in a cycle, and the collector would otherwise walk
    them, and all that was imported before, several times while they are made."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
