"""Incidents and their transitions, written with their notifications in the caller's transaction.

An incident is opened, reminded of and resolved through these functions only.
Each transition (`open`, `remind-N`, `resolve`) is one row of
`incident_transitions` and one outbox row per notifier, all in the
transaction that also moves the evaluator's position (or records `wm tail`'s
alert), so a transition is never lost and never stored twice. An outbox row
carries the payload as it will be sent and the dedup key `<incident id>:<transition>`,
the same on every attempt.

A transition during a maintenance window or a silence is recorded with its
notifications marked `suppressed` (nothing is sent). An open incident not yet
announced is announced as soon as nothing holds it back any more
(`announce`), and a resolution goes to the notifiers that were told of the
opening, only those.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from website_monitor.store import Reader, Transaction
from website_monitor.times import as_utc, iso

_COLUMNS = (
    "id, alert, kind, url, source, severity, state, open_key, started_at, resolved_at,"
    " failures, last_error, peak, threshold, maintenance, announced, reminders, notified_at"
)


@dataclasses.dataclass
class Incident:
    id: str
    alert: str
    kind: str
    url: str | None
    source: str | None
    severity: str
    state: str
    open_key: str | None
    started_at: datetime
    resolved_at: datetime | None = None
    failures: int = 0
    last_error: str | None = None
    peak: float | None = None
    threshold: float | None = None
    maintenance: bool = False
    announced: bool = False
    reminders: int = 0
    notified_at: datetime | None = None

    @classmethod
    def new(
        cls,
        kind: str,
        alert: str,
        started_at: datetime,
        *,
        url: str | None = None,
        source: str | None = None,
        severity: str = "page",
        **fields: Any,
    ) -> Incident:
        return cls(
            id=str(uuid.uuid4()),
            alert=alert,
            kind=kind,
            url=url,
            source=source,
            severity=severity,
            state="open",
            open_key=open_key(kind, alert, url or source, severity),
            started_at=started_at,
            **fields,
        )

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Incident:
        def moment(name: str) -> datetime | None:
            return None if row[name] is None else as_utc(row[name])

        started = moment("started_at")
        assert started is not None
        return cls(
            id=str(row["id"]),
            alert=row["alert"],
            kind=row["kind"],
            url=row["url"],
            source=row["source"],
            severity=row["severity"],
            state=row["state"],
            open_key=row["open_key"],
            started_at=started,
            resolved_at=moment("resolved_at"),
            failures=int(row["failures"]),
            last_error=row["last_error"],
            peak=None if row["peak"] is None else float(row["peak"]),
            threshold=None if row["threshold"] is None else float(row["threshold"]),
            maintenance=bool(row["maintenance"]),
            announced=bool(row["announced"]),
            reminders=int(row["reminders"]),
            notified_at=moment("notified_at"),
        )

    def document(self) -> dict[str, Any]:
        """What `wm incidents` prints of it (but `notified`), and what payloads carry."""
        return {
            "id": self.id,
            "alert": self.alert,
            "url": self.url,
            "kind": self.kind,
            "state": self.state,
            "started_at": iso(self.started_at),
            "resolved_at": iso(self.resolved_at),
            "failures": self.failures,
            "last_error": self.last_error,
            "source": self.source,
            "severity": self.severity,
            "peak": None if self.peak is None else round(self.peak, 6),
            "threshold": self.threshold,
            "maintenance": self.maintenance,
        }


def open_key(kind: str, alert: str, subject: str | None, severity: str) -> str:
    """Unique among open incidents: one per kind, rule, URL (or source) and severity.

    A hash, so that a URL of any length fits in the unique index.
    """
    text = json.dumps([kind, alert, subject, severity], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_open(reader: Reader, kinds: Sequence[str] = ()) -> dict[str, Incident]:
    """The open incidents (of `kinds`, or all), by their open key (or id, if they have none)."""
    mark = reader.dialect.placeholder
    where = "state = 'open'"
    if kinds:
        where += f" AND kind IN ({', '.join(mark for _ in kinds)})"
    rows = reader.query(f"SELECT {_COLUMNS} FROM incidents WHERE {where}", list(kinds))
    found = (Incident.from_row(row) for row in rows)
    return {incident.open_key or incident.id: incident for incident in found}


def save(tx: Transaction, incident: Incident) -> None:
    mark = tx.dialect.placeholder
    tx.execute(
        f"UPDATE incidents SET state = {mark}, open_key = {mark}, resolved_at = {mark},"
        f" failures = {mark}, last_error = {mark}, peak = {mark}, maintenance = {mark},"
        f" announced = {mark}, reminders = {mark}, notified_at = {mark} WHERE id = {mark}",
        (
            incident.state,
            incident.open_key,
            incident.resolved_at,
            incident.failures,
            incident.last_error,
            incident.peak,
            incident.maintenance,
            incident.announced,
            incident.reminders,
            incident.notified_at,
            incident.id,
        ),
    )


def open_incident(
    tx: Transaction,
    incident: Incident,
    *,
    at: datetime,
    now: datetime,
    targets: Sequence[str],
    suppressed: str | None = None,
    payloads: Mapping[str, dict[str, Any]] | None = None,
) -> None:
    """Store a new incident and its `open` transition, with notifications to `targets`."""
    tx.execute(
        f"INSERT INTO incidents ({_COLUMNS}) VALUES ({tx.dialect.marks(18)})",
        (
            incident.id,
            incident.alert,
            incident.kind,
            incident.url,
            incident.source,
            incident.severity,
            incident.state,
            incident.open_key,
            incident.started_at,
            incident.resolved_at,
            incident.failures,
            incident.last_error,
            incident.peak,
            incident.threshold,
            incident.maintenance,
            incident.announced,
            incident.reminders,
            incident.notified_at,
        ),
    )
    _transition(tx, incident, "open", at, now, targets, suppressed, payloads)
    save(tx, incident)


def resolve(
    tx: Transaction,
    incident: Incident,
    *,
    resolved_at: datetime,
    at: datetime,
    now: datetime,
    payloads: Mapping[str, dict[str, Any]] | None = None,
    skip: Sequence[str] = (),
) -> None:
    """Close the incident; the notifiers told of it (but `skip`) are told it is over."""
    incident.state = "resolved"
    incident.open_key = None
    incident.resolved_at = resolved_at
    told = [name for name in announced_to(tx, incident.id) if name not in skip]
    held = [name for name in notified_names(tx, incident.id) if name not in (*told, *skip)]
    _transition(tx, incident, "resolve", at, now, told, None, payloads, held=held)
    save(tx, incident)


def remind(tx: Transaction, incident: Incident, *, now: datetime) -> None:
    """Repeat the news of an incident still open, to the notifiers told of it."""
    incident.reminders += 1
    told = announced_to(tx, incident.id)
    _transition(tx, incident, f"remind-{incident.reminders}", now, now, told, None)
    save(tx, incident)


def announce(tx: Transaction, incident: Incident, *, now: datetime) -> bool:
    """Send the `open` notifications held back (maintenance, a silence) now that nothing
    holds them any more; whether there were any."""
    mark = tx.dialect.placeholder
    released = tx.execute(
        f"UPDATE notifications SET state = 'pending', next_attempt_at = {mark}, last_error = NULL"
        f" WHERE incident_id = {mark} AND transition = 'open' AND state = 'suppressed'",
        (now, incident.id),
    )
    tx.execute(
        f"UPDATE incident_transitions SET suppressed = NULL WHERE incident_id = {mark}"
        " AND transition = 'open'",
        (incident.id,),
    )
    incident.announced = True
    incident.notified_at = now
    save(tx, incident)
    return released > 0


def notified_names(reader: Reader, incident_id: str) -> list[str]:
    """Every notifier that has a notification of the incident, sent or held back."""
    rows = reader.query(
        "SELECT DISTINCT notifier FROM notifications WHERE incident_id ="
        f" {reader.dialect.placeholder} ORDER BY notifier",
        (incident_id,),
    )
    return [str(row["notifier"]) for row in rows]


def announced_to(reader: Reader, incident_id: str) -> list[str]:
    """The notifiers told of the incident's opening (sent, or on the way)."""
    rows = reader.query(
        "SELECT DISTINCT notifier FROM notifications WHERE incident_id ="
        f" {reader.dialect.placeholder} AND transition = 'open' AND state <> 'suppressed'"
        " ORDER BY notifier",
        (incident_id,),
    )
    return [str(row["notifier"]) for row in rows]


