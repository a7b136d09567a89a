"""What the views read of the telemetry: buckets as `wm stations` prints them, new buckets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from website_monitor.codec import utcnow
from website_monitor.store import Reader, Where
from website_monitor.telemetry import health
from website_monitor.telemetry.buckets import population_variance
from website_monitor.telemetry.models import Bucket, Stations
from website_monitor.telemetry.store import COLUMNS, TABLE
from website_monitor.times import EPOCH, as_utc, iso, micros


def bucket_stats(
    reader: Reader,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    names: Sequence[str] = (),
    now: datetime | None = None,
) -> list[Bucket]:
    """Stored buckets, ordered by name, metric type and start.

    `since` keeps buckets that end after it, `until` those that start before it.
    `current` marks the bucket that contains `now`. Values are milliseconds for
    service times and timers. `variance` is the population variance. The
    listeners' own counters (`telemetry.health`) are left out unless `names`
    lists them.
    """
    mark = reader.dialect.placeholder
    where = (
        Where(reader.dialect)
        .compare("bucket_end", ">", since)
        .compare("bucket_start", "<", until)
        .any_of("name", names)
    )
    if not names:
        where.also(f"NOT {health.own_rows_sql(mark)}", health.PREFIX)
    sql = (
        f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"
        + where.sql
        + " ORDER BY name, metric_type, bucket_start"
    )
    now = now or utcnow()
    return [_entry(row, now) for row in reader.query(sql, where.params)]


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _entry(row: dict[str, Any], now: datetime) -> Bucket:
    start, end = as_utc(row["bucket_start"]), as_utc(row["bucket_end"])
    samples = int(row["samples"])
    total, sumsq = float(row["sum_value"]), float(row["sumsq_value"])
    metric_type = row["metric_type"]
    entry = Bucket(
        name=row["name"],
        type=metric_type,
        bucket_start=start.isoformat(),
        bucket_end=end.isoformat(),
        bucket_seconds=round((end - start) / timedelta(seconds=1)),
        current=start <= now < end,
        count=samples,
    )
    if metric_type == "station":
        entry.arrivals = int(row["arrivals"])
        entry.departures = int(row["departures"])
        entry.status = row["status"]
    if metric_type == "counter":
        entry.total = float(row["total"])
        return entry
    _update(
        entry,
        mean=total / samples if samples else None,
        variance=population_variance(samples, total, sumsq),
        min=_number(row["min_value"]),
        max=_number(row["max_value"]),
        first=_number(row["first_value"]),
        last=_number(row["last_value"]),
        sum=total,
    )
    if metric_type == "gauge":
        entry.value = _number(row["last_value"])
    if metric_type == "timer":
        _update(entry, p50=_number(row["p50"]), p95=_number(row["p95"]), p99=_number(row["p99"]))
    return entry


def _update(entry: Bucket, **values: Any) -> None:
    for name, value in values.items():
        setattr(entry, name, value)


def telemetry_document(
    reader: Reader,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    names: Sequence[str] = (),
) -> Stations:
    """What `wm stations` and `wm stats --telemetry` print: `{"stations": [bucket, …]}`."""
    return Stations(stations=bucket_stats(reader, since=since, until=until, names=names))


def latest_bucket_update(reader: Reader) -> int:
    """The newest `updated_at` of the telemetry buckets, in microseconds since the epoch."""
    value = reader.query("SELECT max(updated_at) AS t FROM telemetry_buckets")[0]["t"]
    return 0 if value is None else micros(value)


def buckets_after(reader: Reader, after: int, limit: int = 200) -> list[dict[str, Any]]:
    """Telemetry buckets updated after `after` (µs): name, type, start and counts.

    The cursor is the update time, so a write that commits with an older time than
    one already seen is noticed only by the next refresh of the page.
    """
    mark = reader.dialect.placeholder
    since = EPOCH + timedelta(microseconds=after)
    rows = reader.query(
        "SELECT name, metric_type, bucket_start, arrivals, departures, samples, updated_at"
        f" FROM telemetry_buckets WHERE updated_at > {mark} ORDER BY updated_at LIMIT {mark}",
        [since, limit],
    )
    return [
        {
            "id": micros(row["updated_at"]),
            "name": row["name"],
            "type": row["metric_type"],
            "bucket_start": iso(row["bucket_start"]),
            "arrivals": int(row["arrivals"]),
            "departures": int(row["departures"]),
            "count": int(row["samples"]),
        }
        for row in rows
    ]
