"""Latency rollups: per-URL, per-period summaries and log-scaled histograms.

Probes are stored raw (at COPY speed); `catch_up` then adds the probes stored
since it last ran to two tables, in bulk and in set-based SQL:

* `rollup_summary (width, period_start, url, status)`: probes, errors, ok
  checks, timed checks (with a response time), sum, min and max of the
  response time;
* `rollup_latency (width, period_start, url, status, bucket)`: how many
  response times fell into each bucket of a log-scaled histogram.

`rollup_state.rolled_up_to` says how far they go: every probe with a lower or
equal id is in the rollups, no other. The mark advances in the same
transaction as the rows it covers, so a crash loses nothing and counts
nothing twice, and a redelivered probe (refused by the unique event id) never
reaches them. Reads add the probes above the mark from url_probes, so answers
never lag.

Day rows follow every catch-up. Week rows exist only for the weeks that are
over, those starting before `rollup_state.weeks_to` (by the database's
clock): a week's rows are folded once from its days when it ends, and a late
probe of such a week goes to its day and its week directly. Reads take the
days of every week from `weeks_to` on.

`width` is the period length in seconds (LEVELS: a day, a week),
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

Why days and weeks, and no finer level: a URL probed every 30 s has 120
probes an hour, spread over about as many buckets, so hour (let alone minute)
histograms hold about as many rows as the raw table: they cost as much to
write as the probes themselves and save nothing when read. Day rows compress
4-10x and week rows 30-50x, so a year-long query reads a few hundred thousand
rows; the partial days at the edges of a range are read raw (bucketed on the
fly), as is a `--by hour` series.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import threading
import time
from collections.abc import Sequence
from typing import Any

from website_monitor.errors import StoreError

#: Relative accuracy of a bucket's representative value.
ACCURACY = 0.005
GAMMA = (1 + ACCURACY) / (1 - ACCURACY)
#: 1 / ln(GAMMA), written out so SQL and Python use the same constant.
INV_LOG_GAMMA = 1.0 / math.log(GAMMA)
#: Bucket of zero (and negative) response times; its value is 0.
ZERO_BUCKET = -100_000
#: Rollup levels, coarsest first: name -> period width in seconds.
#: Weeks start on Thursdays 00:00 UTC (epoch-aligned); `plan` fills the edges of a range
#: with days and raw rows, so alignment only changes which rows answer.
LEVELS: dict[str, int] = {"week": 604_800, "day": 86_400}
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

#: Which probes the rollups hold: every url_probes row with `id <= rolled_up_to`.
STATE_TABLE = "rollup_state"


def _fill_statements(backend: str, ranged: bool, weeks_before: str | None) -> tuple[str, str]:
    """Add probes to both rollup tables: every row, or (ranged) `lo < id <= hi`.

    Days come from the raw rows and weeks from those days, so the raw rows are
    read once per table and the bucket of each value is computed once. Weeks
    get only the probes of periods starting before `weeks_before` (an SQL
    expression, a placeholder taking the `weeks_to` mark after the range's
    two), the weeks already folded; None: every week (schema version 4). Periods
    already in the tables are merged into (counts and sums added, min and max kept).
    """
    pg = backend == "postgresql"
    mark = "%s" if pg else "?"
    epoch = pg_epoch_sql("timestamp") if pg else sqlite_epoch_sql("timestamp")
    bucket = (
        pg_bucket_sql("response_time_ms") if pg else f"{SQLITE_BUCKET_FUNCTION}(response_time_ms)"
    )
    ok = "count(*) FILTER (WHERE ok)" if pg else "sum(CASE WHEN ok THEN 1 ELSE 0 END)"
    where = f" WHERE id > {mark} AND id <= {mark}" if ranged else ""
    widths = sorted(LEVELS.values())
    finest = widths[0]
    status = f"coalesce(http_status_code, {NO_STATUS})"

    summary = [
        f"s{finest} AS (SELECT ({epoch} / {finest}) * {finest} AS period_start, url,"
        f" {status} AS status, count(*) AS probes, count(error) AS errors, {ok} AS ok,"
        " count(response_time_ms) AS timed, coalesce(sum(response_time_ms), 0) AS sum_ms,"
        " min(response_time_ms) AS min_ms, max(response_time_ms) AS max_ms"
        f" FROM url_probes{where} GROUP BY 1, 2, 3)"
    ]
    latency = [
        f"l{finest} AS (SELECT ({epoch} / {finest}) * {finest} AS period_start, url,"
        f" {status} AS status, {bucket} AS bucket, count(*) AS count FROM url_probes"
        + (f"{where} AND" if ranged else " WHERE")
        + " response_time_ms IS NOT NULL GROUP BY 1, 2, 3, 4)"
    ]
    folded = "" if weeks_before is None else f" WHERE period_start < {weeks_before}"
    for finer, width in itertools.pairwise(widths):
        summary.append(
            f"s{width} AS (SELECT (period_start / {width}) * {width} AS period_start, url, status,"
            " sum(probes) AS probes, sum(errors) AS errors, sum(ok) AS ok, sum(timed) AS timed,"
            " sum(sum_ms) AS sum_ms, min(min_ms) AS min_ms, max(max_ms) AS max_ms"
            f" FROM s{finer}{folded} GROUP BY 1, 2, 3)"
        )
        latency.append(
            f"l{width} AS (SELECT (period_start / {width}) * {width} AS period_start, url, status,"
            f" bucket, sum(count) AS count FROM l{finer}{folded} GROUP BY 1, 2, 3, 4)"
        )
    if pg:
        least = "least(r.min_ms, excluded.min_ms)"
        greatest = "greatest(r.max_ms, excluded.max_ms)"
    else:  # SQLite's min() and max() of NULL are NULL
        least = "min(coalesce(r.min_ms, excluded.min_ms), coalesce(excluded.min_ms, r.min_ms))"
        greatest = "max(coalesce(r.max_ms, excluded.max_ms), coalesce(excluded.max_ms, r.max_ms))"
    summary_columns = "probes, errors, ok, timed, sum_ms, min_ms, max_ms"
    summary_sql = (
        f"WITH {', '.join(summary)}"
        f" INSERT INTO rollup_summary AS r (width, period_start, url, status, {summary_columns})"
        " SELECT * FROM ("
        + " UNION ALL ".join(
            f"SELECT {w} AS width, period_start, url, status, {summary_columns} FROM s{w}"
            for w in widths
        )
        + ") AS x WHERE true ORDER BY 1, 2, 3, 4"
        " ON CONFLICT (width, period_start, url, status) DO UPDATE SET"
        " probes = r.probes + excluded.probes, errors = r.errors + excluded.errors,"
        " ok = r.ok + excluded.ok, timed = r.timed + excluded.timed,"
        f" sum_ms = r.sum_ms + excluded.sum_ms, min_ms = {least}, max_ms = {greatest}"
    )
    latency_sql = (
        f"WITH {', '.join(latency)}"
        " INSERT INTO rollup_latency AS r (width, period_start, url, status, bucket, count)"
        " SELECT * FROM ("
        + " UNION ALL ".join(
            f"SELECT {w} AS width, period_start, url, status, bucket, count FROM l{w}"
            for w in widths
        )
        + ") AS x WHERE true ORDER BY 1, 2, 3, 4, 5"
        " ON CONFLICT (width, period_start, url, status, bucket) DO UPDATE SET"
        " count = r.count + excluded.count"
    )
    return summary_sql, latency_sql


def _rebuild_statements(backend: str, weeks_before: str | None) -> tuple[str, ...]:
    """Recompute both rollup tables from every url_probes row (after deleting them)."""
    return (
        "DELETE FROM rollup_summary",
        "DELETE FROM rollup_latency",
        *_fill_statements(backend, False, weeks_before),
    )


def _fold_statements(backend: str) -> tuple[str, ...]:
    """Compute the week rows of the weeks starting in [start, end) from their day rows.

    Each statement takes (start, end). The week rows there are deleted first, so
    a fold is idempotent.
    """
    mark = "%s" if backend == "postgresql" else "?"
    week, day = LEVELS["week"], LEVELS["day"]
    span = f"period_start >= {mark} AND period_start < {mark}"
    summary_columns = "probes, errors, ok, timed, sum_ms, min_ms, max_ms"
    return (
        f"DELETE FROM rollup_summary WHERE width = {week} AND {span}",
        f"INSERT INTO rollup_summary (width, period_start, url, status, {summary_columns})"
        f" SELECT {week}, (period_start / {week}) * {week}, url, status, sum(probes),"
        " sum(errors), sum(ok), sum(timed), sum(sum_ms), min(min_ms), max(max_ms)"
        f" FROM rollup_summary WHERE width = {day} AND {span} GROUP BY 2, 3, 4",
        f"DELETE FROM rollup_latency WHERE width = {week} AND {span}",
        "INSERT INTO rollup_latency (width, period_start, url, status, bucket, count)"
        f" SELECT {week}, (period_start / {week}) * {week}, url, status, bucket, sum(count)"
        f" FROM rollup_latency WHERE width = {day} AND {span} GROUP BY 2, 3, 4, 5",
    )


def week_start(epoch: float) -> int:
    """The start (epoch second) of the week holding `epoch`."""
    week = LEVELS["week"]
    return int(epoch // week) * week


def schema_statements(backend: str) -> tuple[str, ...]:
    """Migration 4: the rollup tables, filled from the probes already stored.

    On PostgreSQL both tables are partitioned by level, so the rows of one level
    stay together on disk (a year-long query reads the week partition only)
    however the rows of the levels arrive interleaved.
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
    return (*statements, *_rebuild_statements(backend, None))


