"""Writing what `wm tail` owns: `hits` (one row per request) and `alerts` (incident history).

Hits are idempotent on `event_id`: a redelivered hit inserts nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from website_monitor.logs.alerts import AlertEvent
from website_monitor.logs.codec import Hit
from website_monitor.store import Repository, Transaction

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


def hit_row(hit: Hit) -> tuple[Any, ...]:
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
        hit.size,
        hit.referer,
        hit.user_agent,
    )


def write(tx: Transaction, hits: Sequence[Hit]) -> int:
    """Insert hits, skipping ids already stored; returns the rows inserted."""
    return tx.insert("hits", HIT_COLUMNS, [hit_row(hit) for hit in hits])


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
