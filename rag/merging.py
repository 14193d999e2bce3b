"""When to merge segments: a tiered policy, as Lucene's, on live chunk counts.

A segment's tier is 0 below `floor` live chunks, then one more for every `factor` times
larger: with floor 1,000 and factor 4, tier 1 holds 1,000-3,999 chunks, tier 2 4,000-15,999,
and so on. When a tier holds `factor` segments they are merged into one (which lands a tier up,
or stays in tier 0 until it reaches `floor`), so an index holds at most `factor - 1` segments
per tier: about (factor - 1) x log_factor(chunks / floor) + 1. A segment that is mostly
tombstones is rewritten alone, so deleted chunks do not linger.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MOSTLY_DELETED = 0.5  # a segment with more than this share of deleted rows is rewritten


def tier(live: int, floor: int, factor: int) -> int:
    """The size tier of a segment of `live` chunks.

    >>> [tier(n, 1000, 4) for n in (15, 999, 1000, 3999, 4000, 100_000)]
    [0, 0, 1, 1, 2, 4]
    """
    if live < floor:
        return 0
    return int(math.floor(math.log(live / floor, factor) + 1e-9)) + 1


def plan_merge(sizes: Sequence[tuple[int, int]], floor: int, factor: int) -> list[int] | None:
    """Positions of the segments to merge next, given (rows, live rows) per segment; None when
    nothing needs merging. The lowest full tier goes first (the cheapest merge).

    >>> plan_merge([(100_000, 100_000), (15, 15), (12, 12), (20, 20), (14, 14)], 1000, 4)
    [1, 2, 3, 4]
    >>> plan_merge([(100_000, 100_000), (15, 15), (12, 12)], 1000, 4) is None
    True
    >>> plan_merge([(100, 100), (40, 10)], 1000, 4)
    [1]
    """
    if factor < 2:
        return None
    tiers: dict[int, list[int]] = {}
    for position, (rows, live) in enumerate(sizes):
        if rows and (rows - live) / rows > MOSTLY_DELETED:
            return [position]
        tiers.setdefault(tier(live, floor, factor), []).append(position)
    for level in sorted(tiers):
        if len(tiers[level]) >= factor:
            return tiers[level][: 2 * factor]
    return None
