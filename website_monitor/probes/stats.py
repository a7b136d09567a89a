"""Latency percentiles per URL (`wm stats`), computed in SQL on either backend.

Two sources answer the same question:

* exact: PostgreSQL's `percentile_cont` (linear interpolation between closest
  ranks) over the raw rows; SQLite gets the same function as a registered
  aggregate;
* rollups (`probes.rollups.read`): week (for the weeks that are over) and day
  histograms merged in SQL, plus the raw rows of partial days at the edges of
  the range and the raw rows not yet rolled up; p50, p95 and p99 are within
  0.5 % (relative) of the exact values, counts, errors and availability are exact.

All the queries of one call read one snapshot, so a catch-up of the rollups
committing meanwhile cannot count a probe twice or not at all.

`source="auto"` (the default) reads the exact rows when the range holds at
most `EXACT_LIMIT` probes (estimated from the day rollups, cheaply), so small
stores print exactly percentile_cont's numbers, and the rollups beyond that.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from website_monitor.errors import ConfigError
from website_monitor.probes.codec import PHASES
from website_monitor.probes.models import Percentiles, Phases, StatsEntry
from website_monitor.probes.rollups import maintain, read
from website_monitor.probes.rollups.sketch import DAY, NO_STATUS, percentile
from website_monitor.store import Reader, Repository, Where
from website_monitor.store.base import reading

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


def probe_stats(store: Repository | Reader, query: StatsQuery) -> list[StatsEntry]:
    """One entry per URL (and status or period, if grouped), ordered by URL then group."""
    with reading(store) as reader:
        if choose_source(reader, query) == "exact":
            return _order(_exact(reader, query, latency=True, phases=query.phases))
        entries = _order(_from_rollups(reader, query))
        if query.phases:
            phases = {_key(e): e.phases for e in _exact(reader, query, latency=False)}
            for entry in entries:
                found = phases.get(_key(entry))
                entry.phases = found if isinstance(found, Phases) else _no_phases()
        return entries


def choose_source(store: Repository | Reader, query: StatsQuery) -> str:
    """ "exact" or "rollups": what `probe_stats` will read for this query."""
    if query.source != "auto":
        return query.source
    return "rollups" if estimate_probes(store, query) > query.exact_limit else "exact"


def estimate_probes(store: Repository | Reader, query: StatsQuery) -> int:
    """An upper bound of the probes in range: the day rollups overlapping it, plus the
    probes not rolled up yet."""
    with reading(store) as reader:
        dialect = reader.dialect
        since = int(query.since.timestamp()) // DAY * DAY if query.since is not None else None
        until = int(query.until.timestamp()) + 1 if query.until is not None else None
        where = (
            Where(dialect, f"width = {DAY}")
            .compare("period_start", ">=", since)
            .compare("period_start", "<", until)
            .any_of("url", query.urls, keyed=True)
        )
        rolled = reader.query(
            "SELECT coalesce(sum(probes), 0) AS n FROM rollup_summary" + where.sql, where.params
        )
        recent = (
            Where(dialect)
            .compare("id", ">", maintain.rolled_up_to(reader))
            .compare("timestamp", ">=", query.since)
            .compare("timestamp", "<", query.until)
            .any_of("url", query.urls, keyed=True)
        )
        raw = reader.query("SELECT count(*) AS n FROM url_probes" + recent.sql, recent.params)
        return int(rolled[0]["n"]) + int(raw[0]["n"])


def _exact(
    reader: Reader, query: StatsQuery, *, latency: bool, phases: bool = True
) -> list[StatsEntry]:
    dialect = reader.dialect
    where = (
        Where(dialect)
        .any_of("url", query.urls, keyed=True)
        .compare("timestamp", ">=", query.since)
        .compare("timestamp", "<", query.until)
    )
    keys = ["url"]
    columns = ["url"]
    if query.by == "status":
        keys.append("http_status_code")
        columns.append("http_status_code")
    elif query.by in PERIODS:
        width = PERIODS[query.by]
        keys.append("period")
        columns.append(f"({dialect.epoch('timestamp')} / {width}) * {width} AS period")
    columns.append("count(*) AS probes")
    if latency:
        columns.extend(
            f"{dialect.percentile(fraction, 'response_time_ms')} AS {name}"
            for name, fraction in PERCENTILES
        )
    if phases:
        columns.extend(
            f"{dialect.percentile(fraction, phase)} AS {phase}__{name}"
            for phase in PHASES
            for name, fraction in PERCENTILES
        )
    columns.append("sum(CASE WHEN error IS NOT NULL THEN 1 ELSE 0 END) AS errors")
    columns.append("avg(CASE WHEN ok THEN 1.0 ELSE 0.0 END) AS availability")
    sql = (
        f"SELECT {', '.join(columns)} FROM url_probes"
        + where.sql
        + f" GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}"
    )
    entries = []
    for row in reader.query(sql, where.params):
        entry = entry_head(row["url"], query.by, row.get("http_status_code"), row.get("period"))
        entry.probes = int(row["probes"])
        entry.p50_ms, entry.p95_ms, entry.p99_ms = (ms(row.get(name)) for name, _ in PERCENTILES)
        entry.errors = int(row["errors"] or 0)
        entry.availability = round(float(row["availability"] or 0.0), 6)
        if phases:
            entry.phases = Phases(
                **{
                    phase.removesuffix("_ms"): Percentiles(
                        **{name: ms(row[f"{phase}__{name}"]) for name, _ in PERCENTILES}
                    )
                    for phase in PHASES
                }
            )
        entries.append(entry)
    return entries


def _from_rollups(reader: Reader, query: StatsQuery) -> list[StatsEntry]:
    entries = []
    for group in read.groups(reader, query, PERIODS.get(query.by or "")):
        status = None if group.key == NO_STATUS else group.key
        entry = entry_head(group.url, query.by, status, group.key)
        entry.probes = group.probes
        if group.histogram:
            assert group.min_ms is not None and group.max_ms is not None
            entry.p50_ms, entry.p95_ms, entry.p99_ms = (
                ms(percentile(group.histogram, fraction, group.min_ms, group.max_ms))
                for _, fraction in PERCENTILES
            )
        entry.errors = group.errors
        entry.availability = round(group.ok / group.probes, 6)
        entries.append(entry)
    return entries


def entry_head(url: str, by: str | None, status: int | None, period: int | None) -> StatsEntry:
    """An entry for `url` and its group, its figures still to be filled in."""
    entry = StatsEntry(
        url=url, probes=0, p50_ms=None, p95_ms=None, p99_ms=None, errors=0, availability=0.0
    )
    if by == "status":
        entry.http_status_code = status
    elif by in PERIODS:
        assert period is not None
        entry.period = datetime.fromtimestamp(int(period), timezone.utc).isoformat()
    return entry


def _order(entries: list[StatsEntry]) -> list[StatsEntry]:
    """Keep the database's URL order; a failed request's null status comes last on both backends."""
    rank: dict[str, int] = {}
    for entry in entries:
        rank.setdefault(entry.url, len(rank))

    def status(entry: StatsEntry) -> int | None:
        return entry.http_status_code if isinstance(entry.http_status_code, int) else None

    return sorted(
        entries,
        key=lambda e: (
            rank[e.url],
            status(e) is None,
            status(e) or 0,
            e.period if isinstance(e.period, str) else "",
        ),
    )


def _key(entry: StatsEntry) -> tuple[Any, ...]:
    return (entry.url, entry.http_status_code, entry.period)


def _no_phases() -> Phases:
    empty = {name: None for name, _ in PERCENTILES}
    return Phases(**{phase.removesuffix("_ms"): Percentiles(**empty) for phase in PHASES})


def ms(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)
