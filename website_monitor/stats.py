"""Latency percentiles per URL, computed in SQL on either backend.

Two sources answer the same question:

* exact: PostgreSQL's `percentile_cont` (linear interpolation between closest
  ranks) over the raw rows; SQLite gets the same function as a registered
  aggregate;
* rollups (see `website_monitor.rollups`): week (for the weeks that are
  over) and day histograms merged in SQL, plus the raw rows of partial days at
  the edges of the range and the raw rows not yet rolled up; p50, p95 and p99
  are within 0.5 % (relative) of the exact values, counts, errors and
  availability are exact.

All the queries of one call read one snapshot (`Repository.snapshot`), so a
catch-up of the rollups committing meanwhile cannot count a probe twice or not
at all.

`source="auto"` (the default) reads the exact rows when the range holds at
most `EXACT_LIMIT` probes (estimated from the day rollups, cheaply), so small
stores print exactly percentile_cont's numbers, and the rollups beyond that.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from website_monitor import rollups
from website_monitor.errors import ConfigError
from website_monitor.events import PHASES
from website_monitor.store import Repository, Where
from website_monitor.store.base import Query

PERCENTILES = (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99))
#: `--by`: one entry per URL and HTTP status, or per URL and hour / day (UTC).
GROUPINGS = ("status", "hour", "day")
PERIODS = {"hour": 3_600, "day": 86_400}
SOURCES = ("auto", "exact", "rollups")
#: With source="auto", ranges holding more probes than this are answered from rollups.
EXACT_LIMIT = 100_000


@dataclasses.dataclass(frozen=True)
class StatsQuery:
    """Which probes to summarise and how to group them."""

    urls: Sequence[str] = ()
    since: datetime | None = None
    until: datetime | None = None
    by: str | None = None
    #: "exact" (percentile_cont on raw rows), "rollups", or "auto".
    source: str = "auto"
    #: Also percentiles of the dns/connect/tls/ttfb phases (always exact, from raw rows).
    phases: bool = False
    exact_limit: int = EXACT_LIMIT

    def __post_init__(self) -> None:
        if self.by is not None and self.by not in GROUPINGS:
            raise ConfigError(f"unknown grouping {self.by!r}", hint=f"use one of {GROUPINGS}")
        if self.source not in SOURCES:
            raise ConfigError(f"unknown source {self.source!r}", hint=f"use one of {SOURCES}")


def probe_stats(repository: Repository, query: StatsQuery) -> list[dict[str, Any]]:
    """One entry per URL (and status or period, if grouped), ordered by URL then group."""
    with repository.snapshot() as read:
        view = _View(repository, read)
        if view.choose_source(query) == "exact":
            return _order(_exact(view, query, latency=True, phases=query.phases))
        entries = _order(_from_rollups(view, query))
        if query.phases:
            phases = {_key(e): e["phases"] for e in _exact(view, query, latency=False)}
            for entry in entries:
                entry["phases"] = phases.get(_key(entry), _no_phases())
        return entries


def choose_source(repository: Repository, query: StatsQuery) -> str:
    """ "exact" or "rollups": what `probe_stats` will read for this query."""
    with repository.snapshot() as read:
        return _View(repository, read).choose_source(query)


def estimate_probes(repository: Repository, query: StatsQuery) -> int:
    """An upper bound of the probes in range: the day rollups overlapping it, plus the
    probes not rolled up yet."""
    with repository.snapshot() as read:
        return _View(repository, read).estimate_probes(query)


@dataclasses.dataclass
class _View:
    """One snapshot of a store: the repository's dialect and a query function."""

    repository: Repository
    read: Query

    @property
    def mark(self) -> str:
        return self.repository.placeholder

    @functools.cached_property
    def rolled_up_to(self) -> int:
        """Probes with a higher id are not in the rollups yet: read them raw."""
        rows = self.read(f"SELECT rolled_up_to AS n FROM {rollups.STATE_TABLE}", ())
        return int(rows[0]["n"]) if rows else 0

    @functools.cached_property
    def weeks_to(self) -> int:
        """Week rows exist for the weeks starting before this (those that are over) only."""
        rows = self.read(f"SELECT weeks_to AS n FROM {rollups.STATE_TABLE}", ())
        return int(rows[0]["n"]) if rows else 0

    def choose_source(self, query: StatsQuery) -> str:
        if query.source != "auto":
            return query.source
        return "rollups" if self.estimate_probes(query) > query.exact_limit else "exact"

    def estimate_probes(self, query: StatsQuery) -> int:
        day = rollups.LEVELS["day"]
        since = int(query.since.timestamp()) // day * day if query.since is not None else None
        until = int(query.until.timestamp()) + 1 if query.until is not None else None
        where = (
            Where(self.mark, f"width = {day}")
            .compare("period_start", ">=", since)
            .compare("period_start", "<", until)
            .any_of("url", query.urls)
        )
        rolled = self.read(
            "SELECT coalesce(sum(probes), 0) AS n FROM rollup_summary" + where.sql, where.params
        )
        recent = (
            Where(self.mark)
            .compare("id", ">", self.rolled_up_to)
            .compare("timestamp", ">=", query.since)
            .compare("timestamp", "<", query.until)
            .any_of("url", query.urls)
        )
        raw = self.read("SELECT count(*) AS n FROM url_probes" + recent.sql, recent.params)
        return int(rolled[0]["n"]) + int(raw[0]["n"])


