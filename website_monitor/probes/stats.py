"""Latency percentiles per URL (`wm stats`), computed in SQL on either backend.

Two sources answer the same question:

* exact: PostgreSQL's `percentile_cont` (linear interpolation between closest
  ranks) over the raw rows; SQLite gets the same function as a registered
  aggregate;
* rollups (`website_monitor.rollups.read`): week (for the weeks that are over) and day
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
from website_monitor.probes.models import PERCENTILES, Percentiles, Phases, StatsEntry
from website_monitor.probes.rollups import NO_STATUS, ROLLUP
from website_monitor.probes.uptime import GOOD_CHECKS_SQL, uptime
from website_monitor.rollups import prune, read
from website_monitor.rollups.sketch import percentile
from website_monitor.store import Reader, Repository, Where
from website_monitor.store.base import reading
from website_monitor.times import as_utc

#: `--by`: one entry per URL and HTTP status, per URL and probing location, or per URL and
#: hour / day (UTC).
GROUPINGS = ("status", "location", "hour", "day")
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
        if self.by == "location" and self.source == "rollups":
            raise ConfigError(
                "the rollups do not keep probing locations", hint="--by location reads raw rows"
            )


def probe_stats(store: Repository | Reader, query: StatsQuery) -> list[StatsEntry]:
    """One entry per URL (and status or period, if grouped), ordered by URL then group."""
    with reading(store) as reader:
        if query.phases:
            prune.check_exact(reader, ROLLUP, query.since, "--phases")
        if choose_source(reader, query) == "exact":
            prune.check_exact(reader, ROLLUP, query.since, "--exact")
            entries = _order(_exact(reader, query, latency=True, phases=query.phases))
        else:
            entries = _order(_from_rollups(reader, query))
            if query.phases:
                phases = {_key(e): e.phases for e in _exact(reader, query, latency=False)}
                for entry in entries:
                    found = phases.get(_key(entry))
                    entry.phases = found if isinstance(found, Phases) else _no_phases()
        expiries = cert_expiries(reader, sorted({e.url for e in entries}), query.since, query.until)
        for entry in entries:
            if entry.url in expiries:
                entry.cert_expires_at = expiries[entry.url].isoformat()
        return entries


def cert_expiries(
    reader: Reader, urls: Sequence[str], since: datetime | None, until: datetime | None
) -> dict[str, datetime]:
    """Per HTTPS URL, the `cert_expires_at` of its newest result that has one, in the range.

    One indexed look-up per URL (newest first on the URL's key and `timestamp`); plain
    HTTP, TCP and DNS URLs have no certificate and are not looked up.
    """
    found: dict[str, datetime] = {}
    for url in urls:
        if not url.lower().startswith("https:"):
            continue
        where = (
            Where(reader.dialect, "cert_expires_at IS NOT NULL")
            .any_of("url", [url], keyed=True)
            .compare("timestamp", ">=", since)
            .compare("timestamp", "<", until)
        )
        rows = reader.query(
            f"SELECT cert_expires_at FROM url_probes{where.sql}"
            " ORDER BY timestamp DESC, id DESC LIMIT 1",
            where.params,
        )
        if rows:
            found[url] = as_utc(rows[0]["cert_expires_at"])
    return found


def choose_source(store: Repository | Reader, query: StatsQuery) -> str:
    """ "exact" or "rollups": what `probe_stats` will read for this query."""
    if query.source != "auto":
        return query.source
    with reading(store) as reader:
        if query.by == "location":  # the rollups do not keep locations
            prune.check_exact(reader, ROLLUP, query.since, "--by location")
            return "exact"
        if not prune.covers(reader, ROLLUP, query.since):
            return "rollups"
        return "rollups" if estimate_probes(reader, query) > query.exact_limit else "exact"


def estimate_probes(store: Repository | Reader, query: StatsQuery) -> int:
    """An upper bound of the probes in range: the day rollups overlapping it, plus the
    probes not rolled up yet."""
    with reading(store) as reader:
        asked = read.Query(since=query.since, until=query.until, filters=[("url", query.urls)])
        return read.estimate(reader, ROLLUP, asked)


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
    elif query.by == "location":
        keys.append("location")
        columns.append("location")
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
    columns.append(f"{GOOD_CHECKS_SQL} AS good")
    sql = (
        f"SELECT {', '.join(columns)} FROM url_probes"
        + where.sql
        + f" GROUP BY {', '.join(keys)} ORDER BY {', '.join(keys)}"
    )
    entries = []
    for row in reader.query(sql, where.params):
        entry = entry_head(row["url"], query.by, row.get("http_status_code"), row.get("period"))
        if query.by == "location":
            entry.location = row["location"]
        entry.probes = int(row["probes"])
        entry.p50_ms, entry.p95_ms, entry.p99_ms = (ms(row.get(name)) for name, _ in PERCENTILES)
        entry.errors = int(row["errors"] or 0)
        entry.availability = uptime(int(row["good"] or 0), entry.probes)
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
    asked = read.Query(
        since=query.since,
        until=query.until,
        filters=[("url", query.urls)],
        group=["url"],
        by="status" if query.by == "status" else None,
        period=PERIODS.get(query.by or ""),
    )
    for group in read.groups(reader, ROLLUP, asked):
        status = None if group.k == NO_STATUS else group.k
        entry = entry_head(group.keys[0], query.by, status, group.k)
        entry.probes = probes = group.counts["probes"]
        if group.histogram:
            assert group.minimum is not None and group.maximum is not None
            entry.p50_ms, entry.p95_ms, entry.p99_ms = (
                ms(percentile(group.histogram, fraction, group.minimum, group.maximum))
                for _, fraction in PERCENTILES
            )
        entry.errors = group.counts["errors"]
        entry.availability = uptime(group.counts["ok"], probes)
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

    def location(entry: StatsEntry) -> str | None:
        return entry.location if isinstance(entry.location, str) else None

    return sorted(
        entries,
        key=lambda e: (
            rank[e.url],
            status(e) is None,
            status(e) or 0,
            location(e) is None,
            location(e) or "",
            e.period if isinstance(e.period, str) else "",
        ),
    )


def _key(entry: StatsEntry) -> tuple[Any, ...]:
    return (entry.url, entry.http_status_code, entry.location, entry.period)


def _no_phases() -> Phases:
    empty = {name: None for name, _ in PERCENTILES}
    return Phases(**{phase.removesuffix("_ms"): Percentiles(**empty) for phase in PHASES})


def ms(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)
