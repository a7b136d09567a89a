"""Storing telemetry buckets and reading them back, on PostgreSQL and SQLite alike.

Idempotency: each flush of a listener emits, per changed bucket, the *delta*
since its previous flush as an event with a fresh `event_id`. The store merges
a delta into the row keyed by (name, metric type, bucket start) with one
`INSERT … ON CONFLICT … DO UPDATE` that adds counts and sums, takes the least
minimum and greatest maximum, and keeps first/last/status by their times; so a
restarted listener (or a second one) merges into the open bucket. The row
also lists the event ids merged into it (`applied_events`), and the update
carries `WHERE applied_events does not contain excluded's id`: a redelivered
event (Kafka's at-least-once delivery, a retried direct write) changes
nothing, and the check and the merge are one statement, hence atomic. Full
snapshots replaced per listener instance would need a row per instance and
merging at read time; deltas keep one row per bucket. The list costs 37 bytes
per flush per bucket (a 10-minute bucket flushed every 10 s: about 2 kB).

Percentiles cannot be merged from deltas: a row keeps those of the latest
event, which cover every sample that listener kept for the bucket, so they
are exact unless a restart split the bucket (they then describe the samples
since the restart).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from website_monitor.events import Event, TelemetryBucket, utcnow
from website_monitor.store import EVENT_WRITERS, Repository, Where
from website_monitor.telemetry.buckets import population_variance

TABLE = "telemetry_buckets"

#: Columns written from an event, in order; `applied_events` and `updated_at` follow.
COLUMNS = (
    "name",
    "metric_type",
    "bucket_start",
    "bucket_end",
    "arrivals",
    "departures",
    "samples",
    "sum_value",
    "sumsq_value",
    "min_value",
    "max_value",
    "first_value",
    "first_at",
    "last_value",
    "last_at",
    "total",
    "status",
    "status_at",
    "p50",
    "p95",
    "p99",
)


def upsert_sql(repository: Repository) -> str:
    """The merging upsert, with the backend's spelling of least/greatest."""
    mark = repository.placeholder
    postgres = repository.backend == "postgresql"
    least, greatest = ("LEAST", "GREATEST") if postgres else ("min", "max")
    find = "strpos" if postgres else "instr"  # position of a substring, 0 when absent
    old, new = TABLE, "excluded"

    def add(column: str) -> str:
        return f"{column} = {old}.{column} + {new}.{column}"

    def pick(function: str, column: str) -> str:
        # NULL means "no value": take the other side; both sides present: least/greatest.
        return (
            f"{column} = {function}(COALESCE({old}.{column}, {new}.{column}),"
            f" COALESCE({new}.{column}, {old}.{column}))"
        )

    def by_time(columns: Sequence[str], at: str, newer: bool) -> list[str]:
        # Take the new side's values when its time is set and earlier (first) or
        # not earlier (last, status) than the stored one, or nothing is stored.
        compare = ">=" if newer else "<"
        condition = (
            f"{new}.{at} IS NOT NULL AND ({old}.{at} IS NULL OR {new}.{at} {compare} {old}.{at})"
        )
        return [
            f"{column} = CASE WHEN {condition} THEN {new}.{column} ELSE {old}.{column} END"
            for column in (*columns, at)
        ]

    assignments = [
        *(add(c) for c in ("arrivals", "departures", "samples", "sum_value", "sumsq_value")),
        add("total"),
        pick(least, "min_value"),
        pick(greatest, "max_value"),
        *by_time(["first_value"], "first_at", newer=False),
        *by_time(["last_value"], "last_at", newer=True),
        *by_time(["status"], "status_at", newer=True),
        # Percentiles cover every sample the listener kept: the delta with the newest
        # sample wins, so a late (spooled or redelivered) delta cannot roll them back.
        *(
            f"{c} = CASE WHEN {new}.{c} IS NOT NULL AND {new}.last_at IS NOT NULL"
            f" AND ({old}.last_at IS NULL OR {new}.last_at >= {old}.last_at)"
            f" THEN {new}.{c} ELSE {old}.{c} END"
            for c in ("p50", "p95", "p99")
        ),
        f"applied_events = {old}.applied_events || {new}.applied_events",
        f"updated_at = {new}.updated_at",
    ]
    columns = (*COLUMNS, "applied_events", "updated_at")
    marks = ", ".join(mark for _ in columns)
    return (
        f"INSERT INTO {TABLE} ({', '.join(columns)}) VALUES ({marks})"
        # bucket_end is in the key: listeners with different --bucket never merge
        " ON CONFLICT (name, metric_type, bucket_start, bucket_end) DO UPDATE SET "
        + ", ".join(assignments)
        + f" WHERE {find}({old}.applied_events, {new}.applied_events) = 0"
    )


