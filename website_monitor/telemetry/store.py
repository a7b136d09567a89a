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
event, which cover every value that listener received for the bucket (within
0.5 %, from its histogram), unless a restart split the bucket (they then
describe the values since the restart).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from website_monitor.codec import utcnow
from website_monitor.store import Transaction
from website_monitor.store.dialect import Dialect
from website_monitor.telemetry.codec import TelemetryBucket

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


def upsert_sql(dialect: Dialect) -> str:
    """The merging upsert, in `dialect`."""
    old, new = TABLE, "excluded"

    def add(column: str) -> str:
        return f"{column} = {old}.{column} + {new}.{column}"

    def pick(function: Callable[[str, str], str], column: str) -> str:
        # NULL means "no value": take the other side; both sides present: least/greatest.
        return f"{column} = {function(f'{old}.{column}', f'{new}.{column}')}"

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
        pick(dialect.least, "min_value"),
        pick(dialect.greatest, "max_value"),
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
    marks = dialect.marks(len(columns))
    return (
        f"INSERT INTO {TABLE} ({', '.join(columns)}) VALUES ({marks})"
        # bucket_end is in the key: listeners with different --bucket never merge
        " ON CONFLICT (name, metric_type, bucket_start, bucket_end) DO UPDATE SET "
        + ", ".join(assignments)
        + f" WHERE {dialect.position(f'{new}.applied_events', f'{old}.applied_events')} = 0"
    )


def _row(event: TelemetryBucket, now: datetime) -> tuple[Any, ...]:
    values = dataclasses.asdict(event)
    values["bucket_end"] = event.bucket_end
    return (*(values[c] for c in COLUMNS), f"{event.event_id};", now)


def write(tx: Transaction, buckets: Sequence[TelemetryBucket]) -> int:
    """Merge telemetry deltas into their buckets; returns deltas applied (a redelivered
    event counts 0)."""
    if not buckets:
        return 0
    now = utcnow()
    return tx.executemany(upsert_sql(tx.dialect), [_row(b, now) for b in buckets])
