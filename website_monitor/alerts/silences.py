"""Silences: a URL whose notifications are held back until a time (`wm alert silence`).

Incidents are still opened and resolved while a URL is silenced; their
notifications are recorded as suppressed, and an incident still open when the
silence ends is announced then.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from website_monitor.alerts.models import Silence, Silenced
from website_monitor.rollups.maintain import clock
from website_monitor.store import Repository
from website_monitor.times import iso


def silence(repository: Repository, url: str, seconds: float, reason: str | None) -> Silenced:
    """Silence `url` for `seconds` from now (0: end its silences now)."""
    now = datetime.fromtimestamp(clock(repository), timezone.utc)
    mark = repository.placeholder
    with repository.transaction() as tx:
        tx.execute(
            f"UPDATE silences SET ends_at = {mark} WHERE url = {mark} AND ends_at > {mark}",
            (now, url, now),
        )
        ends = now + timedelta(seconds=seconds)
        created = Silence(
            id=str(uuid.uuid4()),
            url=url,
            starts_at=iso(now) or "",
            ends_at=iso(ends) or "",
            reason=reason,
        )
        if seconds > 0:
            tx.execute(
                "INSERT INTO silences (id, url, starts_at, ends_at, reason)"
                f" VALUES ({tx.dialect.marks(5)})",
                (created.id, url, now, ends, reason),
            )
    return Silenced(silence=created)
