"""Latency rollups: per-URL, per-period summaries and log-scaled histograms.

Every stored probe also updates, in the same transaction and only if the probe
row was actually inserted (a redelivered `event_id` changes nothing), two
levels of aggregates:

* `rollup_summary (width, period_start, url, status)`: probes, errors, ok
  checks, timed checks (with a response time), sum, min and max of the
  response time;
* `rollup_latency (width, period_start, url, status, bucket)`: how many
  response times fell into each bucket of a log-scaled histogram.

`width` is the period length in seconds (LEVELS: an hour, a day, a week),
`period_start` the UTC epoch second the period starts at, `status` the HTTP
status (0 when the request failed). The histogram is DDSketch-like: a value v
goes to bucket `ceil(log(v) / log(GAMMA))`, i.e. (GAMMA^(i-1), GAMMA^i], whose
representative 2·GAMMA^i/(GAMMA+1) is within ACCURACY (relative) of every
value in the bucket. Histograms of any periods merge by adding counts.

Percentiles from a merged histogram follow `percentile_cont`: the two order
statistics it interpolates between are replaced by their buckets'
representatives (clamped to the exact min and max), so the result is within
ACCURACY of the exact value as well (a convex combination of values each
within ACCURACY). ACCURACY is 0.5 %; the tests check ≤ 1 %.

Per-minute rows would barely compress (a URL probed every 30 s has two probes
a minute), so the finest level is the hour, and long ranges are answered from
whole weeks, then whole days, then whole hours at the edges, then the raw rows
of the partial hours at the very edges (bucketed on the fly). The cost is on
the write side: every stored probe updates one summary and one histogram row
per level (three levels: about 3 upserts per probe). Hour rows take about as
much room as the raw rows when a URL is probed a few times a minute (its
values rarely share a bucket within an hour); day rows compress 5-10x and week
rows 30-50x, which keeps a year-long query to a few hundred thousand rows.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

#: Relative accuracy of a bucket's representative value.
ACCURACY = 0.005
GAMMA = (1 + ACCURACY) / (1 - ACCURACY)
#: 1 / ln(GAMMA), written out so SQL and Python use the same constant.
INV_LOG_GAMMA = 1.0 / math.log(GAMMA)
#: Bucket of zero (and negative) response times; its value is 0.
ZERO_BUCKET = -100_000
#: Rollup levels, coarsest first: name -> period width in seconds.
#: Weeks start on Thursdays 00:00 UTC (epoch-aligned); `plan` fills the edges of a range
#: with days, hours and raw rows, so alignment only changes which rows answer.
LEVELS: dict[str, int] = {"week": 604_800, "day": 86_400, "hour": 3_600}
#: `status` stored for a check without an HTTP status (the request failed).
NO_STATUS = 0


def bucket_index(value: float) -> int:
    """The histogram bucket of a response time in ms."""
    if value <= 0:
        return ZERO_BUCKET
    return math.ceil(math.log(value) * INV_LOG_GAMMA)


def bucket_value(index: int) -> float:
    """The representative value of a bucket: within ACCURACY of every value in it."""
    if index == ZERO_BUCKET:
        return 0.0
    return 2.0 * GAMMA**index / (GAMMA + 1.0)


def pg_bucket_sql(column: str) -> str:
    """`bucket_index` as a PostgreSQL expression."""
    return (
        f"(CASE WHEN {column} > 0 THEN ceil(ln({column}) * {INV_LOG_GAMMA!r})::integer"
        f" ELSE {ZERO_BUCKET} END)"
    )


#: SQLite gets `bucket_index` as a registered function of this name.
SQLITE_BUCKET_FUNCTION = "wm_bucket"


def sqlite_bucket(value: float | None) -> int | None:
    return None if value is None else bucket_index(float(value))


def pg_epoch_sql(column: str) -> str:
    return f"floor(extract(epoch from {column}))::bigint"


def sqlite_epoch_sql(column: str) -> str:
    # Timestamps are stored as fixed-width UTC text (store.sqlite.format_timestamp).
    return f"CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER)"


# --- schema -------------------------------------------------------------------------------


def _rebuild_statements(backend: str) -> tuple[str, ...]:
    """Recompute both rollup tables from url_probes (after deleting them)."""
    if backend == "postgresql":
        epoch = pg_epoch_sql("timestamp")
        bucket = pg_bucket_sql("p.v")
        widths = "(VALUES " + ", ".join(f"({w})" for w in LEVELS.values()) + ") AS w(width)"
        ok = "count(*) FILTER (WHERE p.ok)"
    else:
        epoch = sqlite_epoch_sql("timestamp")
        bucket = f"{SQLITE_BUCKET_FUNCTION}(p.v)"
        widths = "(" + " UNION ALL ".join(f"SELECT {w} AS width" for w in LEVELS.values()) + ") w"
        ok = "sum(CASE WHEN p.ok THEN 1 ELSE 0 END)"
    source = (
        f"(SELECT url, coalesce(http_status_code, {NO_STATUS}) AS status, {epoch} AS epoch,"
        " response_time_ms AS v, error, ok FROM url_probes) AS p"
    )
    period = "(p.epoch / w.width) * w.width"
    return (
        "DELETE FROM rollup_summary",
        "DELETE FROM rollup_latency",
        "INSERT INTO rollup_summary (width, period_start, url, status, probes, errors, ok,"
        " timed, sum_ms, min_ms, max_ms)"
        f" SELECT w.width, {period}, p.url, p.status, count(*), count(p.error), {ok},"
        f" count(p.v), coalesce(sum(p.v), 0), min(p.v), max(p.v) FROM {source} CROSS JOIN {widths}"
        " GROUP BY 1, 2, 3, 4",
        "INSERT INTO rollup_latency (width, period_start, url, status, bucket, count)"
        f" SELECT w.width, {period}, p.url, p.status, {bucket}, count(*)"
        f" FROM {source} CROSS JOIN {widths} WHERE p.v IS NOT NULL GROUP BY 1, 2, 3, 4, 5",
    )


def schema_statements(backend: str) -> tuple[str, ...]:
    """Migration 4: the rollup tables, filled from the probes already stored.

    On PostgreSQL both tables are partitioned by level, so the rows of one level
    stay together on disk (a year-long query reads the week partition only)
    however the hour, day and week rows of each batch arrive interleaved.
    """
    pg = backend == "postgresql"
    real = "DOUBLE PRECISION" if pg else "REAL"
    big = "BIGINT" if pg else "INTEGER"
    statements = []
    for table, columns, key in (
        (
            "rollup_summary",
            f"""probes {big} NOT NULL,
            errors {big} NOT NULL,
            ok {big} NOT NULL,
            timed {big} NOT NULL,
            sum_ms {real} NOT NULL,
            min_ms {real},
            max_ms {real},""",
            "width, period_start, url, status",
        ),
        (
            "rollup_latency",
            f"""bucket INTEGER NOT NULL,
            count {big} NOT NULL,""",
            "width, period_start, url, status, bucket",
        ),
    ):
        statements.append(
            f"""CREATE TABLE IF NOT EXISTS {table} (
            width INTEGER NOT NULL,
            period_start {big} NOT NULL,
            url TEXT NOT NULL,
            status INTEGER NOT NULL,
            {columns}
            PRIMARY KEY ({key})
        )"""
            + (" PARTITION BY LIST (width)" if pg else "")
        )
        if pg:
            statements.extend(
                f"CREATE TABLE IF NOT EXISTS {table}_{name} PARTITION OF {table}"
                f" FOR VALUES IN ({width})"
                for name, width in LEVELS.items()
            )
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {table}_other PARTITION OF {table} DEFAULT"
            )
    return (*statements, *_rebuild_statements(backend))


def rebuild_statements(backend: str) -> tuple[str, ...]:
    return _rebuild_statements(backend)


# --- incremental maintenance --------------------------------------------------------------


def pg_write_sql(columns: str) -> str:
    """One statement: insert the staged probes, then add the inserted ones to the rollups.

    Returns one row: the number of probe rows inserted. Only rows the INSERT
    returned (not conflicting on event_id) reach the rollups. Keys are grouped,
    so no row is updated twice, and sorted, so concurrent writers lock rollup
    rows in the same order.
    """
    widths = "(VALUES " + ", ".join(f"({w})" for w in LEVELS.values()) + ") AS w(width)"
    period = "(b.epoch / w.width) * w.width"
    return f"""
