"""What the views read of the probes besides `wm stats`: series, latest results, new rows.

Nothing here knows about HTTP; `wm serve` (`probes.web`) and `wm top` call these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from website_monitor.probes.models import Probe, ProbeSeries, SeriesPoint, UrlSeries
from website_monitor.probes.stats import PERCENTILES, ms
from website_monitor.store import Reader, Where
from website_monitor.times import as_utc, choose_bucket, from_epoch, iso

#: Columns shown for one probe result in the API and live updates.
PROBE_FIELDS = (
    "id",
    "url",
    "timestamp",
    "http_status_code",
    "response_time_ms",
    "error",
    "ok",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "ttfb_ms",
)


@dataclasses.dataclass(frozen=True)
class SeriesQuery:
    urls: Sequence[str] = ()
    since: datetime | None = None
    until: datetime | None = None
    #: Bucket width in seconds; None picks one for the time range.
    bucket: int | None = None


def probe_series(reader: Reader, query: SeriesQuery) -> ProbeSeries:
    """Per URL, one point per time bucket: probes, p50/p95/p99 and availability.

    `t` is the bucket's start (UTC, ISO 8601); buckets without probes are absent.
    Percentiles are percentile_cont over `response_time_ms`, as in `wm stats`.
    """
    dialect = reader.dialect
    where = (
        Where(dialect)
        .any_of("url", query.urls, keyed=True)
        .compare("timestamp", ">=", query.since)
        .compare("timestamp", "<", query.until)
    )
    bucket = query.bucket
    if bucket is None:
        span = reader.query(
            f"SELECT min(timestamp) AS first, max(timestamp) AS last FROM url_probes{where.sql}",
            where.params,
        )[0]
        bucket = choose_bucket(
            as_utc(span["first"]) if span["first"] is not None else None,
            as_utc(span["last"]) if span["last"] is not None else None,
        )
    percentiles = ", ".join(
        f"{dialect.percentile(fraction, 'response_time_ms')} AS {name}"
        for name, fraction in PERCENTILES
    )
    sql = (
        f"SELECT url, ({dialect.epoch('timestamp')} / {int(bucket)}) * {int(bucket)} AS bucket,"
        f" count(*) AS probes, {percentiles},"
        " avg(CASE WHEN ok THEN 1.0 ELSE 0.0 END) AS availability"
        f" FROM url_probes{where.sql} GROUP BY url, bucket ORDER BY url, bucket"
    )
    series: dict[str, list[SeriesPoint]] = {}
    for row in reader.query(sql, where.params):
        series.setdefault(row["url"], []).append(
            SeriesPoint(
                t=from_epoch(int(row["bucket"])),
                probes=int(row["probes"]),
                p50_ms=ms(row["p50_ms"]),
                p95_ms=ms(row["p95_ms"]),
                p99_ms=ms(row["p99_ms"]),
                availability=round(float(row["availability"] or 0.0), 6),
            )
        )
    return ProbeSeries(
        bucket_seconds=int(bucket),
        series=[UrlSeries(url=url, points=points) for url, points in series.items()],
    )


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


def latest_per_url(reader: Reader) -> list[Probe]:
    """The newest result of each URL (by timestamp, then id), ordered by URL."""
    rows = reader.query(
        f"SELECT {', '.join('p.' + f for f in PROBE_FIELDS)} FROM url_probes p"
        " JOIN (SELECT url, max(timestamp) AS ts FROM url_probes GROUP BY url) m"
        " ON p.url = m.url AND p.timestamp = m.ts ORDER BY p.url, p.id"
    )
    latest: dict[str, Probe] = {}
    for row in rows:
        latest[row["url"]] = probe(row)  # the highest id wins a tie
    return list(latest.values())


def newest_timestamp(reader: Reader) -> datetime | None:
    """The newest `timestamp` stored, if any."""
    value = reader.query("SELECT max(timestamp) AS t FROM url_probes")[0]["t"]
    return None if value is None else as_utc(value)


def count_probes(reader: Reader) -> int:
    return int(reader.query("SELECT count(*) AS n FROM url_probes")[0]["n"])
