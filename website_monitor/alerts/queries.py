"""What the views read of the incidents: the list with its notifications, changes, counts."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from website_monitor.alerts.incidents import Incident as Stored
from website_monitor.alerts.models import Incident, Notified
from website_monitor.store import Reader, Repository, Where
from website_monitor.store.base import reading
from website_monitor.times import iso

_COLUMNS = (
    "i.id, i.alert, i.kind, i.url, i.source, i.severity, i.state, i.open_key, i.started_at,"
    " i.resolved_at, i.failures, i.last_error, i.peak, i.threshold, i.maintenance,"
    " i.announced, i.reminders, i.notified_at"
)


def _where(
    reader: Reader,
    since: datetime | None,
    state: str | None,
    kinds: tuple[str, ...],
    urls: tuple[str, ...],
) -> Where:
    where = (
        Where(reader.dialect)
        .compare("i.state", "=", state)
        .any_of("i.kind", kinds)
        .any_of("i.url", urls)
    )
    if since is not None:  # open at any time since then
        where.also("(i.resolved_at IS NULL OR i.resolved_at >= " + where.mark + ")", since)
    return where


def list_incidents(
    reader: Reader | Repository,
    *,
    since: datetime | None = None,
    state: str | None = None,
    kinds: tuple[str, ...] = (),
    urls: tuple[str, ...] = (),
) -> list[Incident]:
    """Incidents open at any time since `since`, oldest first, with their notifications."""
    with reading(reader) as snapshot:
        where = _where(snapshot, since, state, kinds, urls)
        rows = snapshot.query(
            f"SELECT {_COLUMNS} FROM incidents i{where.sql} ORDER BY i.started_at, i.id",
            where.params,
        )
        notified: dict[str, list[Notified]] = defaultdict(list)
        for row in snapshot.query(
            "SELECT n.incident_id, n.notifier, n.transition, n.dedup_key, n.state, n.attempts,"
            " n.sent_at, n.last_error FROM notifications n JOIN incidents i"
            f" ON i.id = n.incident_id{where.sql} ORDER BY n.id",
            where.params,
        ):
            notified[str(row["incident_id"])].append(
                Notified(
                    notifier=row["notifier"],
                    transition=row["transition"],
                    dedup_key=row["dedup_key"],
                    state=row["state"],
                    attempts=int(row["attempts"]),
                    sent_at=iso(row["sent_at"]),
                    error=row["last_error"],
                )
            )
    return [_document(Stored.from_row(row), notified[str(row["id"])]) for row in rows]


def _document(stored: Stored, notified: list[Notified]) -> Incident:
    document = stored.document()
    return Incident(**document, notified=notified)


def transitions_seen(reader: Reader) -> int:
    """The newest transition's number: grows with every incident opened, reminded, resolved."""
    return int(reader.query("SELECT coalesce(max(seq), 0) AS n FROM incident_transitions")[0]["n"])


def incidents_after(reader: Reader, after: int, limit: int = 0) -> list[dict[str, Any]]:
    """When incidents changed since cursor `after`: one event with those open now."""
    seen = transitions_seen(reader)
    if seen <= after:
        return []
    return [{"id": seen, "open": list_incidents(reader, state="open")}]