def state_statements(backend: str) -> tuple[str, ...]:
    """Migration 5: rollups follow the probes (rollup_state); no hour level any more.

    Until migration 5 every write updated the rollups, so they hold every row stored.
    """
    big = "BIGINT" if backend == "postgresql" else "INTEGER"
    if backend == "postgresql":
        drop_hours: tuple[str, ...] = (
            "DROP TABLE IF EXISTS rollup_summary_hour",
            "DROP TABLE IF EXISTS rollup_latency_hour",
        )
    else:
        drop_hours = (
            f"DELETE FROM rollup_summary WHERE width = {_HOUR}",
            f"DELETE FROM rollup_latency WHERE width = {_HOUR}",
        )
    return (
        *drop_hours,
        f"""CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
            singleton INTEGER PRIMARY KEY DEFAULT 1 CHECK (singleton = 1),
            rolled_up_to {big} NOT NULL
        )""",
        f"INSERT INTO {STATE_TABLE} (singleton, rolled_up_to)"
        " SELECT 1, coalesce(max(id), 0) FROM url_probes"
        " WHERE true ON CONFLICT (singleton) DO NOTHING",
    )


def weeks_statements(backend: str) -> tuple[str, ...]:
    """Migration 6: week rows only for weeks that are over (`rollup_state.weeks_to`).

    Until migration 6 every catch-up updated the week rows as well, so they hold
    every rolled-up probe: those of the weeks that are over are kept, those of
    the current week deleted (reads take its days instead).
    """
    pg = backend == "postgresql"
    big = "BIGINT" if pg else "INTEGER"
    week = LEVELS["week"]
    now = _now_sql(backend)
    return (
        f"ALTER TABLE {STATE_TABLE} ADD COLUMN weeks_to {big} NOT NULL DEFAULT 0",
        f"UPDATE {STATE_TABLE} SET weeks_to = ({now} / {week}) * {week}",
        *(
            f"DELETE FROM {table} WHERE width = {week}"
            f" AND period_start >= (SELECT weeks_to FROM {STATE_TABLE})"
            for table in ("rollup_summary", "rollup_latency")
        ),
    )


