"""What the reader reads at answer time: short windows of an article around its best sentences.

A window is the chosen sentence widened by its neighbours (after, then before, in turn) while it
stays under a character budget (~900 characters is about 200 tokens, within one 256-token reader
window with the question). Windows keep article offsets, so a span maps back exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WINDOW_CHARS = 900


@dataclass(frozen=True)
class Window:
    start: int  # characters of the article
    end: int
    text: str  # article_text[start:end]
    anchor: int  # index of the sentence the window was built around

    def to_article(self, span_start: int, span_end: int) -> tuple[int, int]:
        """A span of this window's text as characters of the article."""
        return self.start + span_start, self.start + span_end


def window_around(
    article_text: str,
    sentences: Sequence[tuple[int, int]],
    index: int,
    max_chars: int = WINDOW_CHARS,
) -> Window:
    """Sentence `index` and as many neighbours as fit in `max_chars` (the sentence always fits).

    >>> text = "One. Two is here. Three."
    >>> window_around(text, [(0, 4), (5, 17), (18, 24)], 1, max_chars=19).text
    'Two is here. Three.'
    >>> window_around(text, [(0, 4), (5, 17), (18, 24)], 1, max_chars=100).text
    'One. Two is here. Three.'
    """
    lo = hi = index
    start, end = sentences[index]
    grew = True
    while grew:
        grew = False
        if hi + 1 < len(sentences) and sentences[hi + 1][1] - start <= max_chars:
            hi += 1
            end = sentences[hi][1]
            grew = True
        if lo > 0 and end - sentences[lo - 1][0] <= max_chars:
            lo -= 1
            start = sentences[lo][0]
            grew = True
    return Window(start, end, article_text[start:end], index)


def sentence_span(sentences: Sequence[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """Article characters of the sentence(s) that hold the span `start:end` (for the quote).

    >>> sentence_span([(0, 4), (5, 17), (18, 24)], 8, 10)
    (5, 17)
    >>> sentence_span([(0, 4), (5, 17), (18, 24)], 2, 7)
    (0, 17)
    """
    covering = [(a, b) for a, b in sentences if a < end and b > start]
    if not covering:
        return start, end
    return covering[0][0], covering[-1][1]
