"""Answering a query from a kind's rollups: whole periods from the tables, edges from raw rows.

A range is covered (`sketch.plan`) with whole weeks (of the weeks that are
over), then whole days, then the raw rows of the partial days at its edges,
bucketed on the fly; the raw rows not rolled up yet are added too. Summaries
and histograms of all the pieces are merged in SQL, grouped by the query's key
columns and one more value `k` (a key column, a period start, or nothing), and
the percentiles are walked from the merged histograms (`sketch.percentile`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from website_monitor.errors import ConfigError
from website_monitor.rollups import maintain, prune
from website_monitor.rollups.sketch import DAY, LEVELS, WEEK, bucket_sql, plan
from website_monitor.rollups.spec import Rollup
from website_monitor.store import Reader, Where
from website_monitor.times import from_epoch


@dataclasses.dataclass(frozen=True)
class Query:
    """Which raw rows to summarise, and how to group them."""

    since: datetime | None = None
    until: datetime | None = None
    #: (key name, values): only rows whose key is one of these.
    filters: Sequence[tuple[str, Sequence[Any]]] = ()
    #: Key names to group by.
    group: Sequence[str] = ()
    #: Also group by this key (its value is the group's `k`)...
    by: str | None = None
    #: ...or by periods of this many seconds (`k` is the period's start); else `k` is 0.
    period: int | None = None


@dataclasses.dataclass
class Group:
    """The merged rollups of one group."""

    keys: tuple[Any, ...]
    k: int
    counts: dict[str, int]
    #: The sum of the values.
    total: float
    minimum: float | None
    maximum: float | None
    histogram: list[tuple[int, int]]


def groups(reader: Reader, rollup: Rollup, query: Query) -> list[Group]:
    """Per group, ordered by its keys then `k`: the rollups and the raw rows they lack."""
    dialect = reader.dialect
    widths = [w for w in LEVELS.values() if query.period is None or w <= query.period]
    lo, hi = whole_days_where_pruned(reader, rollup, query)
    weeks_to = maintain.weeks_to(reader, rollup) if widths and widths[0] == WEEK else None
    segments = plan(lo, hi, widths, coarsest_until=weeks_to)
    if not segments:
        return []
    long = {k.name for k in rollup.keys if k.long}

    def bound(value: float | None, original: datetime | None) -> datetime | None:
        if value is None:
            return None
        if original is not None and value == original.timestamp():
            return original
        return datetime.fromtimestamp(value, timezone.utc)

    def filtered(where: Where, raw: bool) -> Where:
        for name, values in query.filters:
            column = next(k.raw for k in rollup.keys if k.name == name) if raw else name
            where.any_of(column, values, keyed=name in long)
        return where

    if query.by is not None:
        k = query.by
    elif query.period is not None:
        k = f"(epoch / {query.period}) * {query.period}"
    else:
        k = "0"
    keys = ", ".join(f"{key.raw} AS {key.name}" for key in rollup.keys)
    epoch = dialect.epoch("timestamp")
    value = rollup.value
    histograms: list[str] = []
    summaries: list[str] = []
    params: list[Any] = []

    def raw(where: Where) -> None:
        """Raw rows as one-row rollup rows (values bucketed on the fly)."""
        condition = filtered(where, raw=True).condition
        histograms.append(
            f"SELECT {keys}, {epoch} AS epoch, {bucket_sql(value)} AS bucket, 1 AS n"
            f" FROM {rollup.raw} WHERE {value} IS NOT NULL AND {condition}"
        )
        counts = ", ".join(f"{expression} AS {name}" for name, expression in rollup.counts)
        summaries.append(
            f"SELECT {keys}, {epoch} AS epoch, {counts}, coalesce({value}, 0) AS {rollup.total},"
            f" {value} AS {rollup.minimum}, {value} AS {rollup.maximum}"
            f" FROM {rollup.raw} WHERE {condition}"
        )
        params.extend(where.params)

    def between(where: Where, start: float | None, end: float | None) -> Where:
        return where.compare(
            "timestamp", ">=", None if start is None else bound(start, query.since)
        ).compare("timestamp", "<", None if end is None else bound(end, query.until))

    names = rollup.key_names
    for start, end, width in segments:
        if width is None:  # a partial day at an edge of the range
            raw(between(Where(dialect), start, end))
            continue
        where = filtered(
            Where(dialect, f"width = {int(width)}")
            .compare("period_start", ">=", None if start is None else int(start))
            .compare("period_start", "<", None if end is None else int(end)),
            raw=False,
        )
        histograms.append(
            f"SELECT {names}, period_start AS epoch, bucket, count AS n"
            f" FROM {rollup.histogram} WHERE {where.condition}"
        )
        summaries.append(
            f"SELECT {names}, period_start AS epoch, {rollup.count_names}, {rollup.total},"
            f" {rollup.minimum}, {rollup.maximum} FROM {rollup.summary} WHERE {where.condition}"
        )
        params.extend(where.params)
    # Whole periods cover one contiguous span (plan() puts raw rows only at its two ends);
    # the rows in it that are not rolled up yet are read raw.
    whole = [(start, end) for start, end, width in segments if width is not None]
    if whole:
        recent = Where(dialect).compare("id", ">", maintain.rolled_up_to(reader, rollup))
        raw(between(recent, whole[0][0], whole[-1][1]))
    group = [*query.group, "k"]
    grouped = ", ".join(group)
    sums = ", ".join(f"sum({name}) AS {name}" for name, _ in rollup.counts)
    # Each part added its parameters to both lists in the same order.
    rows = reader.query(
        f"SELECT {', '.join(query.group) + ', ' if query.group else ''}{k} AS k, {sums},"
        f" sum({rollup.total}) AS total, min({rollup.minimum}) AS lo, max({rollup.maximum}) AS hi"
        f" FROM ({' UNION ALL '.join(summaries)}) AS x GROUP BY {grouped} ORDER BY {grouped}",
        params,
    )
    merged: dict[tuple[Any, ...], list[tuple[int, int]]] = {}
    for row in reader.query(
        f"SELECT {', '.join(query.group) + ', ' if query.group else ''}{k} AS k, bucket,"
        f" sum(n) AS n FROM ({' UNION ALL '.join(histograms)}) AS x"
        f" GROUP BY {grouped}, bucket ORDER BY {grouped}, bucket",
        params,
    ):
        group_key = (*(row[name] for name in query.group), int(row["k"]))
        merged.setdefault(group_key, []).append((int(row["bucket"]), int(row["n"])))
    first = rollup.counts[0][0]
    return [
        Group(
            keys=tuple(row[name] for name in query.group),
            k=int(row["k"]),
            counts={name: int(row[name]) for name, _ in rollup.counts},
            total=float(row["total"] or 0.0),
            minimum=row["lo"],
            maximum=row["hi"],
            histogram=merged.get((*(row[name] for name in query.group), int(row["k"])), []),
        )
        for row in rows
        if int(row[first])
    ]


def whole_days_where_pruned(
    reader: Reader, rollup: Rollup, query: Query
) -> tuple[float | None, float | None]:
    """The query's range in epoch seconds; where it lies before the raw rows kept, it is
    widened to whole days (the rollups' finest level), as no raw row can answer there."""
    lo = query.since.timestamp() if query.since is not None else None
    hi = query.until.timestamp() if query.until is not None else None
    kept = prune.raw_from(reader, rollup)
    if kept and (lo is None or lo < kept):
        if query.period is not None and query.period < DAY:
            raise ConfigError(
                f"there are no raw rows before {from_epoch(kept)} to group by"
                f" {query.period // 3600 or 1}h periods (they were pruned)",
                hint="group by day, or start the range later",
            )
        lo = None if lo is None else lo // DAY * DAY
    if kept and hi is not None and hi < kept:
        hi = -(-hi // DAY) * DAY
    return lo, hi


def estimate(reader: Reader, rollup: Rollup, query: Query) -> int:
    """An upper bound of the raw rows in the query's range: those of the day rows it
    overlaps, and the rows not rolled up yet (cheap: no raw row of a whole day is read)."""
    dialect = reader.dialect
    long = {k.name for k in rollup.keys if k.long}
    since = None if query.since is None else int(query.since.timestamp()) // DAY * DAY
    until = None if query.until is None else int(query.until.timestamp()) + 1
    rolled = (
        Where(dialect, f"width = {DAY}")
        .compare("period_start", ">=", since)
        .compare("period_start", "<", until)
    )
    recent = (
        Where(dialect)
        .compare("id", ">", maintain.rolled_up_to(reader, rollup))
        .compare("timestamp", ">=", query.since)
        .compare("timestamp", "<", query.until)
    )
    for name, values in query.filters:
        rolled.any_of(name, values, keyed=name in long)
        raw = next(k.raw for k in rollup.keys if k.name == name)
        recent.any_of(raw, values, keyed=name in long)
    first = rollup.counts[0][0]
    counted = reader.query(
        f"SELECT coalesce(sum({first}), 0) AS n FROM {rollup.summary}{rolled.sql}", rolled.params
    )
    pending = reader.query(f"SELECT count(*) AS n FROM {rollup.raw}{recent.sql}", recent.params)
    return int(counted[0]["n"]) + int(pending[0]["n"])