#: The hour level that schema version 4 had.
_HOUR = 3_600


# --- maintenance --------------------------------------------------------------------------

#: Probes rolled up per transaction: bounds how long one catch-up step holds its locks.
CATCH_UP_CHUNK = 200_000
#: Serialises catch-ups and rebuilds on PostgreSQL.
_ROLLUP_LOCK = 0x776D_726C  # "wmrl"


@dataclasses.dataclass(frozen=True)
class Frontier:
    """How far the stored probes go: the highest committed id, and the transactions that
    were running when it was read (they may still add rows with lower ids)."""

    max_id: int
    running: tuple[str, ...] = ()


#: The transaction ids running now (each holds the lock on its own id), but the caller's.
_RUNNING = (
    "SELECT transactionid::text FROM pg_locks WHERE locktype = 'transactionid'"
    " AND mode = 'ExclusiveLock' AND granted AND pid <> pg_backend_pid()"
)


def frontier(repository: Any) -> Frontier:
    """Read the `Frontier` now: cheap (one query), and it waits for nothing.

    A writer that just committed reads it on its own connection, so that a
    catch-up later covers its rows without waiting for the writes begun since.
    The running transactions come from the lock table, read after the maximum:
    a snapshot's list of running transactions leaves out those with ids above
    the newest one completed, and such a writer may still hold lower probe ids.
    """
    if repository.backend != "postgresql":  # SQLite: one writer at a time, nothing in flight
        rows = repository.query("SELECT coalesce(max(id), 0) AS n FROM url_probes")
        return Frontier(int(rows[0]["n"]))
    [row] = repository.query(
        f"SELECT (SELECT coalesce(max(id), 0) FROM url_probes) AS n, ARRAY({_RUNNING}) AS running"
    )
    return Frontier(int(row["n"]), tuple(row["running"]))


