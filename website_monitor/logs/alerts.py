"""The high-traffic alert: pure logic, driven by the end times of closed windows.

After each window closes, the average rate is the number of hits in the
windows that ended within the last `window` seconds divided by `window`
(windows before the first line count as zero). The alert triggers when that
average reaches `threshold` and no alert is active; it recovers when the
average falls below `threshold * (1 - hysteresis)`. Between the two levels
nothing changes, so traffic hovering around the threshold does not flap. Only
one alert is active at a time. Time is whatever the caller passes (log time
or wall time), which makes the logic testable with a fake clock.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

from website_monitor.logs.summary import iso


@dataclasses.dataclass(frozen=True)
class AlertEvent:
    """An alert triggering (`state="triggered"`) or recovering (`state="recovered"`)."""

    state: str
    time: float
    value: float
    threshold: float
    started_at: float
    peak: float

    @property
    def messages(self) -> list[str]:
        if self.state == "triggered":
            return [
                f"High traffic generated an alert - hits = {format_rate(self.value)}, "
                f"triggered at {iso(self.time)}"
            ]
        return [f"High traffic alert recovered at {iso(self.time)}", "End of high traffic alert"]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": "alert",
            "state": self.state,
            "time": iso(self.time),
            "hits_per_second": round(self.value, 3),
            "threshold": self.threshold,
            "started_at": iso(self.started_at),
            "peak": round(self.peak, 3),
            "message": self.messages[0],
        }
        return data


def format_rate(value: float) -> str:
    """Average hits per second with two decimals: `12.50`."""
    return f"{value:.2f}"


@dataclasses.dataclass
class ActiveAlert:
    started_at: float
    peak: float


class HighTrafficAlert:
    """Average rate over a sliding window against a threshold, with hysteresis."""

    def __init__(self, threshold: float = 10.0, window: float = 120.0, hysteresis: float = 0.1):
        if threshold <= 0:
            raise ValueError("threshold must be positive")
        if window <= 0:
            raise ValueError("alert window must be positive")
        if not 0 <= hysteresis < 1:
            raise ValueError("hysteresis must be at least 0 and below 1")
        self.threshold = threshold
        self.window = window
        self.hysteresis = hysteresis
        self.recover_below = threshold * (1 - hysteresis)
        self.recent: collections.deque[tuple[float, int]] = collections.deque()
        self.total = 0
        self.active: ActiveAlert | None = None

    def rate(self) -> float:
        return self.total / self.window

    def observe(self, end: float, hits: int) -> AlertEvent | None:
        """A window ending at `end` had `hits`; returns the alert change it causes, if any."""
        self.recent.append((end, hits))
        self.total += hits
        while self.recent and self.recent[0][0] <= end - self.window:
            self.total -= self.recent.popleft()[1]
        rate = self.rate()
        if self.active is None:
            if rate >= self.threshold:
                self.active = ActiveAlert(started_at=end, peak=rate)
                return AlertEvent("triggered", end, rate, self.threshold, end, rate)
            return None
        self.active.peak = max(self.active.peak, rate)
        if rate < self.recover_below:
            active, self.active = self.active, None
            return AlertEvent(
                "recovered", end, rate, self.threshold, active.started_at, active.peak
            )
        return None
