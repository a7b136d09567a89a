"""The listener's own health, stored as telemetry so that `wm serve` can export it.

A listener's counters live in its process; `/metrics` is computed from the
store by `wm serve`, which may run elsewhere. So at every flush the listener
publishes what its counters gained since the previous flush as `counter`
buckets of reserved names, through the same publisher as the buckets: they
reach the store through Kafka and `wm flush` or directly alike, merge like any
counter (several listeners add up), and `telemetry.metrics` exports their
sums:

| bucket name                  | metric                                         |
|------------------------------|------------------------------------------------|
| `wm:listen:datagrams`        | `wm_listen_datagrams_total`                    |
| `wm:listen:kernel_drops`     | `wm_listen_kernel_drops_total`                 |
| `wm:listen:queue_drops`      | `wm_listen_queue_drops_total`                  |
| `wm:listen:bad:<reason>`     | `wm_listen_bad_datagrams_total{reason}`        |

No sender can forge them over UDP: a StatsD name ends at its first `:` and
llpp makes station buckets only. `wm stations` and `/api/stations` leave them
out unless asked for by name (`--station wm:listen:kernel_drops`).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Mapping
from datetime import datetime, timezone

from website_monitor.telemetry import llpp, statsd
from website_monitor.telemetry.buckets import TOO_MANY_SERIES
from website_monitor.telemetry.codec import TelemetryBucket

PREFIX = "wm:listen:"
DATAGRAMS = PREFIX + "datagrams"
KERNEL_DROPS = PREFIX + "kernel_drops"
QUEUE_DROPS = PREFIX + "queue_drops"
BAD = PREFIX + "bad:"
#: The metric type of the listener's own buckets.
METRIC_TYPE = "counter"

INTERNAL_ERROR = "internal_error"
#: Every reason a datagram is counted as bad, so /metrics shows each from 0.
BAD_REASONS = tuple(
    dict.fromkeys((*llpp.REASONS, *statsd.REASONS, TOO_MANY_SERIES, INTERNAL_ERROR))
)


def is_own(name: str, metric_type: str) -> bool:
    """Whether a bucket is one of the listener's own."""
    return metric_type == METRIC_TYPE and name.startswith(PREFIX)


def own_rows_sql(mark: str) -> str:
    """An SQL condition true for the listener's own rows; its one parameter is PREFIX."""
    return f"(metric_type = '{METRIC_TYPE}' AND substr(name, 1, {len(PREFIX)}) = {mark})"


def counters(
    received: int, kernel_drops: int, queue_drops: int, bad: Mapping[str, int]
) -> dict[str, int]:
    """The listener's counters, by bucket name."""
    out = {DATAGRAMS: received, KERNEL_DROPS: kernel_drops, QUEUE_DROPS: queue_drops}
    out.update((BAD + reason, count) for reason, count in bad.items())
    return out


class HealthDeltas:
    """Turns the counters' values into the deltas since the previous call, as buckets."""

    def __init__(self, bucket_seconds: int) -> None:
        self.bucket_seconds = bucket_seconds
        self.published: collections.Counter[str] = collections.Counter()

    def events(self, values: Mapping[str, int], now: float) -> list[TelemetryBucket]:
        start = math.floor(now / self.bucket_seconds) * self.bucket_seconds
        bucket_start = datetime.fromtimestamp(start, timezone.utc)
        emitted_at = datetime.fromtimestamp(now, timezone.utc)
        events = []
        for name, value in values.items():
            delta = value - self.published[name]
            if delta <= 0:
                continue
            self.published[name] = value
            events.append(
                TelemetryBucket(
                    name=name,
                    metric_type=METRIC_TYPE,
                    bucket_start=bucket_start,
                    bucket_seconds=self.bucket_seconds,
                    emitted_at=emitted_at,
                    samples=1,
                    total=float(delta),
                )
            )
        return events
