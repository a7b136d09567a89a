"""What the views read of the probes besides `wm stats`: series, latest results, new rows.

Nothing here knows about HTTP; `wm serve` (`probes.web`) and `wm top` call these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from website_monitor.probes import latest, series
from website_monitor.probes.models import PERCENTILES, Probe, ProbeSeries, SeriesPoint, UrlSeries
from website_monitor.probes.rollups import ROLLUP, rolled_up_to
from website_monitor.probes.stats import ms
from website_monitor.probes.uptime import GOOD_CHECKS_SQL, uptime
from website_monitor.rollups import prune
from website_monitor.rollups.sketch import DAY
from website_monitor.store import Reader, Repository, Row, Where
from website_monitor.store.base import reading
from website_monitor.times import as_utc, choose_bucket, from_epoch, iso

#: Columns read for one probe result in the API and live updates: those `probe_latest`
#: keeps of each URL's newest.
PROBE_FIELDS = latest.COLUMNS


@dataclasses.dataclass(frozen=True)
class SeriesQuery:
    urls: Sequence[str] = ()
    since: datetime | None = None
    until: datetime | None = None
    #: Bucket width in seconds; None picks one for the time range.
    bucket: int | None = None


def probe_series(store: Reader | Repository, query: SeriesQuery) -> ProbeSeries:
    """Per URL, one point per time bucket: probes, p50/p95/p99 and availability.

    `t` is the bucket's start (UTC, ISO 8601); buckets without probes are absent.
    Percentiles are percentile_cont over `response_time_ms`, as in `wm stats`:
    the points of periods that are over come from `probe_series` (stored once,
    for the widths in `series.WIDTHS`), the others from the raw rows.
    """
    with reading(store) as reader:
        bucket = query.bucket or _auto_bucket(reader, query)
        since = query.since
        if not prune.covers(reader, ROLLUP, since):
            if bucket not in series.WIDTHS:
                prune.check_exact(reader, ROLLUP, since, f"a series of {bucket}s buckets")
            if since is not None:  # its first bucket whole, from the stored points
                since = as_time(int(since.timestamp()) // bucket * bucket)
            query = dataclasses.replace(query, since=since)
        span = series.stored_span(reader, bucket, query.since, query.until)
        points: dict[tuple[str, int], Row] = {}
        if span.empty:
            ranges = [(query.since, query.until)]
        else:
            for row in series.stored_points(reader, span, list(query.urls)):
                points[(row["url"], int(row["bucket"]))] = row
            # the partial period at the start, the periods not over, late rows' periods
            ranges = [(as_time(span.end), query.until), *_late(reader, span)]
            if query.since is not None:
                ranges.append((query.since, as_time(span.start)))
        for since, until in ranges:
            if since is not None and until is not None and since >= until:
                continue
            for row in _raw_points(reader, query.urls, since, until, bucket):
                points[(row["url"], int(row["bucket"]))] = row
    by_url: dict[str, list[SeriesPoint]] = {}
    for (url, start), row in sorted(points.items()):
        by_url.setdefault(url, []).append(
            SeriesPoint(
                t=from_epoch(start),
                probes=int(row["probes"]),
                p50_ms=ms(row["p50_ms"]),
                p95_ms=ms(row["p95_ms"]),
                p99_ms=ms(row["p99_ms"]),
                availability=uptime(int(row["ok"] or 0), int(row["probes"])),
            )
        )
    return ProbeSeries(
        bucket_seconds=int(bucket),
        series=[UrlSeries(url=url, points=points) for url, points in by_url.items()],
    )


def _auto_bucket(reader: Reader, query: SeriesQuery) -> int:
    """A bucket width for the range: open ends are the first and last probe stored."""
    first, last = query.since, query.until
    if first is None or last is None:
        where = Where(reader.dialect).any_of("url", query.urls, keyed=True)
        span = reader.query(
            f"SELECT min(timestamp) AS first, max(timestamp) AS last FROM url_probes{where.sql}",
            where.params,
        )[0]
        if first is None:  # points may be stored from before the raw rows kept
            stored = reader.query(
                f"SELECT min(period_start) AS first FROM {series.TABLE}"
                f" WHERE width = {series.WIDTHS[-1]}"
            )[0]["first"]
            starts = [as_utc(span["first"])] if span["first"] is not None else []
            starts += [as_time(int(stored))] if stored is not None else []
            first = min(starts, default=None)
        last = last or (as_utc(span["last"]) if span["last"] is not None else None)
    return choose_bucket(first, last)


def _late(reader: Reader, span: series.Stored) -> list[tuple[datetime, datetime]]:
    """The periods of the span that rows not rolled up yet fall in: computed from raw rows."""
    dialect = reader.dialect
    width = span.width
    rows = reader.query(
        f"SELECT DISTINCT ({dialect.epoch('timestamp')} / {width}) * {width} AS p"
        f" FROM url_probes WHERE id > {dialect.placeholder}"
        f" AND timestamp >= {dialect.placeholder} AND timestamp < {dialect.placeholder}",
        (rolled_up_to(reader), as_time(span.start), as_time(span.end)),
    )
    return [(as_time(int(r["p"])), as_time(int(r["p"]) + width)) for r in rows]


def _raw_points(
    reader: Reader,
    urls: Sequence[str],
    since: datetime | None,
    until: datetime | None,
    bucket: int,
) -> list[Row]:
    dialect = reader.dialect
    where = (
        Where(dialect)
        .any_of("url", urls, keyed=True)
        .compare("timestamp", ">=", since)
        .compare("timestamp", "<", until)
    )
    percentiles = ", ".join(
        f"{dialect.percentile(fraction, 'response_time_ms')} AS {name}"
        for name, fraction in PERCENTILES
    )
    return reader.query(
        f"SELECT url, ({dialect.epoch('timestamp')} / {int(bucket)}) * {int(bucket)} AS bucket,"
        f" count(*) AS probes, {percentiles}, {GOOD_CHECKS_SQL} AS ok"
        f" FROM url_probes{where.sql} GROUP BY url, bucket ORDER BY url, bucket",
        where.params,
    )


def as_time(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def probe(row: dict[str, Any]) -> Probe:
    """A stored row as the API shows it."""
    return Probe(
        id=int(row["id"]),
        url=row["url"],
        timestamp=iso(row["timestamp"]) or "",
        http_status_code=row["http_status_code"],
        response_time_ms=row["response_time_ms"],
        error=row["error"],
        ok=None if row["ok"] is None else bool(row["ok"]),
        dns_ms=row["dns_ms"],
        connect_ms=row["connect_ms"],
        tls_ms=row["tls_ms"],
        ttfb_ms=row["ttfb_ms"],
        location=row["location"],
        cert_expires_at=iso(row["cert_expires_at"]),
        failed_condition=row["failed_condition"],
    )


def latest_probe_id(reader: Reader) -> int:
    rows = reader.query("SELECT max(id) AS id FROM url_probes")
    return int(rows[0]["id"] or 0)


def probes_after(reader: Reader, after: int, limit: int = 500) -> list[Probe]:
    """Rows with an id above `after`, oldest first: the live feed's next page."""
    mark = reader.dialect.placeholder
    rows = reader.query(
        f"SELECT {', '.join(PROBE_FIELDS)} FROM url_probes"
        f" WHERE id > {mark} ORDER BY id LIMIT {mark}",
        [after, limit],
    )
    return [probe(row) for row in rows]


