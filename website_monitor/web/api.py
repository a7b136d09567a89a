"""Read-side queries behind `wm serve` and `wm top`: plain functions over a Repository.

Nothing here knows about HTTP. Percentiles per URL come from `stats.probe_stats`
(the same code as `wm stats`); this module adds what the views need on top:
latency and availability per time bucket, the newest rows after a cursor (for
live updates), the latest result per URL, and counts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from website_monitor import stats
from website_monitor.store import Repository

#: Bucket widths the series may use, in seconds; "auto" picks the first giving few enough points.
BUCKETS = (10, 30, 60, 300, 900, 3600, 6 * 3600, 86400)
MAX_POINTS = 360
SERIES_PERCENTILES = (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99))
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
    #: Bucket width in seconds; None picks one from BUCKETS for the time range.
    bucket: int | None = None


def stats_json(repository: Repository, query: stats.StatsQuery) -> dict[str, Any]:
    """Exactly what `wm stats` prints for the same filters."""
    return {"stats": stats.probe_stats(repository, query)}


def _filters(
    repository: Repository, urls: Sequence[str], since: datetime | None, until: datetime | None
) -> tuple[str, list[Any]]:
    mark = repository.placeholder
    where: list[str] = []
    params: list[Any] = []
    if urls:
        where.append(f"url IN ({', '.join(mark for _ in urls)})")
        params.extend(urls)
    if since is not None:
        where.append(f"timestamp >= {mark}")
        params.append(since)
    if until is not None:
        where.append(f"timestamp < {mark}")
        params.append(until)
    return (" WHERE " + " AND ".join(where) if where else ""), params


def _epoch_sql(repository: Repository) -> str:
    """Seconds since the epoch of `timestamp`, as an integer expression."""
    if repository.backend == "postgresql":
        return "CAST(floor(extract(epoch FROM timestamp)) AS BIGINT)"
    # SQLite keeps fixed-width UTC ISO text: the first 19 characters are the second.
    return "CAST(strftime('%s', substr(timestamp, 1, 19)) AS INTEGER)"


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    else:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed


def iso(value: Any) -> str | None:
    """A stored timestamp (datetime on PostgreSQL, text on SQLite) as ISO 8601 UTC."""
    if value is None:
        return None
    return _as_utc(value).astimezone(timezone.utc).isoformat()


def choose_bucket(first: datetime | None, last: datetime | None) -> int:
    if first is None or last is None:
        return BUCKETS[2]
    span = max((last - first).total_seconds(), 1.0)
    for width in BUCKETS:
        if span / width <= MAX_POINTS:
            return width
    return BUCKETS[-1]


def probe_series(repository: Repository, query: SeriesQuery) -> dict[str, Any]:
    """Per URL, one point per time bucket: probes, p50/p95/p99 and availability.

    `t` is the bucket's start (UTC, ISO 8601); buckets without probes are absent.
    Percentiles are percentile_cont over `response_time_ms`, as in `wm stats`.
    """
    where, params = _filters(repository, query.urls, query.since, query.until)
    bucket = query.bucket
    if bucket is None:
        span = repository.query(
            f"SELECT min(timestamp) AS first, max(timestamp) AS last FROM url_probes{where}",
            params,
        )[0]
        bucket = choose_bucket(
            _as_utc(span["first"]) if span["first"] is not None else None,
            _as_utc(span["last"]) if span["last"] is not None else None,
        )
    epoch = _epoch_sql(repository)
    percentiles = ", ".join(
        f"{repository.percentile_sql(fraction, 'response_time_ms')} AS {name}"
        for name, fraction in SERIES_PERCENTILES
    )
    sql = (
        f"SELECT url, ({epoch} / {int(bucket)}) * {int(bucket)} AS bucket,"
        f" count(*) AS probes, {percentiles},"
        " avg(CASE WHEN ok THEN 1.0 ELSE 0.0 END) AS availability"
        f" FROM url_probes{where} GROUP BY url, bucket ORDER BY url, bucket"
    )
    series: dict[str, list[dict[str, Any]]] = {}
    for row in repository.query(sql, params):
        point: dict[str, Any] = {
            "t": datetime.fromtimestamp(int(row["bucket"]), timezone.utc).isoformat(),
            "probes": int(row["probes"]),
        }
        for name, _ in SERIES_PERCENTILES:
            point[name] = None if row[name] is None else round(float(row[name]), 3)
        point["availability"] = round(float(row["availability"] or 0.0), 6)
        series.setdefault(row["url"], []).append(point)
    return {
        "bucket_seconds": int(bucket),
        "series": [{"url": url, "points": points} for url, points in series.items()],
    }


def _probe(row: dict[str, Any]) -> dict[str, Any]:
    value = {name: row.get(name) for name in PROBE_FIELDS}
    value["id"] = int(row["id"])
    value["timestamp"] = iso(row["timestamp"])
    value["ok"] = None if row["ok"] is None else bool(row["ok"])
    return value


def latest_probe_id(repository: Repository) -> int:
    rows = repository.query("SELECT max(id) AS id FROM url_probes")
    return int(rows[0]["id"] or 0)


def probes_after(repository: Repository, after: int, limit: int = 500) -> list[dict[str, Any]]:
    """Rows with an id above `after`, oldest first: the live feed's next page."""
    mark = repository.placeholder
    rows = repository.query(
        f"SELECT {', '.join(PROBE_FIELDS)} FROM url_probes"
        f" WHERE id > {mark} ORDER BY id LIMIT {mark}",
        [after, limit],
    )
    return [_probe(row) for row in rows]


