"""The sketch: log-scaled histogram buckets, their values, percentiles from them.

A value v (a response time in ms, a response size in bytes) goes to bucket
`ceil(ln(v) / ln(GAMMA))`, i.e. (GAMMA^(i-1), GAMMA^i], whose representative
2·GAMMA^i/(GAMMA+1) is within ACCURACY (relative) of every value in the bucket
(DDSketch's mapping).
Histograms of any periods merge by adding counts. `percentile` follows
`percentile_cont` over a merged histogram: the two order statistics it
interpolates between are replaced by their buckets' representatives (clamped
to the exact min and max), so the result is within ACCURACY of the exact value
as well (a convex combination of values each within ACCURACY).

Rows are kept at two levels, LEVELS: days and weeks (weeks start on Thursdays
00:00 UTC, epoch-aligned). `plan` covers a time range with whole weeks, whole
days, and raw rows at its two ends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: Relative accuracy of a bucket's representative value.
ACCURACY = 0.005
GAMMA = (1 + ACCURACY) / (1 - ACCURACY)
#: 1 / ln(GAMMA), written out so SQL and Python use the same constant.
INV_LOG_GAMMA = 1.0 / math.log(GAMMA)
#: Bucket of zero (and negative) response times; its value is 0.
ZERO_BUCKET = -100_000
#: Rollup levels, coarsest first: name -> period width in seconds.
LEVELS: dict[str, int] = {"week": 604_800, "day": 86_400}
WEEK, DAY = LEVELS["week"], LEVELS["day"]
#: The width of the rows that hold everything before `weeks_to` (every week that is over),
#: so that a range from the beginning reads a few rows per key instead of every week's.
ALL = 0

#: A segment of a time range: (start, end, width); width None means raw rows.
Segment = tuple[float | None, float | None, int | None]


def bucket_index(value: float) -> int:
    """The histogram bucket of a response time in ms."""
    if value <= 0:
        return ZERO_BUCKET
    return math.ceil(math.log(value) * INV_LOG_GAMMA)


def bucket_value(index: int) -> float:
    """The representative value of a bucket: within ACCURACY of every value in it."""
    if index == ZERO_BUCKET:
        return 0.0
    return 2.0 * GAMMA**index / (GAMMA + 1.0)


def bucket_sql(column: str) -> str:
    """`bucket_index` as an SQL expression (the same on both backends)."""
    return (
        f"(CASE WHEN {column} > 0 THEN CAST(ceil(ln({column}) * {INV_LOG_GAMMA!r}) AS INTEGER)"
        f" ELSE {ZERO_BUCKET} END)"
    )


def week_start(epoch: float) -> int:
    """The start (epoch second) of the week holding `epoch`."""
    return int(epoch // WEEK) * WEEK


def percentile(
    histogram: Sequence[tuple[int, int]], fraction: float, lo: float, hi: float
) -> float:
    """`percentile_cont(fraction)` estimated from sorted (bucket, count) pairs.

    `lo` and `hi` are the exact minimum and maximum; representatives are clamped to them.
    """
    total = sum(n for _, n in histogram)
    position = fraction * (total - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    lower_value = upper_value = None
    seen = 0
    for index, n in histogram:
        seen += n
        if lower_value is None and seen > lower:
            lower_value = min(max(bucket_value(index), lo), hi)
        if seen > upper:
            upper_value = min(max(bucket_value(index), lo), hi)
            break
    assert lower_value is not None and upper_value is not None
    return lower_value + (upper_value - lower_value) * (position - lower)


def plan(
    lo: float | None,
    hi: float | None,
    widths: Sequence[int],
    *,
    coarsest_until: float | None = None,
) -> list[Segment]:
    """Cover [lo, hi) (epoch seconds, None = unbounded) with whole periods, coarsest first.

    Returns (start, end, width) segments; width None means raw rows. With
    `coarsest_until` (a boundary of every width), the coarsest level covers only
    periods before it (the weeks that are over): finer levels cover the rest; and
    a range from the beginning takes everything before it at once (width ALL).
    """
    if coarsest_until is not None and len(widths) > 1:
        split = coarsest_until
        if lo is None and (hi is None or hi >= split) and split > 0:
            return [(None, split, ALL), *plan(split, hi, widths[1:])]
        before = plan(lo, split if hi is None else min(hi, split), widths)
        return before + plan(split if lo is None else max(lo, split), hi, widths[1:])
    if lo is not None and hi is not None and lo >= hi:
        return []
    if not widths:
        return [(lo, hi, None)]
    width, finer = widths[0], widths[1:]
    first = None if lo is None else -(-lo // width) * width
    last = None if hi is None else (hi // width) * width
    if first is not None and last is not None and first >= last:
        return plan(lo, hi, finer)
    segments: list[Segment] = []
    if lo is not None and first is not None:
        segments.extend(plan(lo, first, finer))
    segments.append((first, last, width))
    if hi is not None and last is not None:
        segments.extend(plan(last, hi, finer))
    return segments
