"""Series points computed once: per URL and period, the exact p50/p95/p99 and availability.

The dashboard's series (`/api/probes/series`) asks, per URL and time bucket,
for `percentile_cont` over the bucket's probes. Over long ranges that sorts
every raw row each time (13 s for a year of 10M probes). Buckets are aligned
on the epoch, so a period's point is the same for every query: the rollups'
catch-up stores it once the period is over, for the bucket widths the views
use (`WIDTHS`), and reads take the stored points of the periods that are over
and compute the rest (the periods still open, the partial ones at the edges of
the range) from the raw rows. The points are exact, and they stay after the
raw rows are pruned.

`rollup_state.series_to` (epoch seconds) says how far they go: for each width,
every period ending at or before it is stored. A catch-up moves it to
LATENESS before how far the probes it takes in have come: per URL among them
its newest, the oldest of those (or the database's clock, if earlier). A
backlog caught up in steps (`wm flush` after an outage, Kafka partitions
consumed unevenly) then stores most periods once, when the probes after them
are in, instead of storing every period up to the clock at the first step and
computing each again at every later step. A probe that arrives later for a
period already stored (from a spool) has its period computed again.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from website_monitor.probes.models import PERCENTILES
from website_monitor.probes.uptime import GOOD_CHECKS_SQL
from website_monitor.store import Reader, Row, Transaction, Where
from website_monitor.times import as_utc

TABLE = "probe_series"
#: Bucket widths whose points are stored: 5 and 15 minutes, 1 and 6 hours, 1 day.
WIDTHS = (300, 900, 3_600, 21_600, 86_400)
#: How long after a period ends its probes are taken to be in.
LATENESS = 120
_COLUMNS = "width, period_start, url, probes, ok, p50_ms, p95_ms, p99_ms"


def _points(reader: Reader | Transaction, width: int, where: str) -> str:
    """Per URL and period of `width`, the point of the url_probes rows matching `where`."""
    dialect = reader.dialect
    period = f"({dialect.epoch('timestamp')} / {width}) * {width}"
    percentiles = ", ".join(
        f"{dialect.percentile(fraction, 'response_time_ms')} AS {name}"
        for name, fraction in PERCENTILES
    )
    return (
        f"SELECT {width} AS width, {period} AS period_start, url, count(*) AS probes,"
        f" {GOOD_CHECKS_SQL} AS ok, {percentiles}"
        f" FROM url_probes WHERE {where} GROUP BY url, {period}"
    )


def _upsert(tx: Transaction) -> str:
    key = tx.dialect.text_key("url")
    kept = ", ".join(f"{c} = excluded.{c}" for c in ("probes", "ok", "p50_ms", "p95_ms", "p99_ms"))
    return f" ON CONFLICT (width, period_start, {key}) DO UPDATE SET {kept}"


def _between(tx: Transaction) -> str:
    mark = tx.dialect.placeholder
    return f"timestamp >= {tx.dialect.timestamp(mark)} AND timestamp < {tx.dialect.timestamp(mark)}"


class Series:
    """`probe_series`, as an extra table of the probes' rollups (`rollups.spec.Extra`)."""

    def add(self, tx: Transaction, lo: int, hi: int, now: float) -> None:
        if hi <= lo:
            return
        done = int(tx.scalar("SELECT series_to FROM rollup_state") or 0)
        mark = tx.dialect.placeholder
        # Per URL its newest new row; the URLs' oldest such is how far they all have come.
        span = tx.query(
            "SELECT min(oldest) AS oldest, min(newest) AS newest FROM (SELECT url,"
            " min(timestamp) AS oldest, max(timestamp) AS newest FROM url_probes"
            f" WHERE id > {mark} AND id <= {mark} GROUP BY url) AS x",
            (lo, hi),
        )[0]
        if span["newest"] is None:
            return
        if done and as_utc(span["oldest"]).timestamp() < done:
            self._recompute_late(tx, lo, hi, done)
        self._sweep(tx, done, min(now, as_utc(span["newest"]).timestamp()))

    def rebuild(self, tx: Transaction, upto: int, now: float) -> None:
        tx.execute(f"DELETE FROM {TABLE}")
        tx.execute("UPDATE rollup_state SET series_to = 0")
        self._sweep(tx, 0, now, upto)

    def _sweep(self, tx: Transaction, done: int, now: float, upto: int | None = None) -> None:
        """Store the periods that ended since `done`, and move the mark."""
        to = int((now - LATENESS) // WIDTHS[0] * WIDTHS[0])
        if to <= done:
            return
        if not done:  # a new mark: start at the oldest probe, not in 1970
            first = tx.scalar("SELECT min(timestamp) FROM url_probes")
            done = int(as_utc(first).timestamp()) // WIDTHS[-1] * WIDTHS[-1] if first else to
        mark = tx.dialect.placeholder
        limit = "" if upto is None else f" AND id <= {mark}"
        for width in WIDTHS:
            start, end = done // width * width, to // width * width
            if end <= start:
                continue
            params: tuple[int, ...] = (start, end) if upto is None else (start, end, upto)
            tx.execute(
                f"INSERT INTO {TABLE} ({_COLUMNS}) {_points(tx, width, _between(tx) + limit)}"
                + _upsert(tx),
                params,
            )
        tx.execute(f"UPDATE rollup_state SET series_to = {mark}", (to,))

    def _recompute_late(self, tx: Transaction, lo: int, hi: int, done: int) -> None:
        """The periods already stored that rows `lo < id <= hi` fall in: computed again."""
        dialect = tx.dialect
        mark = dialect.placeholder
        for width in WIDTHS:
            period = f"({dialect.epoch('timestamp')} / {width}) * {width}"
            late = tx.query(
                f"SELECT DISTINCT {period} AS p FROM url_probes"
                f" WHERE id > {mark} AND id <= {mark} AND timestamp < {dialect.timestamp(mark)}",
                (lo, hi, done // width * width),
            )
            for row in late:
                start = int(row["p"])
                tx.execute(
                    f"INSERT INTO {TABLE} ({_COLUMNS})"
                    f" {_points(tx, width, _between(tx))}" + _upsert(tx),
                    (start, start + width),
                )


@dataclasses.dataclass(frozen=True)
class Stored:
    """What the table can answer for a series of `width`: the whole periods in the range
    that are over (`start` to `end`, epoch seconds); raw rows answer the rest."""

    width: int
    start: int
    end: int

    @property
    def empty(self) -> bool:
        return self.end <= self.start


def stored_span(
    reader: Reader, width: int, since: datetime | None, until: datetime | None
) -> Stored:
    """The span of whole periods of `width` in [since, until) whose points are stored."""
    if width not in WIDTHS:
        return Stored(width, 0, 0)
    done = int(reader.query("SELECT series_to AS s FROM rollup_state")[0]["s"] or 0)
    start = 0 if since is None else -(-int(since.timestamp()) // width) * width
    end = done // width * width
    if until is not None:
        end = min(end, int(until.timestamp()) // width * width)
    return Stored(width, start, end)


def stored_points(reader: Reader, span: Stored, urls: list[str]) -> list[Row]:
    """The stored points of the span, per URL and period."""
    where = (
        Where(reader.dialect, f"width = {span.width}")
        .compare("period_start", ">=", span.start)
        .compare("period_start", "<", span.end)
        .any_of("url", urls, keyed=True)
    )
    return reader.query(
        f"SELECT url, period_start AS bucket, probes, ok, p50_ms, p95_ms, p99_ms FROM {TABLE}"
        f"{where.sql} ORDER BY url, period_start",
        where.params,
    )
