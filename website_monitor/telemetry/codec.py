"""Telemetry buckets: the `telemetry` message, its type and its decoder."""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime, timedelta
from typing import Any, ClassVar

from website_monitor import codec
from website_monitor.codec import (
    SCHEMA_VERSION,
    FallbackId,
    new_event_id,
    optional_str,
    utc_datetime,
)
from website_monitor.errors import DecodeError

#: Metric types of a telemetry bucket: an llpp station, or a StatsD timer, counter or gauge.
TELEMETRY_TYPES = ("station", "timer", "counter", "gauge")
MAX_TELEMETRY_NAME = 255
_COUNT_FIELDS = ("arrivals", "departures", "samples")
_FLOAT_FIELDS = ("sum_value", "sumsq_value", "total")
_OPTIONAL_FLOAT_FIELDS = (
    "min_value",
    "max_value",
    "first_value",
    "first_at",
    "last_value",
    "last_at",
    "status_at",
    "p50",
    "p95",
    "p99",
)


@dataclasses.dataclass(frozen=True, slots=True)
class TelemetryBucket:
    """What one listener received for one station or metric in one time bucket since its
    previous flush (a delta, with its own `event_id`); the store merges deltas.

    Values are milliseconds for service times and timers, the raw value for
    gauges. `samples`, `sum_value`, `sumsq_value`, `min_value`, `max_value`,
    `first_*` and `last_*` describe the values (service times, timer or gauge
    values; `*_at` are Unix times in seconds); `total` is a counter's sum of
    value / sample rate. A timer's percentiles cover every value this listener
    received for the bucket so far, not just the delta, within 0.5 % (they come
    from a log-scaled histogram, `telemetry.histogram`).
    """

    kind: ClassVar[str] = "telemetry"

    name: str
    metric_type: str
    bucket_start: datetime
    bucket_seconds: int
    emitted_at: datetime
    event_id: str = dataclasses.field(default_factory=new_event_id)
    arrivals: int = 0
    departures: int = 0
    samples: int = 0
    sum_value: float = 0.0
    sumsq_value: float = 0.0
    min_value: float | None = None
    max_value: float | None = None
    first_value: float | None = None
    first_at: float | None = None
    last_value: float | None = None
    last_at: float | None = None
    total: float = 0.0
    status: str | None = None
    status_at: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None

    @property
    def bucket_end(self) -> datetime:
        return self.bucket_start + timedelta(seconds=self.bucket_seconds)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["bucket_start"] = self.bucket_start.isoformat()
        data["emitted_at"] = self.emitted_at.isoformat()
        return {"kind": self.kind, "v": SCHEMA_VERSION, **data}

    def key(self) -> bytes:
        return self.name.encode("utf-8")


def decode(data: dict[str, Any], fallback_id: FallbackId) -> TelemetryBucket:
    name = data.get("name")
    if not isinstance(name, str) or not name or len(name) > MAX_TELEMETRY_NAME:
        raise DecodeError(f"field 'name' is not a string of 1 to {MAX_TELEMETRY_NAME} characters")
    if "\x00" in name:
        raise DecodeError("field 'name' contains a NUL character")
    metric_type = data.get("metric_type")
    if metric_type not in TELEMETRY_TYPES:
        raise DecodeError(f"field 'metric_type' is not one of {', '.join(TELEMETRY_TYPES)}")
    seconds = data.get("bucket_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= 31_622_400:
        raise DecodeError("field 'bucket_seconds' is not a whole number of seconds up to a year")
    counts = {}
    for field in _COUNT_FIELDS:
        value = data.get(field, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise DecodeError(f"field {field!r} is not a non-negative integer")
        counts[field] = value
    floats: dict[str, Any] = {}
    for field in _FLOAT_FIELDS + _OPTIONAL_FLOAT_FIELDS:
        value = data.get(field, 0.0 if field in _FLOAT_FIELDS else None)
        if value is None and field in _OPTIONAL_FLOAT_FIELDS:
            floats[field] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DecodeError(f"field {field!r} is not a number")
        if not math.isfinite(value):
            raise DecodeError(f"field {field!r} is not finite")
        floats[field] = float(value)
    return TelemetryBucket(
        name=name,
        metric_type=metric_type,
        bucket_start=_datetime_field(data, "bucket_start"),
        bucket_seconds=seconds,
        emitted_at=_datetime_field(data, "emitted_at"),
        event_id=codec.event_id(data, None),
        status=optional_str(data, "status", 255),
        **counts,
        **floats,
    )


def _datetime_field(data: dict[str, Any], name: str) -> datetime:
    return utc_datetime(data, name, naive_is_utc=False)
