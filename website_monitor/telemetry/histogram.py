"""Timer percentiles from a log-scaled histogram, so a timer series costs bounded memory.

A timer value v (ms) is counted in the bin of the probes' latency sketch
(`website_monitor.rollups.sketch`): `ceil(ln(v) / ln(GAMMA))`, whose
representative value is within ACCURACY (0.5 %) of every value in it; zero
has a bin of its own (timers are never negative). The bins live in one dense
array of 4-byte counts (8-byte once a bin passes 2^32 - 1) covering the
lowest to the highest bin seen, at most MAX_BINS of them: 2048 bins span a
ratio of GAMMA^2048 ≈ 7.8e8 (8.9 decades) between the largest and smallest
value (1 µs to 13 minutes, say). Past that span the lowest bins are folded
into the lowest kept one, so the high percentiles stay within ACCURACY and
only percentiles that fall among the folded values lose it (DDSketch's
collapsing store).

`percentiles` follows `percentile_cont` as `sketch.percentile` does: the two
order statistics it interpolates between are replaced by their bins'
representatives, clamped to the exact minimum and maximum, so each result is
within ACCURACY of the exact one.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate

from website_monitor.rollups.sketch import INV_LOG_GAMMA, ZERO_BUCKET, bucket_value

#: Bins kept per histogram at most.
MAX_BINS = 2048


class TimerHistogram:
    """Counts of timer values per log-scaled bin, with the exact minimum and maximum."""

    __slots__ = ("counts", "high", "low", "offset", "total", "zeros")

    def __init__(self) -> None:
        self.counts = array("I")  # counts[i] is the count of bin offset + i
        self.offset = 0
        self.zeros = 0
        self.total = 0
        self.low = math.inf
        self.high = -math.inf

    def add(self, value: float) -> None:
        self.total += 1
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value
        if value <= 0:
            self.zeros += 1
            return
        slot = math.ceil(math.log(value) * INV_LOG_GAMMA) - self.offset
        counts = self.counts
        if not 0 <= slot < len(counts):
            slot = self._make_room(slot + self.offset)
            counts = self.counts
        try:
            counts[slot] += 1
        except OverflowError:  # more than 2^32 - 1 values in one bin
            self.counts = array("Q", counts)
            self.counts[slot] += 1

    def _make_room(self, index: int) -> int:
        """Extend the array to cover bin `index`, folding the lowest bins past MAX_BINS;
        returns the slot that now counts it."""
        counts = self.counts
        if not counts:
            self.offset = index
            counts.append(0)
            return 0
        low, high = self.offset, self.offset + len(counts) - 1
        if index < low:
            new_low = max(index, high - MAX_BINS + 1)
            counts[0:0] = _zeros(counts.typecode, low - new_low)
            self.offset = new_low
            return max(index, new_low) - new_low  # below the kept range: the lowest bin
        new_low = max(low, index - MAX_BINS + 1)
        if new_low > low:  # the span grows past MAX_BINS: fold the lowest bins
            cut = min(new_low - low, len(counts))
            folded = sum(counts[:cut])
            del counts[:cut]
            if not counts:
                counts.append(0)
            try:
                counts[0] += folded
            except OverflowError:
                self.counts = counts = array("Q", counts)
                counts[0] += folded
            self.offset = new_low
        counts.extend(_zeros(counts.typecode, index - (self.offset + len(counts) - 1)))
        return index - self.offset

    def percentiles(self, fractions: Sequence[float]) -> list[float]:
        """`percentile_cont` of each fraction, within ACCURACY (see the module's docstring)."""
        if not self.total:
            raise ValueError("no values")
        cumulative = list(accumulate(self.counts))
        zeros, offset, low, high = self.zeros, self.offset, self.low, self.high

        def nth(rank: int) -> float:  # the rank-th smallest value (from 0), estimated
            if rank < zeros:
                return min(max(0.0, low), high)
            index = offset + bisect_right(cumulative, rank - zeros)
            return min(max(bucket_value(index), low), high)

        out = []
        for fraction in fractions:
            position = fraction * (self.total - 1)
            lower = math.floor(position)
            lower_value = nth(lower)
            upper_value = nth(math.ceil(position)) if position > lower else lower_value
            out.append(lower_value + (upper_value - lower_value) * (position - lower))
        return out

    def bins(self) -> list[tuple[int, int]]:
        """(bin, count) pairs, lowest first, as `sketch.percentile` takes them."""
        pairs = [(self.offset + i, n) for i, n in enumerate(self.counts) if n]
        return ([(ZERO_BUCKET, self.zeros)] if self.zeros else []) + pairs

    def nbytes(self) -> int:
        """Bytes of the counts array's items (its allocation may be up to 1/16 larger)."""
        return self.counts.itemsize * len(self.counts)


def _zeros(typecode: str, count: int) -> array[int]:
    return array(typecode, bytes(array(typecode).itemsize * count))
