"""Times as the store returns them, and the widths of time series buckets.

PostgreSQL returns aware datetimes and SQLite the fixed-width UTC text it
stores; `as_utc` and `iso` read both.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Bucket widths a series may use, in seconds; `choose_bucket` picks the first giving
#: few enough points.
SERIES_BUCKETS = (10, 30, 60, 300, 900, 3600, 6 * 3600, 86400)
MAX_POINTS = 360


def as_utc(value: Any) -> datetime:
    """A stored timestamp (datetime or ISO text) as an aware UTC datetime."""
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def iso(value: Any) -> str | None:
    """A stored timestamp as ISO 8601 UTC (`2026-11-23T10:00:00+00:00`), None for NULL."""
    return None if value is None else as_utc(value).isoformat()


def micros(value: Any) -> int:
    """A stored timestamp in microseconds since the epoch."""
    return (as_utc(value) - EPOCH) // timedelta(microseconds=1)


def from_epoch(seconds: float) -> str:
    """Epoch seconds as ISO 8601 UTC."""
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat()


def choose_bucket(first: datetime | None, last: datetime | None) -> int:
    """A bucket width that draws the span from `first` to `last` in few enough points."""
    if first is None or last is None:
        return SERIES_BUCKETS[2]
    span = max((last - first).total_seconds(), 1.0)
    for width in SERIES_BUCKETS:
        if span / width <= MAX_POINTS:
            return width
    return SERIES_BUCKETS[-1]