WITH ins AS (
    INSERT INTO url_probes ({columns}) SELECT {columns} FROM wm_probes_staging
    ON CONFLICT (event_id) DO NOTHING
    RETURNING url, http_status_code, timestamp, response_time_ms, error, ok
), b AS (
    SELECT url, coalesce(http_status_code, {NO_STATUS}) AS status,
           {pg_epoch_sql("timestamp")} AS epoch, response_time_ms AS v, error, ok
    FROM ins
), s AS (
    INSERT INTO rollup_summary AS r (width, period_start, url, status, probes, errors, ok,
                                     timed, sum_ms, min_ms, max_ms)
    SELECT w.width, {period}, b.url, b.status, count(*), count(b.error),
           count(*) FILTER (WHERE b.ok), count(b.v), coalesce(sum(b.v), 0), min(b.v), max(b.v)
    FROM b CROSS JOIN {widths}
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (width, period_start, url, status) DO UPDATE SET
        probes = r.probes + excluded.probes,
        errors = r.errors + excluded.errors,
        ok = r.ok + excluded.ok,
        timed = r.timed + excluded.timed,
        sum_ms = r.sum_ms + excluded.sum_ms,
        min_ms = least(r.min_ms, excluded.min_ms),
        max_ms = greatest(r.max_ms, excluded.max_ms)
    RETURNING 1
), h AS (
    INSERT INTO rollup_latency AS r (width, period_start, url, status, bucket, count)
    SELECT w.width, {period}, b.url, b.status, {pg_bucket_sql("b.v")}, count(*)
    FROM b CROSS JOIN {widths}
    WHERE b.v IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (width, period_start, url, status, bucket) DO UPDATE SET
        count = r.count + excluded.count
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM s), (SELECT count(*) FROM h)
"""


@dataclasses.dataclass
class _Summary:
    probes: int = 0
    errors: int = 0
    ok: int = 0
    timed: int = 0
    sum_ms: float = 0.0
    min_ms: float | None = None
    max_ms: float | None = None


def aggregate(
    rows: Iterable[tuple[str, int | None, int, float | None, str | None, bool | None]],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Rollup rows for (url, status, epoch second, response time, error, ok) tuples.

    Returns (summary rows, latency rows) ready for the upserts in SQLITE_UPSERTS.
    """
    summaries: dict[tuple[int, int, str, int], _Summary] = {}
    counts: dict[tuple[int, int, str, int, int], int] = {}
    for url, status, epoch, value, error, ok in rows:
        code = NO_STATUS if status is None else status
        for width in LEVELS.values():
            period = (epoch // width) * width
            s = summaries.setdefault((width, period, url, code), _Summary())
            s.probes += 1
            s.errors += error is not None
            s.ok += bool(ok)
            if value is not None:
                s.timed += 1
                s.sum_ms += value
                s.min_ms = value if s.min_ms is None else min(s.min_ms, value)
                s.max_ms = value if s.max_ms is None else max(s.max_ms, value)
                key = (width, period, url, code, bucket_index(value))
                counts[key] = counts.get(key, 0) + 1
    summary_rows = [
        (*key, s.probes, s.errors, s.ok, s.timed, s.sum_ms, s.min_ms, s.max_ms)
        for key, s in sorted(summaries.items())
    ]
    latency_rows = [(*key, n) for key, n in sorted(counts.items())]
    return summary_rows, latency_rows


SQLITE_SUMMARY_UPSERT = """INSERT INTO rollup_summary (width, period_start, url, status, probes,
    errors, ok, timed, sum_ms, min_ms, max_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (width, period_start, url, status) DO UPDATE SET
    probes = probes + excluded.probes,
    errors = errors + excluded.errors,
    ok = ok + excluded.ok,
    timed = timed + excluded.timed,
    sum_ms = sum_ms + excluded.sum_ms,
    min_ms = min(coalesce(min_ms, excluded.min_ms), coalesce(excluded.min_ms, min_ms)),
    max_ms = max(coalesce(max_ms, excluded.max_ms), coalesce(excluded.max_ms, max_ms))"""

SQLITE_LATENCY_UPSERT = """INSERT INTO rollup_latency (width, period_start, url, status, bucket,
    count) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (width, period_start, url, status, bucket) DO UPDATE SET
    count = count + excluded.count"""


# --- reading ------------------------------------------------------------------------------


def percentile(
    histogram: Sequence[tuple[int, int]], fraction: float, lo: float, hi: float
) -> float:
    """`percentile_cont(fraction)` estimated from sorted (bucket, count) pairs.

    `lo` and `hi` are the exact minimum and maximum; representatives are clamped to them.
    """
    total = sum(n for _, n in histogram)
    position = fraction * (total - 1)
    lower = math.floor(position)
    upper = math.ceil(position)
    lower_value = upper_value = None
    seen = 0
    for index, n in histogram:
        seen += n
        if lower_value is None and seen > lower:
            lower_value = min(max(bucket_value(index), lo), hi)
        if seen > upper:
            upper_value = min(max(bucket_value(index), lo), hi)
            break
    assert lower_value is not None and upper_value is not None
    return lower_value + (upper_value - lower_value) * (position - lower)


def plan(
    lo: float | None, hi: float | None, widths: Sequence[int]
) -> list[tuple[float | None, float | None, int | None]]:
    """Cover [lo, hi) (epoch seconds, None = unbounded) with whole periods, coarsest first.

    Returns (start, end, width) segments; width None means raw rows.
    """
    if lo is not None and hi is not None and lo >= hi:
        return []
    if not widths:
        return [(lo, hi, None)]
    width, finer = widths[0], widths[1:]
    first = None if lo is None else -(-lo // width) * width
    last = None if hi is None else (hi // width) * width
    if first is not None and last is not None and first >= last:
        return plan(lo, hi, finer)
    segments: list[tuple[float | None, float | None, int | None]] = []
    if lo is not None and first is not None:
        segments.extend(plan(lo, first, finer))
    segments.append((first, last, width))
    if hi is not None and last is not None:
        segments.extend(plan(last, hi, finer))
    return segments


def rebuild(repository: Any) -> dict[str, int]:
    """Recompute the rollups from url_probes in one transaction; returns the table sizes."""
    from website_monitor.store.postgres import PostgresRepository
    from website_monitor.store.sqlite import SQLiteRepository

    if not isinstance(repository, (PostgresRepository, SQLiteRepository)):
        raise TypeError(f"cannot rebuild rollups in {type(repository).__name__}")
    with repository.transaction() as cursor:
        if isinstance(repository, PostgresRepository):
            cursor.execute("LOCK TABLE rollup_summary, rollup_latency IN EXCLUSIVE MODE")
        for statement in rebuild_statements(repository.backend):
            cursor.execute(statement)
    counts = {}
    for table in ("url_probes", "rollup_summary", "rollup_latency"):
        rows = repository.query(f"SELECT count(*) AS n FROM {table}")
        counts[table] = int(rows[0]["n"])
    return counts
