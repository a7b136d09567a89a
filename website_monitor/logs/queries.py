"""What the views read of the access logs: traffic per section, series, alerts, new hits.

Percentiles are PostgreSQL's `percentile_cont` on both backends.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from website_monitor.logs import rollups
from website_monitor.logs.models import Alert, HitPoint, HitSection, HitSeries, SourceSeries
from website_monitor.logs.summary import iso as summary_iso
from website_monitor.rollups import prune, read
from website_monitor.rollups.sketch import percentile
from website_monitor.store import Reader, Repository, Where
from website_monitor.store.base import reading
from website_monitor.times import as_utc, choose_bucket, from_epoch, iso

SIZE_PERCENTILES = (("bytes_p50", 0.5), ("bytes_p95", 0.95), ("bytes_p99", 0.99))
#: `wm stats --hits` reads raw rows up to this many hits in range, the rollups beyond.
EXACT_LIMIT = 100_000


def _time_range(reader: Reader, since: datetime | None, until: datetime | None) -> Where:
    return Where(reader.dialect).compare("timestamp", ">=", since).compare("timestamp", "<", until)


def hit_stats(
    store: Reader | Repository,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    sections: tuple[str, ...] = (),
    source: str = "auto",
) -> list[HitSection]:
    """One entry per section, ordered by section.

    `errors` counts 5xx responses; `error_rate` is their share of the hits. The
    size percentiles are `percentile_cont` over the raw rows when the range holds
    at most EXACT_LIMIT hits (or with source="exact"), else they come from the
    rollups, within 0.5 % (counts, errors and bytes stay exact).
    """
    with reading(store) as reader:
        if source == "auto":
            asked = read.Query(since=since, until=until, filters=[("section", sections)])
            many = read.estimate(reader, rollups.ROLLUP, asked) > EXACT_LIMIT
            pruned = not prune.covers(reader, rollups.ROLLUP, since)
            source = "rollups" if many or pruned else "exact"
        if source == "exact":
            prune.check_exact(reader, rollups.ROLLUP, since, "--exact")
            return _exact_stats(reader, since, until, sections)
        return _rollup_stats(reader, since, until, sections)


def _rollup_stats(
    reader: Reader, since: datetime | None, until: datetime | None, sections: tuple[str, ...]
) -> list[HitSection]:
    asked = read.Query(since=since, until=until, filters=[("section", sections)], group=["section"])
    entries = []
    for group in read.groups(reader, rollups.ROLLUP, asked):
        hits, errors = group.counts["hits"], group.counts["errors"]
        sizes: list[float | None] = [None, None, None]
        if group.histogram and group.minimum is not None and group.maximum is not None:
            sizes = [
                round(percentile(group.histogram, fraction, group.minimum, group.maximum), 3)
                for _, fraction in SIZE_PERCENTILES
            ]
        entries.append(
            HitSection(
                section=group.keys[0],
                hits=hits,
                errors=errors,
                error_rate=round(errors / hits, 6) if hits else 0.0,
                bytes=round(group.total),
                bytes_p50=sizes[0],
                bytes_p95=sizes[1],
                bytes_p99=sizes[2],
            )
        )
    return entries


def _exact_stats(
    reader: Reader, since: datetime | None, until: datetime | None, sections: tuple[str, ...]
) -> list[HitSection]:
    where = _time_range(reader, since, until).any_of("section", sections, keyed=True)
    percentiles = ", ".join(
        f"{reader.dialect.percentile(fraction, 'bytes')} AS {name}"
        for name, fraction in SIZE_PERCENTILES
    )
    sql = (
        "SELECT section, count(*) AS hits,"
        " sum(CASE WHEN status >= 500 AND status < 600 THEN 1 ELSE 0 END) AS errors,"
        f" {reader.dialect.sum_of('bytes')} AS total_bytes, {percentiles}"
        " FROM hits" + where.sql + " GROUP BY section ORDER BY section"
    )
    entries = []
    for row in reader.query(sql, where.params):
        hits = int(row["hits"])
        errors = int(row["errors"] or 0)
        sizes = [None if row[n] is None else round(float(row[n]), 3) for n, _ in SIZE_PERCENTILES]
        entries.append(
            HitSection(
                section=row["section"],
                hits=hits,
                errors=errors,
                error_rate=round(errors / hits, 6) if hits else 0.0,
                bytes=int(row["total_bytes"] or 0),
                bytes_p50=sizes[0],
                bytes_p95=sizes[1],
                bytes_p99=sizes[2],
            )
        )
    return entries


def hits_series(
    reader: Reader,
    since: datetime | None = None,
    until: datetime | None = None,
    bucket: int | None = None,
) -> HitSeries:
    """Per source, hits and hits/s per time bucket, with the source's alert threshold.

    `threshold` is that of the source's newest recorded alert (`wm tail` keeps it
    only there), or null when no alert was ever recorded for the source.
    """
    where = _time_range(reader, since, until)
    if bucket is None:
        span = reader.query(
            f"SELECT min(timestamp) AS first, max(timestamp) AS last FROM hits{where.sql}",
            where.params,
        )[0]
        bucket = choose_bucket(
            as_utc(span["first"]) if span["first"] is not None else None,
            as_utc(span["last"]) if span["last"] is not None else None,
        )
    epoch = reader.dialect.epoch("timestamp")
    rows = reader.query(
        f"SELECT source, ({epoch} / {int(bucket)}) * {int(bucket)} AS bucket, count(*) AS hits"
        f" FROM hits{where.sql} GROUP BY source, bucket ORDER BY source, bucket",
        where.params,
    )
    series: dict[str, list[HitPoint]] = {}
    for row in rows:
        hits = int(row["hits"])
        series.setdefault(row["source"], []).append(
            HitPoint(
                t=from_epoch(int(row["bucket"])),
                hits=hits,
                hits_per_second=round(hits / int(bucket), 6),
            )
        )
    thresholds = alert_thresholds(reader)
    return HitSeries(
        bucket_seconds=int(bucket),
        series=[
            SourceSeries(source=source, threshold=thresholds.get(source), points=points)
            for source, points in series.items()
        ],
    )


def latest_hit_id(reader: Reader) -> int:
    return int(reader.query("SELECT max(id) AS id FROM hits")[0]["id"] or 0)


def hits_after(reader: Reader, after: int, limit: int = 0) -> list[dict[str, Any]]:
    """New hits above `after`, summed per source in one event (`id`: the highest id).

    One row per poll, not one per hit: a busy server stores thousands a second.
    """
    rows = reader.query(
        "SELECT source, count(*) AS hits, max(id) AS id, max(timestamp) AS newest FROM hits"
        f" WHERE id > {reader.dialect.placeholder} GROUP BY source ORDER BY source",
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


def newest_timestamp(reader: Reader) -> datetime | None:
    """The log time of the newest stored hit, if any."""
    value = reader.query("SELECT max(timestamp) AS t FROM hits")[0]["t"]
    return None if value is None else as_utc(value)


def hits_per_second(reader: Reader, seconds: float, now: datetime) -> dict[str, float]:
    """Per source, hits stamped within the last `seconds` before `now`, divided by `seconds`."""
    mark = reader.dialect.placeholder
    rows = reader.query(
        "SELECT source, count(*) AS n FROM hits"
        f" WHERE timestamp >= {mark} AND timestamp <= {mark} GROUP BY source ORDER BY source",
        [now - timedelta(seconds=seconds), now],
    )
    return {row["source"]: int(row["n"]) / seconds for row in rows}


# --- alerts -------------------------------------------------------------------------------

#: What `wm alerts` has always called a high-traffic alert's kind.
ALERT_KIND = "high_traffic"


def _alert_time(value: Any) -> str | None:
    return None if value is None else summary_iso(as_utc(value).timestamp())


def list_alerts(reader: Reader, *, source: str | None = None) -> list[Alert]:
    """Past and ongoing high-traffic alerts (incidents of kind traffic), oldest first."""
    where = Where(reader.dialect, "kind = 'traffic'").compare("source", "=", source)
    rows = reader.query(
        "SELECT id, source, started_at, resolved_at, peak, threshold FROM incidents"
        + where.sql
        + " ORDER BY started_at, id",
        where.params,
    )
    return [
        Alert(
            id=str(row["id"]),
            source=row["source"],
            kind=ALERT_KIND,
            started_at=_alert_time(row["started_at"]),
            ended_at=_alert_time(row["resolved_at"]),
            peak=round(float(row["peak"] or 0.0), 3),
            threshold=float(row["threshold"] or 0.0),
        )
        for row in rows
    ]


def alert_thresholds(reader: Reader) -> dict[str, float]:
    """Per source, the threshold of its newest recorded alert (the only place it is stored)."""
    thresholds: dict[str, float] = {}
    for alert in list_alerts(reader):  # oldest first: the newest wins
        thresholds[alert.source] = alert.threshold
    return thresholds


def alert_changes(reader: Reader) -> int:
    """How many times the high-traffic alerts changed: one per alert started, one per end.

    Incidents are never deleted, so this only grows: the live stream's cursor.
    """
    row = reader.query(
        "SELECT count(*) AS n, count(resolved_at) AS ended FROM incidents WHERE kind = 'traffic'"
    )[0]
    return int(row["n"] or 0) + int(row["ended"] or 0)


def alert_counts(reader: Reader) -> list[tuple[str, int, int]]:
    """Per source: high-traffic alerts recorded, and those open now."""
    rows = reader.query(
        "SELECT source, count(*) AS n, count(*) - count(resolved_at) AS open FROM incidents"
        " WHERE kind = 'traffic' GROUP BY source ORDER BY source"
    )
    return [(str(row["source"]), int(row["n"]), int(row["open"])) for row in rows]


def alerts_after(reader: Reader, after: int, limit: int = 0) -> list[dict[str, Any]]:
    """When alerts changed since cursor `after`: one event with the open alerts."""
    changes = alert_changes(reader)
    if changes <= after:
        return []
    open_alerts = [a for a in list_alerts(reader) if a.ended_at is None]
    return [{"id": changes, "open": open_alerts}]
