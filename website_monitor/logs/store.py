"""Writing what `wm tail` owns: `hits` (one row per request) and its high-traffic incidents.

Hits are idempotent on `event_id`: a redelivered hit inserts nothing.
High-traffic alerts are incidents of kind `traffic` (`website_monitor.alerts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from website_monitor.alerts import incidents
from website_monitor.alerts.incidents import Incident
from website_monitor.logs.alerts import AlertEvent
from website_monitor.logs.codec import Hit
from website_monitor.store import Repository, RowsOf, Transaction
from website_monitor.store.copytext import NULL, text_column, text_of, utc_times

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
    return tx.insert(
        "hits", HIT_COLUMNS, RowsOf(hits, hit_row), copy_text=text_of(hits, lambda: copy_rows(hits))
    )


def copy_rows(hits: Sequence[Hit]) -> str:
    """The hits as COPY text (HIT_COLUMNS order): the flush and the direct writer build this
    for every hit they store on PostgreSQL. Their text almost never needs escaping (one
    scan of it all tells), and then each row is one f-string: a quarter faster than a
    column at a time, which is kept for the rest."""
    if not hits:
        return ""
    text = "".join(
        [
            f"{h.event_id}{h.source}{h.remote_host}{h.user}{h.method}{h.path}{h.section}"
            f"{h.referer}{h.user_agent}"
            for h in hits
        ]
    )
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return _escaped_copy_rows(hits)
    times = utc_times([hit.timestamp for hit in hits])
    return "".join(
        [
            f"{h.event_id}\t{time}\t{h.source}\t{h.remote_host}"
            f"\t{NULL if h.user is None else h.user}\t{h.method}\t{h.path}\t{h.section}"
            f"\t{h.status}\t{h.size}\t{NULL if h.referer is None else h.referer}"
            f"\t{NULL if h.user_agent is None else h.user_agent}\n"
            for h, time in zip(hits, times, strict=True)
        ]
    )


def _escaped_copy_rows(hits: Sequence[Hit]) -> str:
    """`copy_rows` when some text needs escaping: a column at a time."""
    columns = [
        text_column([hit.event_id for hit in hits]),
        utc_times([hit.timestamp for hit in hits]),
        text_column([hit.source for hit in hits]),
        text_column([hit.remote_host for hit in hits]),
        text_column([hit.user for hit in hits]),
        text_column([hit.method for hit in hits]),
        text_column([hit.path for hit in hits]),
        text_column([hit.section for hit in hits]),
        [str(hit.status) for hit in hits],
        [str(hit.size) for hit in hits],
        text_column([hit.referer for hit in hits]),
        text_column([hit.user_agent for hit in hits]),
    ]
    return "".join([f"{chr(9).join(row)}\n" for row in zip(*columns, strict=True)])


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, timezone.utc)


#: The `alert` of every high-traffic incident, and the `kind` `wm alerts` shows.
TRAFFIC_ALERT = "high traffic"
ABANDONED = "abandoned: wm tail stopped while the alert was open"


class AlertHistory:
    """Records `wm tail`'s high-traffic alerts as incidents of kind `traffic`: opened when
    one triggers, resolved when it recovers, each with its notifications (the outbox)
    in the same transaction."""

    def __init__(self, repository: Repository, source: str, severity: str = "page") -> None:
        self.repository = repository
        self.source = source
        self.severity = severity
        self.current: Incident | None = None

    def record(
        self,
        event: AlertEvent,
        targets: Sequence[str] = (),
        payloads: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        now = datetime.now(timezone.utc)
        with self.repository.transaction() as tx:
            if event.state == "triggered":
                incident = Incident.new(
                    "traffic",
                    TRAFFIC_ALERT,
                    _moment(event.started_at),
                    source=self.source,
                    severity=self.severity,
                    peak=event.peak,
                    threshold=event.threshold,
                )
                incidents.open_incident(
                    tx, incident, at=_moment(event.time), now=now, targets=targets,
                    payloads=payloads,
                )  # fmt: skip
                self.current = incident
            elif self.current is not None:
                self.current.peak = event.peak
                incidents.resolve(
                    tx,
                    self.current,
                    resolved_at=_moment(event.time),
                    at=_moment(event.time),
                    now=now,
                    payloads=payloads,
                )
                self.current = None

    def abandon(self, skip: Sequence[str] = ()) -> None:
        """Close the open alert, if any, as abandoned now (`wm tail` is stopping)."""
        if self.current is None:
            return
        now = datetime.now(timezone.utc)
        with self.repository.transaction() as tx:
            self.current.last_error = ABANDONED
            incidents.resolve(tx, self.current, resolved_at=now, at=now, now=now, skip=skip)
        self.current = None

    def abandon_stale(self, skip: Sequence[str] = ()) -> int:
        """Close as abandoned the alerts of this source left open by a `wm tail` that ended
        without closing them (killed); how many."""
        now = datetime.now(timezone.utc)
        with self.repository.transaction() as tx:
            stale = [
                incident
                for incident in incidents.load_open(tx, ("traffic",)).values()
                if incident.source == self.source
                and (self.current is None or incident.id != self.current.id)
            ]
            for incident in stale:
                incident.last_error = ABANDONED
                incidents.resolve(tx, incident, resolved_at=now, at=now, now=now, skip=skip)
        return len(stale)