def _transition(
    tx: Transaction,
    incident: Incident,
    transition: str,
    at: datetime,
    now: datetime,
    targets: Sequence[str],
    suppressed: str | None,
    payloads: Mapping[str, dict[str, Any]] | None = None,
    *,
    held: Sequence[str] = (),
) -> None:
    """Record one transition and its notifications: to `targets` (sent unless
    `suppressed` says why not) and, marked suppressed, to `held`."""
    tx.execute(
        "INSERT INTO incident_transitions (incident_id, transition, at, recorded_at, suppressed)"
        f" VALUES ({tx.dialect.marks(5)})",
        (incident.id, transition, at, now, suppressed),
    )
    if suppressed == "maintenance":
        incident.maintenance = True
    generic = payload(incident, transition, at)
    rows = []
    for name, reason in [
        *((n, suppressed) for n in targets),
        *((n, "not announced") for n in held),
    ]:
        body = (payloads or {}).get(name, generic)
        rows.append(
            (
                incident.id,
                transition,
                name,
                generic["dedup_key"],
                json.dumps(body),
                "suppressed" if reason else "pending",
                now,
                now,
                reason,
            )
        )
    if rows:
        tx.executemany(
            "INSERT INTO notifications (incident_id, transition, notifier, dedup_key, payload,"
            f" state, next_attempt_at, created_at, last_error) VALUES ({tx.dialect.marks(9)})",
            rows,
        )
    if targets and not suppressed and transition == "open":
        incident.announced = True
    if targets and not suppressed:
        incident.notified_at = now