# --- exact --------------------------------------------------------------------------------


def _exact(
    view: _View, query: StatsQuery, *, latency: bool, phases: bool = True
) -> list[dict[str, Any]]:
    repository = view.repository
    where = (
        Where(repository.placeholder)
        .any_of("url", query.urls)
        .compare("timestamp", ">=", query.since)
        .compare("timestamp", "<", query.until)
    )
    group = ["url"]
    if query.by == "status":
        group.append("http_status_code")
    elif query.by in PERIODS:
        width = PERIODS[query.by]
        group.append(f"({_epoch_sql(repository, 'timestamp')} / {width}) * {width} AS period")
    columns = [*group, "count(*) AS probes"]
    if latency:
        columns.extend(
            f"{repository.percentile_sql(fraction, 'response_time_ms')} AS {name}"
            for name, fraction in PERCENTILES
        )
    if phases:
        columns.extend(
            f"{repository.percentile_sql(fraction, phase)} AS {phase}__{name}"
            for phase in PHASES
            for name, fraction in PERCENTILES
        )
    columns.append("sum(CASE WHEN error IS NOT NULL THEN 1 ELSE 0 END) AS errors")
    columns.append("avg(CASE WHEN ok THEN 1.0 ELSE 0.0 END) AS availability")
    keys = [g.split(" AS ")[-1] for g in group]
    sql = (
        f"SELECT {', '.join(columns)} FROM url_probes"
        + where.sql
        + f" GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}"
    )
    entries = []
    for row in view.read(sql, where.params):
        entry = _head(row["url"], query.by, row.get("http_status_code"), row.get("period"))
        entry["probes"] = int(row["probes"])
        for name, _ in PERCENTILES:
            entry[name] = _ms(row.get(name))
        entry["errors"] = int(row["errors"] or 0)
        entry["availability"] = round(float(row["availability"] or 0.0), 6)
        if phases:
            entry["phases"] = {
                phase.removesuffix("_ms"): {
                    name: _ms(row[f"{phase}__{name}"]) for name, _ in PERCENTILES
                }
                for phase in PHASES
            }
        entries.append(entry)
    return entries


# --- rollups ------------------------------------------------------------------------------