def _settled(repository: Any, at: Frontier, *, wait: float = 60.0) -> int | None:
    """The highest probe id below which no running transaction can still add a row.

    PostgreSQL hands out ids when rows are written, not when they commit, so a
    transaction still writing may hold ids below the highest visible one. Ids
    handed out later are all higher, so only the transactions running when the
    frontier was read matter: wait until each has ended (without a lock, so no
    writer ever waits for the rollups). A writer takes its transaction id
    before its first probe id (`PostgresRepository.write`), so none is missed.
    None if they have not ended within `wait` seconds: the next catch-up tries
    again.
    """
    running = list(at.running)
    deadline = time.monotonic() + wait
    while running:
        still = repository.query(
            f"SELECT array_agg(x) AS running FROM ({_RUNNING}) AS r (x) WHERE x = ANY(%s)",
            (running,),
        )[0]["running"]
        running = list(still or [])
        if running and time.monotonic() > deadline:
            return None
        if running:
            time.sleep(0.01)
    return at.max_id


def catch_up(
    repository: Any,
    *,
    chunk: int = CATCH_UP_CHUNK,
    stop: threading.Event | None = None,
    now: float | None = None,
    upto: Frontier | None = None,
) -> int:
    """Add every probe stored since the last catch-up to the rollups; returns how many ids.

    Writers only insert raw rows (at COPY speed); the rollups follow here, in
    set-based steps of at most `chunk` ids, each in one transaction with the
    `rolled_up_to` mark it advances, so a crash mid-way loses nothing and counts
    nothing twice. Reads stay exact meanwhile: `wm stats` adds the rows above
    the mark from url_probes. With `stop` set, it returns after the current step.

    Each step adds to the day rows; the week rows only get the (late) probes of
    weeks already over. Once a week is over (by `now`, epoch seconds, default
    the database clock), its rows are folded from its days, once: this halves the rows a
    catch-up writes.

    It covers the probes up to `upto` (a `frontier` read earlier), or up to the
    frontier now.
    """
    _check_backend(repository)
    target = _settled(repository, upto or frontier(repository))
    if target is None:
        raise StoreError(
            "a transaction writing probes has been running for over a minute",
            hint="the rollups catch up once it ends; reads meanwhile use the raw rows",
        )
    mark = "%s" if repository.backend == "postgresql" else "?"
    fill = _fill_statements(repository.backend, True, mark)
    fold = _fold_statements(repository.backend)
    over = week_start(_clock(repository) if now is None else now)  # the weeks before are over
    covered = 0
    while stop is None or not stop.is_set():
        with repository.transaction() as cursor:
            if repository.backend == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_ROLLUP_LOCK,))
            cursor.execute(f"SELECT rolled_up_to, weeks_to FROM {STATE_TABLE}")
            state = cursor.fetchone()
            if state is None:
                raise StoreError(
                    f"the rollups have lost their state ({STATE_TABLE} is empty)",
                    hint="run `wm db rebuild-rollups`",
                )
            done, weeks_to = int(state[0]), int(state[1])
            step_end = done
            if done < target:
                # Ids may have gaps (rolled back writes, a truncated table): skip to the next.
                cursor.execute(
                    f"SELECT coalesce(min(id), {mark}) FROM url_probes WHERE id > {mark}",
                    (target, done),
                )
                step_end = min(target, int(cursor.fetchone()[0]) - 1 + chunk)
                for statement in fill:
                    cursor.execute(statement, (done, step_end, weeks_to))
            if over > weeks_to:
                for statement in fold:
                    cursor.execute(statement, (weeks_to, over))
            if step_end > done or over > weeks_to:
                cursor.execute(
                    f"UPDATE {STATE_TABLE} SET rolled_up_to = {mark}, weeks_to = {mark}",
                    (step_end, max(over, weeks_to)),
                )
        covered += step_end - done
        if step_end >= target:
            break
    return covered