def newest_probes(reader: Reader, limit: int = 10) -> list[Probe]:
    """The last rows stored, newest first."""
    rows = reader.query(
        f"SELECT {', '.join(PROBE_FIELDS)} FROM url_probes"
        f" ORDER BY id DESC LIMIT {reader.dialect.placeholder}",
        [limit],
    )
    return [probe(row) for row in rows]


def latest_per_url(store: Reader | Repository) -> list[Probe]:
    """The newest result of each URL (by timestamp, then id), ordered by URL."""
    with reading(store) as reader:
        return [probe(row) for row in latest.latest_rows(reader, rolled_up_to(reader))]


def latest_by_location(reader: Reader, url: str, scan: int = 200) -> list[Probe]:
    """The newest result of each location that checked `url`, among its last `scan` results.

    Bounded (one indexed read of the URL's newest rows), so a location that
    stopped probing long ago drops out rather than being reported forever; a
    result stored without a location (before locations existed) counts as one
    location of its own (None).
    """
    where = Where(reader.dialect).any_of("url", [url], keyed=True)
    rows = reader.query(
        f"SELECT {', '.join(PROBE_FIELDS)} FROM url_probes{where.sql}"
        f" ORDER BY timestamp DESC, id DESC LIMIT {int(scan)}",
        where.params,
    )
    newest: dict[str | None, Probe] = {}
    for row in rows:
        newest.setdefault(row["location"], probe(row))
    return list(newest.values())


def newest_timestamp(reader: Reader) -> datetime | None:
    """The newest `timestamp` stored, if any."""
    value = reader.query("SELECT max(timestamp) AS t FROM url_probes")[0]["t"]
    return None if value is None else as_utc(value)


def count_probes(reader: Reader) -> int:
    """The probe results stored: those in the day rollups, and those not rolled up yet.

    Counting url_probes itself would read all of it (0.6 s at 10M rows); the day
    rows are far fewer. Results whose raw rows were pruned are still counted.
    """
    with reading(reader) as snapshot:
        rolled = snapshot.query(
            f"SELECT coalesce(sum(probes), 0) AS n FROM rollup_summary WHERE width = {DAY}"
        )
        recent = snapshot.query(
            f"SELECT count(*) AS n FROM url_probes WHERE id > {snapshot.dialect.placeholder}",
            (rolled_up_to(snapshot),),
        )
        return int(rolled[0]["n"]) + int(recent[0]["n"])