def _from_rollups(view: _View, query: StatsQuery) -> list[dict[str, Any]]:
    repository = view.repository
    mark = repository.placeholder
    widths = [
        w for w in rollups.LEVELS.values() if query.by not in PERIODS or w <= PERIODS[query.by]
    ]
    lo = query.since.timestamp() if query.since is not None else None
    hi = query.until.timestamp() if query.until is not None else None
    weeks_to = view.weeks_to if widths and widths[0] == rollups.LEVELS["week"] else None
    segments = rollups.plan(lo, hi, widths, coarsest_until=weeks_to)

    def bound(value: float | None, original: datetime | None) -> datetime | None:
        if value is None:
            return None
        if original is not None and value == original.timestamp():
            return original
        return datetime.fromtimestamp(value, timezone.utc)

    if query.by == "status":
        key = "status"
    elif query.by in PERIODS:
        key = f"(epoch / {PERIODS[query.by]}) * {PERIODS[query.by]}"
    else:
        key = "0"
    epoch = _epoch_sql(repository, "timestamp")
    bucket = (
        rollups.pg_bucket_sql("response_time_ms")
        if repository.backend == "postgresql"
        else f"{rollups.SQLITE_BUCKET_FUNCTION}(response_time_ms)"
    )
    status = f"coalesce(http_status_code, {rollups.NO_STATUS})"
    latency_parts: list[str] = []
    summary_parts: list[str] = []
    latency_params: list[Any] = []
    summary_params: list[Any] = []

    def raw(where: Where) -> None:
        """Raw rows as one-probe rollup rows (values bucketed on the fly)."""
        condition = " AND ".join(where.conditions)
        latency_parts.append(
            f"SELECT url, {status} AS status, {epoch} AS epoch, {bucket} AS bucket, 1 AS n"
            " FROM url_probes WHERE response_time_ms IS NOT NULL"
            + (f" AND {condition}" if condition else "")
        )
        summary_parts.append(
            f"SELECT url, {status} AS status, {epoch} AS epoch, 1 AS probes,"
            " CASE WHEN error IS NOT NULL THEN 1 ELSE 0 END AS errors,"
            " CASE WHEN ok THEN 1 ELSE 0 END AS ok,"
            " CASE WHEN response_time_ms IS NULL THEN 0 ELSE 1 END AS timed,"
            " coalesce(response_time_ms, 0) AS sum_ms,"
            " response_time_ms AS min_ms, response_time_ms AS max_ms FROM url_probes"
            + (f" WHERE {condition}" if condition else "")
        )
        latency_params.extend(where.params)
        summary_params.extend(where.params)

    def between(where: Where, start: float | None, end: float | None) -> Where:
        return where.compare(
            "timestamp", ">=", None if start is None else bound(start, query.since)
        ).compare("timestamp", "<", None if end is None else bound(end, query.until))

    for start, end, width in segments:
        if width is None:  # a partial day at an edge of the range
            raw(between(Where(mark), start, end).any_of("url", query.urls))
            continue
        where = (
            Where(mark, f"width = {int(width)}")
            .compare("period_start", ">=", None if start is None else int(start))
            .compare("period_start", "<", None if end is None else int(end))
            .any_of("url", query.urls)
        )
        condition = " AND ".join(where.conditions)
        latency_parts.append(
            "SELECT url, status, period_start AS epoch, bucket, count AS n"
            f" FROM rollup_latency WHERE {condition}"
        )
        summary_parts.append(
            "SELECT url, status, period_start AS epoch, probes, errors, ok, timed, sum_ms,"
            f" min_ms, max_ms FROM rollup_summary WHERE {condition}"
        )
        latency_params.extend(where.params)
        summary_params.extend(where.params)
    # Whole periods cover one contiguous span (plan() puts raw rows only at its two ends);
    # the probes in it that are not rolled up yet are read raw.
    whole = [(start, end) for start, end, width in segments if width is not None]
    if whole:
        recent = Where(mark).compare("id", ">", view.rolled_up_to)
        raw(between(recent, whole[0][0], whole[-1][1]).any_of("url", query.urls))
    if not segments:
        return []
    summaries = view.read(
        f"SELECT url, {key} AS k, sum(probes) AS probes, sum(errors) AS errors, sum(ok) AS ok,"
        " sum(timed) AS timed, min(min_ms) AS min_ms, max(max_ms) AS max_ms"
        f" FROM ({' UNION ALL '.join(summary_parts)}) AS x GROUP BY url, k ORDER BY url, k",
        summary_params,
    )
    histograms: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for row in view.read(
        f"SELECT url, {key} AS k, bucket, sum(n) AS n"
        f" FROM ({' UNION ALL '.join(latency_parts)}) AS x"
        " GROUP BY url, k, bucket ORDER BY url, k, bucket",
        latency_params,
    ):
        histograms.setdefault((row["url"], int(row["k"])), []).append(
            (int(row["bucket"]), int(row["n"]))
        )
    entries = []
    for row in summaries:
        k = int(row["k"])
        probes = int(row["probes"])
        if probes == 0:
            continue
        entry = _head(
            row["url"],
            query.by,
            None if k == rollups.NO_STATUS else k,
            k,
        )
        entry["probes"] = probes
        histogram = histograms.get((row["url"], k), [])
        for name, fraction in PERCENTILES:
            entry[name] = (
                _ms(rollups.percentile(histogram, fraction, row["min_ms"], row["max_ms"]))
                if histogram
                else None
            )
        entry["errors"] = int(row["errors"])
        entry["availability"] = round(int(row["ok"]) / probes, 6)
        entries.append(entry)
    return entries


# --- helpers ------------------------------------------------------------------------------


def _epoch_sql(repository: Repository, column: str) -> str:
    if repository.backend == "postgresql":
        return rollups.pg_epoch_sql(column)
    return rollups.sqlite_epoch_sql(column)


def _head(url: str, by: str | None, status: int | None, period: int | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"url": url}
    if by == "status":
        entry["http_status_code"] = status
    elif by in PERIODS:
        assert period is not None
        entry["period"] = datetime.fromtimestamp(int(period), timezone.utc).isoformat()
    return entry


def _order(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep the database's URL order; a failed request's null status comes last on both backends."""
    rank: dict[str, int] = {}
    for entry in entries:
        rank.setdefault(entry["url"], len(rank))
    return sorted(
        entries,
        key=lambda e: (
            rank[e["url"]],
            e.get("http_status_code") is None,
            e.get("http_status_code") or 0,
            e.get("period") or "",
        ),
    )


def _key(entry: dict[str, Any]) -> tuple[Any, ...]:
    return (entry["url"], entry.get("http_status_code"), entry.get("period"))


def _no_phases() -> dict[str, dict[str, float | None]]:
    return {phase.removesuffix("_ms"): {name: None for name, _ in PERCENTILES} for phase in PHASES}


def _ms(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)