def rolled_up_to(repository: Any) -> int:
    """The highest probe id the rollups hold (all lower ids too)."""
    rows = repository.query(f"SELECT rolled_up_to AS n FROM {STATE_TABLE}")
    return int(rows[0]["n"]) if rows else 0


def pending(repository: Any) -> int:
    """How many probes are stored but not yet in the rollups."""
    rows = repository.query(
        f"SELECT count(*) AS n FROM url_probes WHERE id > {repository.placeholder}",
        (rolled_up_to(repository),),
    )
    return int(rows[0]["n"])


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
    lo: float | None,
    hi: float | None,
    widths: Sequence[int],
    *,
    coarsest_until: float | None = None,
) -> list[tuple[float | None, float | None, int | None]]:
    """Cover [lo, hi) (epoch seconds, None = unbounded) with whole periods, coarsest first.

    Returns (start, end, width) segments; width None means raw rows. With
    `coarsest_until` (a boundary of every width), the coarsest level covers only
    periods before it (the weeks that are over): finer levels cover the rest.
    """
    if coarsest_until is not None and len(widths) > 1:
        split = coarsest_until
        before = plan(lo, split if hi is None else min(hi, split), widths)
        return before + plan(split if lo is None else max(lo, split), hi, widths[1:])
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


def rebuild(repository: Any, *, now: float | None = None) -> dict[str, int]:
    """Recompute the rollups from every stored probe in one transaction; returns table sizes.

    Week rows are written for the weeks over by `now` (default: the database clock), as
    `catch_up` keeps them.
    """
    _check_backend(repository)
    pg = repository.backend == "postgresql"
    mark = "%s" if pg else "?"
    over = week_start(_clock(repository) if now is None else now)
    with repository.transaction() as cursor:
        if pg:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_ROLLUP_LOCK,))
            # Writers wait until the rebuild commits, so no row escapes it (see _settled).
            cursor.execute("LOCK TABLE url_probes IN SHARE MODE")
        cursor.execute("DELETE FROM rollup_summary")
        cursor.execute("DELETE FROM rollup_latency")
        for statement in _fill_statements(repository.backend, False, mark):
            cursor.execute(statement, (over,))
        cursor.execute(
            f"UPDATE {STATE_TABLE} SET weeks_to = {mark},"
            " rolled_up_to = (SELECT coalesce(max(id), 0) FROM url_probes)",
            (over,),
        )
    counts = {}
    for table in ("url_probes", "rollup_summary", "rollup_latency"):
        rows = repository.query(f"SELECT count(*) AS n FROM {table}")
        counts[table] = int(rows[0]["n"])
    return counts


def _now_sql(backend: str) -> str:
    """The database's time, in whole epoch seconds, as an SQL expression."""
    if backend == "postgresql":
        return pg_epoch_sql("now()")
    return "CAST(strftime('%s', 'now') AS INTEGER)"


def _clock(repository: Any) -> float:
    """The database's time (epoch seconds): every process folds weeks by the same clock."""
    return float(repository.query(f"SELECT {_now_sql(repository.backend)} AS t")[0]["t"])


def _check_backend(repository: Any) -> None:
    if getattr(repository, "backend", None) not in ("postgresql", "sqlite"):
        raise StoreError(f"no rollups in a {type(repository).__name__} store")