def newest_probes(repository: Repository, limit: int = 10) -> list[dict[str, Any]]:
    """The last rows stored, newest first."""
    rows = repository.query(
        f"SELECT {', '.join(PROBE_FIELDS)} FROM url_probes"
        f" ORDER BY id DESC LIMIT {repository.placeholder}",
        [limit],
    )
    return [_probe(row) for row in rows]


def latest_per_url(repository: Repository) -> list[dict[str, Any]]:
    """The newest result of each URL (by timestamp, then id), ordered by URL."""
    rows = repository.query(
        f"SELECT {', '.join('p.' + f for f in PROBE_FIELDS)} FROM url_probes p"
        " JOIN (SELECT url, max(timestamp) AS ts FROM url_probes GROUP BY url) m"
        " ON p.url = m.url AND p.timestamp = m.ts ORDER BY p.url, p.id"
    )
    latest: dict[str, dict[str, Any]] = {}
    for row in rows:
        latest[row["url"]] = _probe(row)  # the highest id wins a tie
    return list(latest.values())


def dead_letter_count(repository: Repository) -> int:
    return int(repository.query("SELECT count(*) AS n FROM dead_letters")[0]["n"])


def latest_dead_letter_id(repository: Repository) -> int:
    return int(repository.query("SELECT max(id) AS id FROM dead_letters")[0]["id"] or 0)


def dead_letters_after(
    repository: Repository, after: int, limit: int = 100
) -> list[dict[str, Any]]:
    """Dead letters above `after` (id, position, reason; not the raw bytes)."""
    mark = repository.placeholder
    rows = repository.query(
        'SELECT id, topic, partition, "offset", reason, received_at FROM dead_letters'
        f" WHERE id > {mark} ORDER BY id LIMIT {mark}",
        [after, limit],
    )
    return [
        {
            "id": int(row["id"]),
            "topic": row["topic"],
            "partition": int(row["partition"]),
            "offset": int(row["offset"]),
            "reason": row["reason"],
            "received_at": iso(row["received_at"]),
        }
        for row in rows
    ]


def schema_json(repository: Repository) -> dict[str, Any]:
    status = repository.schema_status()
    return {
        "backend": status.backend,
        "current": status.current,
        "latest": status.latest,
        "pending": status.pending,
    }
