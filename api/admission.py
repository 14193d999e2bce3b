"""How many requests compute at once: questions wait for a slot, writes do not wait.

A crowd of clients split over two cores makes every answer slow and starves the write that
brings the news in. So at most `slots` questions (/ask, /search) compute at once, one per core
by default (RAG_QUERY_CONCURRENCY), and the rest wait their turn in order. A write starts at
once, whatever the questions hold; while it runs, one question fewer starts (never fewer than
one), so the write's embedding gets a core of its own instead of a third of two.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ComputeSlots:
    """Admission of questions and writes.

    >>> slots = ComputeSlots(2)
    >>> with slots.write(), slots.question():
    ...     slots.questions_allowed()
    1
    >>> slots.questions_allowed()
    2
    """

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError(f"slots must be at least 1, not {slots}")
        self.slots = slots
        self._changed = threading.Condition()
        self._questions = 0
        self._writes = 0

    def questions_allowed(self) -> int:
        return max(1, self.slots - self._writes)

    @contextmanager
    def question(self) -> Iterator[None]:
        """Hold a question's slot; waits while the slots are taken."""
        with self._changed:
            self._changed.wait_for(lambda: self._questions < self.questions_allowed())
            self._questions += 1
        try:
            yield
        finally:
            with self._changed:
                self._questions -= 1
                self._changed.notify()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Mark a write as running (it never waits here): one question fewer starts."""
        with self._changed:
            self._writes += 1
        try:
            yield
        finally:
            with self._changed:
                self._writes -= 1
                self._changed.notify_all()
