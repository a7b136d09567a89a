"""Keeping raw rows for a while only: their rollups answer for the time before.

A thousand URLs checked every 30 s add a billion raw rows a year. Pruning
deletes the raw rows older than a kept duration, once the rollups (and the
kind's extra tables) hold them; `state.raw_from` records since when raw rows
are kept, and reads of earlier time come from the rollups alone, at whole
days. On PostgreSQL the raw tables are partitioned by month, so most of a
prune is dropping whole months (instant, no dead rows left behind).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from website_monitor.errors import ConfigError
from website_monitor.rollups import maintain
from website_monitor.rollups.sketch import DAY
from website_monitor.rollups.spec import Rollup
from website_monitor.store import Reader, Repository

#: How often `wm flush` and the direct writer prune, when a kept duration is configured.
EVERY = DAY


@dataclasses.dataclass(frozen=True)
class Pruned:
    table: str
    deleted: int
    #: Raw rows are kept from here on (UTC); earlier time is answered from the rollups.
    raw_from: str


def raw_from(reader: Reader, rollup: Rollup) -> int:
    """Epoch second from which raw rows are kept (0: all of them)."""
    rows = reader.query(f"SELECT raw_from AS n FROM {rollup.state}")
    return int(rows[0]["n"]) if rows else 0


def covers(reader: Reader, rollup: Rollup, since: datetime | None) -> bool:
    """Whether raw rows are kept for a range starting at `since` (None: the beginning)."""
    kept = raw_from(reader, rollup)
    return not kept or (since is not None and since.timestamp() >= kept)


def check_exact(reader: Reader, rollup: Rollup, since: datetime | None, what: str) -> None:
    """ConfigError when `what` (exact figures) needs raw rows that were pruned."""
    if not covers(reader, rollup, since):
        kept = datetime.fromtimestamp(raw_from(reader, rollup), timezone.utc).isoformat()
        raise ConfigError(
            f"{what} needs the raw rows, and those before {kept} were pruned",
            hint=f"leave it out to read the rollups, or start the range at {kept} or later",
        )


def due(reader: Reader, rollup: Rollup, now: float) -> bool:
    """Whether the last prune is a day old."""
    rows = reader.query(f"SELECT pruned_at AS n FROM {rollup.state}")
    return not rows or now - int(rows[0]["n"]) >= EVERY


def prune(repository: Repository, rollup: Rollup, keep: float, now: float | None = None) -> Pruned:
    """Delete the raw rows older than `keep` seconds (at whole days), rollups first."""
    now = maintain.clock(repository) if now is None else now
    maintain.catch_up(repository, rollup, now=now)  # nothing is deleted that they lack
    cutoff = int((now - keep) // DAY * DAY)
    before = datetime.fromtimestamp(cutoff, timezone.utc)
    deleted = repository.delete_before(
        rollup.raw, before, maintain.rolled_up_to(repository, rollup)
    )
    dialect = repository.dialect
    mark = dialect.placeholder
    with repository.transaction() as tx:
        kept = tx.scalar(f"SELECT raw_from FROM {rollup.state}")
        tx.execute(
            f"UPDATE {rollup.state} SET raw_from = {mark}, pruned_at = {mark}",
            (max(int(kept or 0), cutoff), int(now)),
        )
    return Pruned(rollup.raw, deleted, before.isoformat())