def _row(event: TelemetryBucket, now: datetime) -> tuple[Any, ...]:
    values = dataclasses.asdict(event)
    values["bucket_end"] = event.bucket_end
    return (*(values[c] for c in COLUMNS), f"{event.event_id};", now)


def write_buckets(repository: Repository, events: Sequence[Event]) -> int:
    """Merge telemetry deltas into their buckets in one transaction; returns deltas applied
    (a redelivered event counts 0)."""
    buckets = [e for e in events if isinstance(e, TelemetryBucket)]
    if len(buckets) != len(events):
        raise TypeError("write_buckets stores TelemetryBucket events only")
    if not buckets:
        return 0
    now = utcnow()
    return repository.executemany(upsert_sql(repository), [_row(b, now) for b in buckets])


EVENT_WRITERS[TelemetryBucket.kind] = write_buckets


# --- reading ----------------------------------------------------------------------------


def bucket_stats(
    repository: Repository,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    names: Sequence[str] = (),
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """Stored buckets as JSON-ready dicts, ordered by name, metric type and start.

    `since` keeps buckets that end after it, `until` those that start before it.
    `current` marks the bucket that contains `now`. Values are milliseconds for
    service times and timers. `variance` is the population variance.
    """
    where = (
        Where(repository.placeholder)
        .compare("bucket_end", ">", since)
        .compare("bucket_start", "<", until)
        .any_of("name", names)
    )
    sql = (
        f"SELECT {', '.join(COLUMNS)} FROM {TABLE}"
        + where.sql
        + " ORDER BY name, metric_type, bucket_start"
    )
    now = now or utcnow()
    return [_entry(row, now) for row in repository.query(sql, where.params)]


def _time(value: Any) -> datetime:
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.astimezone(timezone.utc) if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _entry(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    start, end = _time(row["bucket_start"]), _time(row["bucket_end"])
    samples = int(row["samples"])
    total, sumsq = float(row["sum_value"]), float(row["sumsq_value"])
    metric_type = row["metric_type"]
    entry: dict[str, Any] = {
        "name": row["name"],
        "type": metric_type,
        "bucket_start": start.isoformat(),
        "bucket_end": end.isoformat(),
        "bucket_seconds": round((end - start) / timedelta(seconds=1)),
        "current": start <= now < end,
    }
    if metric_type == "station":
        entry["arrivals"] = int(row["arrivals"])
        entry["departures"] = int(row["departures"])
        entry["status"] = row["status"]
    if metric_type == "counter":
        entry["count"] = samples
        entry["total"] = float(row["total"])
        return entry
    entry.update(
        count=samples,
        mean=total / samples if samples else None,
        variance=population_variance(samples, total, sumsq),
        min=_number(row["min_value"]),
        max=_number(row["max_value"]),
        first=_number(row["first_value"]),
        last=_number(row["last_value"]),
        sum=total,
    )
    if metric_type == "gauge":
        entry["value"] = _number(row["last_value"])
    if metric_type == "timer":
        entry.update(p50=_number(row["p50"]), p95=_number(row["p95"]), p99=_number(row["p99"]))
    return entry


def telemetry_document(
    repository: Repository,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    names: Sequence[str] = (),
) -> dict[str, Any]:
    """What `wm stations` and `wm stats --telemetry` print: `{"stations": [bucket, …]}`."""
    return {"stations": bucket_stats(repository, since=since, until=until, names=names)}