def payload(incident: Incident, transition: str, at: datetime) -> dict[str, Any]:
    """The generic notification document (what a webhook receives)."""
    event = transition.split("-", 1)[0]
    return {
        "version": 1,
        "dedup_key": f"{incident.id}:{transition}",
        "transition": transition,
        "event": event,
        "at": iso(at),
        "summary": summary(incident, event),
        "incident": incident.document(),
    }


def summary(incident: Incident, event: str) -> str:
    """One line saying what happened, for people."""
    subject = incident.url or incident.source or ""
    name = incident.alert
    prefix = {"remind": "still open: ", "test": "test: "}.get(event, "")
    if incident.kind == "down":
        if event == "resolve":
            return (
                f"{name}: {subject} is up again after {incident.failures} failed checks"
                f" (down since {iso(incident.started_at)})"
            )
        last = f" (last: {incident.last_error})" if incident.last_error else ""
        return (
            f"{prefix}{name}: {subject} is down: {incident.failures} failed checks since"
            f" {iso(incident.started_at)}{last}"
        )
    if incident.kind == "latency":
        if event == "resolve":
            return f"{name}: {subject} is fast again"
        return f"{prefix}{name}: {subject} is slow: {incident.last_error or ''}".rstrip(": ")
    if incident.kind == "slo_burn":
        if event == "resolve":
            return f"{name}: the error budget burn rate is below {incident.threshold:g}x again"
        return (
            f"{prefix}{name}: error budget burning at {incident.peak or 0:.1f}x"
            f" ({incident.last_error or ''})"
        )
    if incident.kind == "traffic":
        if event == "resolve":
            return f"{name} on {subject}: over" + (
                f" ({incident.last_error})" if incident.last_error else ""
            )
        return (
            f"{prefix}{name} on {subject}: {incident.peak or 0:.2f} hits/s"
            f" (threshold {incident.threshold or 0:g})"
        )
    return f"{prefix}{name}: {event}"
