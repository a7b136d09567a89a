"""Tumbling time windows keyed by each line's own timestamp, with allowed lateness.

Windows are aligned on multiples of the interval since the epoch: with 10 s,
[16:00:30, 16:00:40), [16:00:40, 16:00:50)… A line belongs to the window its
timestamp falls in, whatever order lines arrive in.

The event clock is the newest line timestamp seen, moved forward by the wall
time elapsed since a line last counted in an open window: so windows still
close when traffic stops, but not while a backlog is being read, however long
that takes (time spent parsing or publishing is not event time). A window
[start, end) closes once the event clock reaches `end + lateness`; a line
arriving later for a closed window is not added to it: it is counted as *late*
in the next summary to close. Windows close in order, each exactly once; empty
windows are summaries with zero hits. When one advance of the clock closes
more than `max_empty_run` windows in a row without traffic (a gap in a file
read from the start), the rest of that run is skipped. At the end of input,
late and incorrect lines not yet reported get a summary of their own if no
window is left to carry them, so every line is in some summary.

An incorrect line (no timestamp of its own) counts in the window of the time
it is given: the time of the line before it in its file (see `Monitor`); in the
next summary to close when that is unknown or its window has closed.

With the wall clock (`clock="wall"`) the timestamp of a line is its arrival
time and there is no lateness.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from website_monitor.logs.formats import LogRecord
from website_monitor.logs.summary import WindowStats, WindowSummary


class Windows:
    """Assigns records to windows and yields summaries as windows close."""

    def __init__(
        self,
        interval: float = 10.0,
        lateness: float = 5.0,
        *,
        max_empty_run: int = 13,
        top: int = 5,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        if lateness < 0:
            raise ValueError("lateness must not be negative")
        self.interval = interval
        self.lateness = lateness
        self.max_empty_run = max(1, max_empty_run)
        self.top = top
        self.open: dict[int, WindowStats] = {}
        #: Index of the next window to close; None until the first line.
        self.next_index: int | None = None
        self.newest = -math.inf
        #: Wall time a line last counted in an open window.
        self.arrival = 0.0
        self._pending_late = 0
        self._pending_bad = 0
        self._cached_index: int | None = None
        self._cached: WindowStats | None = None

    def index_of(self, timestamp: float) -> int:
        return math.floor(timestamp / self.interval)

    def add(self, record: LogRecord, timestamp: float, arrival: float) -> bool:
        """Count `record` at `timestamp`; False if its window has closed (counted as late)."""
        interval = self.interval
        index = math.floor(timestamp / interval)
        if index == self._cached_index:
            stats = self._cached
            assert stats is not None
        else:
            if self.next_index is None:
                self.next_index = index
            elif index < self.next_index:
                self._pending_late += 1
                return False
            stats = self.open.get(index)
            if stats is None:
                stats = self.open[index] = WindowStats()
            self._cached_index = index
            self._cached = stats
        stats.add(record)
        if timestamp > self.newest:
            self.newest = timestamp
        self.arrival = arrival
        return True

    def add_bad(self, timestamp: float | None = None) -> None:
        """An incorrect line, counted in the window of `timestamp`; in the next summary to
        close if it is None or that window has closed."""
        if timestamp is None or self.next_index is None:
            self._pending_bad += 1
            return
        index = math.floor(timestamp / self.interval)
        if index < self.next_index:
            self._pending_bad += 1
            return
        stats = self.open.get(index)
        if stats is None:
            stats = self.open[index] = WindowStats()
        stats.bad += 1

    def clock(self, now: float) -> float:
        """The event clock at wall time `now`."""
        if self.newest == -math.inf:
            return -math.inf
        return self.newest + max(0.0, now - self.arrival)

    def advance(self, now: float) -> Iterator[WindowSummary]:
        """Close and summarise every window the event clock at `now` has passed."""
        if self.next_index is None:
            return
        watermark = self.clock(now) - self.lateness
        last = math.floor(watermark / self.interval) - 1  # the last window that ended
        yield from self._close_through(last)

    def close_all(self) -> Iterator[WindowSummary]:
        """At the end of input: close every window that saw a line, and one more if late or
        incorrect lines are still to be reported."""
        if self.next_index is None:
            return
        last = max(self.open, default=self.next_index - 1)
        if self._pending_late or self._pending_bad:
            last = max(last, self.next_index)
        yield from self._close_through(last)

    def _close_through(self, last: int) -> Iterator[WindowSummary]:
        assert self.next_index is not None
        empty_run = 0
        while self.next_index <= last:
            index = self.next_index
            stats = self.open.pop(index, None)
            if stats is None:
                if empty_run >= self.max_empty_run:
                    # A long gap: jump to the next window that saw traffic, or past the end.
                    self.next_index = min((i for i in self.open if i <= last), default=last + 1)
                    continue
                empty_run += 1
                stats = WindowStats()
            else:
                empty_run = 0
            if index == self._cached_index:
                self._cached_index = None
                self._cached = None
            stats.late += self._pending_late
            stats.bad += self._pending_bad
            self._pending_late = self._pending_bad = 0
            self.next_index = index + 1
            yield stats.summary(index * self.interval, (index + 1) * self.interval, self.top)
