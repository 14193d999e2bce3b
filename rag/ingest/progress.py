"""A one-line progress display for long ingests: on a terminal only, silent otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO

REDRAW_S = 0.2  # at most five redraws a second


def clock(seconds: float) -> str:
    """Seconds as H:MM:SS or M:SS.

    >>> clock(75), clock(3725)
    ('1:15', '1:02:05')
    """
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class Progress:
    """Files read, articles found, then chunks embedded with their rate and the time left."""

    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.files_total = self.files = self.articles = 0
        self._drawn = 0.0
        self._width = 0
        self._embed_start: float | None = None

    def reading(self, files: int, files_total: int, articles: int) -> None:
        self.files, self.files_total, self.articles = files, files_total, articles
        self._draw(
            f"reading {files:,}/{files_total:,} files, {articles:,} articles", files == files_total
        )

    def embedding(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self._embed_start is None:
            self._embed_start = now
        elapsed = now - self._embed_start
        rate = done / elapsed if elapsed > 0 and done else 0.0
        eta = clock((total - done) / rate) if rate else "?"
        head = f"{self.files:,} files, {self.articles:,} articles; " if self.files_total else ""
        self._draw(
            f"{head}embedding {done:,}/{total:,} chunks, {rate:,.0f} chunks/s, ETA {eta}",
            done == total,
        )

    def close(self) -> None:
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def _draw(self, line: str, force: bool) -> None:
        now = time.monotonic()
        if not self.enabled or (not force and now - self._drawn < REDRAW_S):
            return
        self._drawn = now
        self.stream.write("\r" + line.ljust(self._width))
        self.stream.flush()
        self._width = len(line)
