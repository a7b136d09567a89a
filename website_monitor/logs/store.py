"""The tables `wm tail` owns: `hits` (one row per request) and `alerts` (incident history).

Written through the generic repository API only, so both backends share this
code. Hits are idempotent on `event_id` (ON CONFLICT DO NOTHING); importing
this module registers `write_hits` for `wm flush` and the direct writer.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from website_monitor import store
from website_monitor.errors import StoreError
from website_monitor.events import Event, Hit
from website_monitor.logs.alerts import AlertEvent
from website_monitor.logs.summary import iso
from website_monitor.store.base import Repository

HIT_COLUMNS = (
    "event_id",
    "timestamp",
    "source",
    "remote_host",
    '"user"',
    "method",
    "path",
    "section",
    "status",
    "bytes",
    "referer",
    "user_agent",
)
#: Rows per INSERT statement (well under SQLite's limit on parameters).
ROWS_PER_STATEMENT = 500


def _hit_row(hit: Hit) -> tuple[Any, ...]:
    return (
        hit.event_id,
        hit.timestamp,
        hit.source,
        hit.remote_host,
        hit.user,
        hit.method,
        hit.path,
        hit.section,
        hit.status,
        hit.bytes,
        hit.referer,
        hit.user_agent,
    )


def write_hits(repository: Repository, events: Sequence[Event]) -> int:
    """Insert hits, skipping ids already stored; returns the rows inserted."""
    hits = [event for event in events if isinstance(event, Hit)]
    if len(hits) != len(events):
        raise StoreError("write_hits was given events that are not hits")
    mark = repository.placeholder
    one = "(" + ", ".join(mark for _ in HIT_COLUMNS) + ")"
    inserted = 0
    for start in range(0, len(hits), ROWS_PER_STATEMENT):
        batch = hits[start : start + ROWS_PER_STATEMENT]
        sql = (
            f"INSERT INTO hits ({', '.join(HIT_COLUMNS)}) VALUES "
            + ", ".join(one for _ in batch)
            + " ON CONFLICT (event_id) DO NOTHING"
        )
        row = [value for hit in batch for value in _hit_row(hit)]
        inserted += repository.executemany(sql, [row])
    return inserted


store.EVENT_WRITERS["hit"] = write_hits


# --- alerts ------------------------------------------------------------------------------


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


class AlertHistory:
    """Records each incident: a row when it triggers, completed when it recovers."""

    def __init__(self, repository: Repository, source: str, kind: str = "high_traffic") -> None:
        self.repository = repository
        self.source = source
        self.kind = kind
        self.current: str | None = None

    def record(self, event: AlertEvent) -> None:
        mark = self.repository.placeholder
        if event.state == "triggered":
            self.current = str(uuid.uuid4())
            self.repository.execute(
                "INSERT INTO alerts (id, source, kind, started_at, ended_at, peak, threshold)"
                f" VALUES ({mark}, {mark}, {mark}, {mark}, NULL, {mark}, {mark})",
                (
                    self.current,
                    self.source,
                    self.kind,
                    _moment(event.started_at),
                    event.peak,
                    event.threshold,
                ),
            )
        elif self.current is not None:
            self.repository.execute(
                f"UPDATE alerts SET ended_at = {mark}, peak = {mark} WHERE id = {mark}",
                (_moment(event.time), event.peak, self.current),
            )
            self.current = None


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return iso(value.timestamp())


def list_alerts(repository: Repository, *, source: str | None = None) -> list[dict[str, Any]]:
    """Past and ongoing incidents, oldest first."""
    where = ""
    params: list[Any] = []
    if source is not None:
        where = f" WHERE source = {repository.placeholder}"
        params.append(source)
    rows = repository.query(
        "SELECT id, source, kind, started_at, ended_at, peak, threshold FROM alerts"
        + where
        + " ORDER BY started_at, id",
        params,
    )
    return [
        {
            "id": str(row["id"]),
            "source": row["source"],
            "kind": row["kind"],
            "started_at": _iso(row["started_at"]),
            "ended_at": _iso(row["ended_at"]),
            "peak": round(float(row["peak"]), 3),
            "threshold": float(row["threshold"]),
        }
        for row in rows
    ]
