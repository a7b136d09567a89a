"""Read-side queries behind `wm serve` and `wm top`: plain functions over a Repository.

Nothing here knows about HTTP. Percentiles per URL come from `stats.probe_stats`
(the same code as `wm stats`); this module adds what the views need on top:
latency and availability per time bucket, the newest rows after a cursor (for
live updates), the latest result per URL, and counts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
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


# --- access-log hits, alerts, telemetry ---------------------------------------------------


def hits_json(
    repository: Repository, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Any]:
    """Exactly what `wm stats --hits` prints for the same range."""
    from website_monitor.logs.report import hit_stats

    return {"hits": hit_stats(repository, since=since, until=until)}


def alerts_json(repository: Repository, source: str | None = None) -> dict[str, Any]:
    """Exactly what `wm alerts` prints."""
    from website_monitor.logs.store import list_alerts

    return {"alerts": list_alerts(repository, source=source)}


def stations_json(
    repository: Repository,
    since: datetime | None = None,
    until: datetime | None = None,
    names: Sequence[str] = (),
) -> dict[str, Any]:
    """Exactly what `wm stations` prints."""
    from website_monitor.telemetry.store import telemetry_document

    return telemetry_document(repository, since=since, until=until, names=names)


def alert_thresholds(repository: Repository) -> dict[str, float]:
    """Per source, the threshold of its newest recorded alert (the only place it is stored)."""
    thresholds: dict[str, float] = {}
    for alert in alerts_json(repository)["alerts"]:  # oldest first: the newest wins
        thresholds[alert["source"]] = alert["threshold"]
    return thresholds


def hits_series(
    repository: Repository,
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: int | None = None,
) -> dict[str, Any]:
    """Per source, hits and hits/s per time bucket, with the source's alert threshold.

    `threshold` is that of the source's newest recorded alert (`wm tail` keeps it
    only there), or null when no alert was ever recorded for the source.
    """
    where, params = _filters(repository, (), since, until)
    if bucket is None:
        span = repository.query(
            f"SELECT min(timestamp) AS first, max(timestamp) AS last FROM hits{where}", params
        )[0]
        bucket = choose_bucket(
            _as_utc(span["first"]) if span["first"] is not None else None,
            _as_utc(span["last"]) if span["last"] is not None else None,
        )
    epoch = _epoch_sql(repository)
    rows = repository.query(
        f"SELECT source, ({epoch} / {int(bucket)}) * {int(bucket)} AS bucket, count(*) AS hits"
        f" FROM hits{where} GROUP BY source, bucket ORDER BY source, bucket",
        params,
    )
    series: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        hits = int(row["hits"])
        series.setdefault(row["source"], []).append(
            {
                "t": datetime.fromtimestamp(int(row["bucket"]), timezone.utc).isoformat(),
                "hits": hits,
                "hits_per_second": round(hits / int(bucket), 6),
            }
        )
    thresholds = alert_thresholds(repository)
    return {
        "bucket_seconds": int(bucket),
        "series": [
            {"source": source, "threshold": thresholds.get(source), "points": points}
            for source, points in series.items()
        ],
    }


def latest_hit_id(repository: Repository) -> int:
    return int(repository.query("SELECT max(id) AS id FROM hits")[0]["id"] or 0)


def hits_after(repository: Repository, after: int, limit: int = 0) -> list[dict[str, Any]]:
    """New hits above `after`, summed per source in one event (`id`: the highest id).

    One row per poll, not one per hit: a busy server stores thousands a second.
    """
    mark = repository.placeholder
    rows = repository.query(
        f"SELECT source, count(*) AS hits, max(id) AS id, max(timestamp) AS newest FROM hits"
        f" WHERE id > {mark} GROUP BY source ORDER BY source",
        [after],
    )
    if not rows:
        return []
    return [
        {
            "id": max(int(row["id"]) for row in rows),
            "hits": sum(int(row["hits"]) for row in rows),
            "sources": {
                row["source"]: {"hits": int(row["hits"]), "newest": iso(row["newest"])}
                for row in rows
            },
        }
    ]


def alert_changes(repository: Repository) -> int:
    """How many times the alerts table changed: one per alert started, one per alert ended.

    Rows are never deleted, so this only grows: the live stream's cursor.
    """
    row = repository.query("SELECT count(*) AS n, count(ended_at) AS ended FROM alerts")[0]
    return int(row["n"] or 0) + int(row["ended"] or 0)


def alerts_after(repository: Repository, after: int, limit: int = 0) -> list[dict[str, Any]]:
    """When alerts changed since cursor `after`: one event with the open alerts."""
    changes = alert_changes(repository)
    if changes <= after:
        return []
    alerts = alerts_json(repository)["alerts"]
    return [{"id": changes, "open": [a for a in alerts if a["ended_at"] is None]}]


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _micros(value: Any) -> int:
    return (_as_utc(value) - _EPOCH) // timedelta(microseconds=1)


def latest_bucket_update(repository: Repository) -> int:
    """The newest `updated_at` of the telemetry buckets, in microseconds since the epoch."""
    value = repository.query("SELECT max(updated_at) AS t FROM telemetry_buckets")[0]["t"]
    return 0 if value is None else _micros(value)


def buckets_after(repository: Repository, after: int, limit: int = 200) -> list[dict[str, Any]]:
    """Telemetry buckets updated after `after` (µs): name, type, start and counts.

    The cursor is the update time, so a write that commits with an older time than
    one already seen is noticed only by the next refresh of the page.
    """
    mark = repository.placeholder
    since = _EPOCH + timedelta(microseconds=after)
    rows = repository.query(
        "SELECT name, metric_type, bucket_start, arrivals, departures, samples, updated_at"
        f" FROM telemetry_buckets WHERE updated_at > {mark} ORDER BY updated_at LIMIT {mark}",
        [since, limit],
    )
    return [
        {
            "id": _micros(row["updated_at"]),
            "name": row["name"],
            "type": row["metric_type"],
            "bucket_start": iso(row["bucket_start"]),
            "arrivals": int(row["arrivals"]),
            "departures": int(row["departures"]),
            "count": int(row["samples"]),
        }
        for row in rows
    ]


def newest_timestamp(repository: Repository, table: str) -> datetime | None:
    """The newest `timestamp` stored in `table` (url_probes or hits), if any."""
    if table not in ("url_probes", "hits"):
        raise ValueError(table)
    value = repository.query(f"SELECT max(timestamp) AS t FROM {table}")[0]["t"]
    return None if value is None else _as_utc(value)


def hits_per_second(repository: Repository, seconds: float, now: datetime) -> dict[str, float]:
    """Per source, hits stamped within the last `seconds` before `now`, divided by `seconds`."""
    mark = repository.placeholder
    rows = repository.query(
        "SELECT source, count(*) AS n FROM hits"
        f" WHERE timestamp >= {mark} AND timestamp <= {mark} GROUP BY source ORDER BY source",
        [now - timedelta(seconds=seconds), now],
    )
    return {row["source"]: int(row["n"]) / seconds for row in rows}
