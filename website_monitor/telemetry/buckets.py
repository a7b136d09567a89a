"""Aggregation of telemetry into time buckets per station or metric.

A bucket covers `[start, start + bucket_seconds)`, aligned on the Unix epoch
(10 minutes by default). Per llpp station it counts arrivals and departures,
keeps the latest status text and summarises service times (milliseconds):
count, first (open), last (close), min, max, sum and sum of squares. StatsD
timers and gauges get the same value statistics; counters a total of
value / sample rate. Timers also get p50, p95 and p99 at flush, over every
value of the bucket so far: PostgreSQL's `percentile_cont` estimated from a
log-scaled histogram within 0.5 % (relative; see
`website_monitor.telemetry.histogram`), so a timer keeps no raw samples.

Memory is bounded: at most `max_series` buckets are open (DEFAULT_MAX_SERIES,
100,000; past it new names are refused as `too_many_series`), and one costs
at most SERIES_BYTES, 10 KiB: up to 8.5 KiB of histogram counts (MAX_BINS
4-byte counts and the array's slack) for a timer whose values span more than
8.9 decades, and under 1.5 KiB for a name of up to 255 bytes, the key and
the statistics. So 100,000 open buckets stay under 1 GiB (measured with
tracemalloc: 9.6 kB per bucket in that worst case, 2.8 kB for a timer whose
values span two decades, about 0.5 kB for a station, counter or gauge).

Mean and variance come from the sums: mean = sum / n and the **population**
variance sum((x - mean)^2) / n = (sumsq - sum^2 / n) / n, as
`statistics.pvariance` computes it. The bucket is every observation of its
window, not a sample of a larger population, and the definition stays valid
for a single observation (variance 0).

`Aggregator.flush` returns, for every bucket that changed, the delta since the
previous flush as a `TelemetryBucket` event with a fresh `event_id`; the store
adds deltas up (see `website_monitor.telemetry.store`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from website_monitor.telemetry.codec import TelemetryBucket
from website_monitor.telemetry.histogram import MAX_BINS, TimerHistogram
from website_monitor.telemetry.llpp import Arrival, DatagramError, Departure, Message, Status
from website_monitor.telemetry.statsd import COUNTER, GAUGE, Metric

DEFAULT_BUCKET_SECONDS = 600
#: Open buckets kept in memory at most; past it, new names are refused (a flood of distinct
#: names must not exhaust memory). Known names keep being aggregated.
DEFAULT_MAX_SERIES = 100_000
TOO_MANY_SERIES = "too_many_series"
PERCENTILES = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
#: Bytes one open bucket takes at most (checked with tracemalloc by the tests): a timer's
#: histogram of MAX_BINS 4-byte counts with its array's slack (1/16), plus 1.5 KiB for a
#: name of up to 255 bytes, the key and the statistics.
SERIES_BYTES = MAX_BINS * 4 * 17 // 16 + 1536  # 10 KiB


@dataclasses.dataclass(slots=True)
class ValueStats:
    """Count, first, last, min, max, sum and sum of squares of a series of values."""

    count: int = 0
    first: float | None = None
    first_at: float | None = None
    last: float | None = None
    last_at: float | None = None
    min: float | None = None
    max: float | None = None
    sum: float = 0.0
    sumsq: float = 0.0

    def add(self, value: float, at: float) -> None:
        if self.count == 0:
            self.first, self.first_at = value, at
            self.min = self.max = value
        else:
            if value < self.min:  # type: ignore[operator]
                self.min = value
            if value > self.max:  # type: ignore[operator]
                self.max = value
        self.last, self.last_at = value, at
        self.count += 1
        self.sum += value
        self.sumsq += value * value

    @property
    def mean(self) -> float | None:
        return self.sum / self.count if self.count else None

    @property
    def variance(self) -> float | None:
        return population_variance(self.count, self.sum, self.sumsq)


def population_variance(count: int, total: float, sumsq: float) -> float | None:
    """sum((x - mean)^2) / n from n, sum(x) and sum(x^2); None without values."""
    if not count:
        return None
    return max(0.0, (sumsq - total * total / count) / count)


@dataclasses.dataclass(slots=True)
class _Delta:
    arrivals: int = 0
    departures: int = 0
    values: ValueStats = dataclasses.field(default_factory=ValueStats)
    total: float = 0.0
    status: str | None = None
    status_at: float | None = None
    changed: bool = False


@dataclasses.dataclass(slots=True)
class _Bucket:
    delta: _Delta = dataclasses.field(default_factory=_Delta)
    histogram: TimerHistogram | None = None  # a timer's values since the bucket opened


Key = tuple[str, str, int]  # name, metric type, bucket start (Unix seconds)


class Aggregator:
    """Buckets in memory; not thread-safe (the listener feeds it from one thread)."""

    def __init__(
        self,
        bucket_seconds: int = DEFAULT_BUCKET_SECONDS,
        *,
        max_series: int = DEFAULT_MAX_SERIES,
    ) -> None:
        if bucket_seconds < 1:
            raise ValueError("bucket_seconds must be at least 1")
        self.bucket_seconds = int(bucket_seconds)
        self.max_series = max_series
        self.buckets: dict[Key, _Bucket] = {}

    def bucket_start(self, at: float) -> int:
        return math.floor(at / self.bucket_seconds) * self.bucket_seconds

    def _bucket(self, name: str, metric_type: str, at: float) -> _Bucket:
        seconds = self.bucket_seconds
        key = (name, metric_type, int(at // seconds) * seconds)
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self.max_series:
                raise DatagramError(
                    TOO_MANY_SERIES, f"{self.max_series} open buckets already, {name!r} refused"
                )
            bucket = self.buckets[key] = _Bucket()
        bucket.delta.changed = True
        return bucket

    def add(self, item: Message | Metric, at: float) -> None:
        """Account one decoded llpp message or StatsD metric received at Unix time `at`.

        Raises `DatagramError` (`too_many_series`) for a new name past `max_series`.
        """
        if isinstance(item, Metric):
            self.add_metric(item, at)
        else:
            self.add_message(item, at)

    def add_message(self, message: Message, at: float) -> None:
        delta = self._bucket(message.station, "station", at).delta
        if isinstance(message, Arrival):
            delta.arrivals += 1
        elif isinstance(message, Departure):
            delta.departures += 1
            delta.values.add(message.service_ms, at)
        elif isinstance(message, Status):
            delta.status, delta.status_at = message.text, at

    def add_metric(self, metric: Metric, at: float) -> None:
        bucket = self._bucket(metric.name, metric.kind, at)
        if metric.type == COUNTER:
            bucket.delta.values.count += 1
            bucket.delta.total += metric.value / metric.rate
            return
        bucket.delta.values.add(metric.value, at)
        if metric.type == GAUGE:
            return
        if bucket.histogram is None:
            bucket.histogram = TimerHistogram()
        bucket.histogram.add(metric.value)

    def add_all(self, items: Iterable[tuple[Message | Metric, float]]) -> None:
        for item, at in items:
            self.add(item, at)

    def flush(self, now: float, *, final: bool = False) -> list[TelemetryBucket]:
        """Deltas of every bucket changed since the last flush; forget buckets that ended.

        With `final`, every bucket is forgotten (the listener is stopping).
        """
        emitted_at = datetime.fromtimestamp(now, timezone.utc)
        events: list[TelemetryBucket] = []
        for key in sorted(self.buckets):
            name, metric_type, start = key
            bucket = self.buckets[key]
            if bucket.delta.changed:
                events.append(self._event(name, metric_type, start, bucket, emitted_at))
                bucket.delta = _Delta()
            if final or start + self.bucket_seconds <= now:
                del self.buckets[key]
        return events

    def _event(
        self, name: str, metric_type: str, start: int, bucket: _Bucket, emitted_at: datetime
    ) -> TelemetryBucket:
        delta = bucket.delta
        values = delta.values
        extra: dict[str, Any] = {}
        if bucket.histogram is not None:
            values_at = bucket.histogram.percentiles([fraction for _, fraction in PERCENTILES])
            extra = {label: value for (label, _), value in zip(PERCENTILES, values_at, strict=True)}
        return TelemetryBucket(
            name=name,
            metric_type=metric_type,
            bucket_start=datetime.fromtimestamp(start, timezone.utc),
            bucket_seconds=self.bucket_seconds,
            emitted_at=emitted_at,
            arrivals=delta.arrivals,
            departures=delta.departures,
            samples=values.count,
            sum_value=values.sum,
            sumsq_value=values.sumsq,
            min_value=values.min,
            max_value=values.max,
            first_value=values.first,
            first_at=values.first_at,
            last_value=values.last,
            last_at=values.last_at,
            total=delta.total,
            status=delta.status,
            status_at=delta.status_at,
            **extra,
        )
