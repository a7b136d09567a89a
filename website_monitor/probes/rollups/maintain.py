"""Keeping the latency rollups current: catch-ups after writes, folding weeks, rebuilding.

Probes are stored raw (at COPY speed); `catch_up` then adds the probes stored
since it last ran to two tables, in bulk and in set-based SQL:

* `rollup_summary (width, period_start, url, status)`: probes, errors, ok
  checks, timed checks (with a response time), sum, min and max of the
  response time;
* `rollup_latency (width, period_start, url, status, bucket)`: how many
  response times fell into each bucket of the sketch (`sketch.bucket_index`).

`rollup_state.rolled_up_to` says how far they go: every probe with a lower or
equal id is in the rollups, no other. The mark advances in the same
transaction as the rows it covers, so a crash loses nothing and counts
nothing twice, and a redelivered probe (refused by the unique event id) never
reaches them. Reads add the probes above the mark from url_probes, so answers
never lag.

Day rows follow every catch-up. Week rows exist only for the weeks that are
over, those starting before `rollup_state.weeks_to` (by the database's
clock): a week's rows are folded once from its days when it ends, and a late
probe of such a week goes to its day and its week directly.

Why days and weeks, and no finer level: a URL probed every 30 s has 120
probes an hour, spread over about as many buckets, so hour (let alone minute)
histograms hold about as many rows as the raw table: they cost as much to
write as the probes themselves and save nothing when read.
"""

from __future__ import annotations

import dataclasses
import threading
import time

from website_monitor.errors import StoreError
from website_monitor.probes.rollups.sketch import DAY, NO_STATUS, WEEK, bucket_sql, week_start
from website_monitor.store.base import Reader, Repository
from website_monitor.store.dialect import Dialect

#: Which probes the rollups hold: every url_probes row with `id <= rolled_up_to`.
STATE_TABLE = "rollup_state"
#: Probes rolled up per transaction: bounds how long one catch-up step holds its locks.
CATCH_UP_CHUNK = 200_000
#: Serialises catch-ups and rebuilds (where writers run concurrently).
ROLLUP_LOCK = 0x776D_726C  # "wmrl"
_SUMMARY_COLUMNS = "probes, errors, ok, timed, sum_ms, min_ms, max_ms"


def _fill_statements(dialect: Dialect, ranged: bool) -> tuple[str, str]:
    """Add probes to both rollup tables: every row, or (ranged) `lo < id <= hi`.

    Days come from the raw rows and weeks from those days, so the raw rows are
    read once per table and the bucket of each value is computed once. Weeks
    get only the probes of periods starting before the `weeks_to` mark (the
    last parameter), the weeks already folded. Periods already in the tables
    are merged into (counts and sums added, min and max kept).
    """
    mark = dialect.placeholder
    epoch = dialect.epoch("timestamp")
    where = f" WHERE id > {mark} AND id <= {mark}" if ranged else ""
    status = f"coalesce(http_status_code, {NO_STATUS})"
    folded = f" WHERE period_start < {mark}"
    summary_sql = (
        f"WITH s{DAY} AS (SELECT ({epoch} / {DAY}) * {DAY} AS period_start, url,"
        f" {status} AS status, count(*) AS probes, count(error) AS errors,"
        " sum(CASE WHEN ok THEN 1 ELSE 0 END) AS ok, count(response_time_ms) AS timed,"
        " coalesce(sum(response_time_ms), 0) AS sum_ms,"
        " min(response_time_ms) AS min_ms, max(response_time_ms) AS max_ms"
        f" FROM url_probes{where} GROUP BY 1, 2, 3),"
        f" s{WEEK} AS (SELECT (period_start / {WEEK}) * {WEEK} AS period_start, url, status,"
        " sum(probes) AS probes, sum(errors) AS errors, sum(ok) AS ok, sum(timed) AS timed,"
        " sum(sum_ms) AS sum_ms, min(min_ms) AS min_ms, max(max_ms) AS max_ms"
        f" FROM s{DAY}{folded} GROUP BY 1, 2, 3)"
        f" INSERT INTO rollup_summary AS r (width, period_start, url, status, {_SUMMARY_COLUMNS})"
        f" SELECT * FROM (SELECT {DAY} AS width, period_start, url, status, {_SUMMARY_COLUMNS}"
        f" FROM s{DAY} UNION ALL SELECT {WEEK} AS width, period_start, url, status,"
        f" {_SUMMARY_COLUMNS} FROM s{WEEK}) AS x WHERE true ORDER BY 1, 2, 3, 4"
        f" ON CONFLICT (width, period_start, {dialect.text_key('url')}, status) DO UPDATE SET"
        " probes = r.probes + excluded.probes, errors = r.errors + excluded.errors,"
        " ok = r.ok + excluded.ok, timed = r.timed + excluded.timed,"
        " sum_ms = r.sum_ms + excluded.sum_ms,"
        f" min_ms = {dialect.least('r.min_ms', 'excluded.min_ms')},"
        f" max_ms = {dialect.greatest('r.max_ms', 'excluded.max_ms')}"
    )
    latency_sql = (
        f"WITH l{DAY} AS (SELECT ({epoch} / {DAY}) * {DAY} AS period_start, url,"
        f" {status} AS status, {bucket_sql('response_time_ms')} AS bucket, count(*) AS count"
        " FROM url_probes"
        + (f"{where} AND" if ranged else " WHERE")
        + " response_time_ms IS NOT NULL GROUP BY 1, 2, 3, 4),"
        f" l{WEEK} AS (SELECT (period_start / {WEEK}) * {WEEK} AS period_start, url, status,"
        f" bucket, sum(count) AS count FROM l{DAY}{folded} GROUP BY 1, 2, 3, 4)"
        " INSERT INTO rollup_latency AS r (width, period_start, url, status, bucket, count)"
        f" SELECT * FROM (SELECT {DAY} AS width, period_start, url, status, bucket, count"
        f" FROM l{DAY} UNION ALL SELECT {WEEK} AS width, period_start, url, status, bucket,"
        f" count FROM l{WEEK}) AS x WHERE true ORDER BY 1, 2, 3, 4, 5"
        f" ON CONFLICT (width, period_start, {dialect.text_key('url')}, status, bucket)"
        " DO UPDATE SET"
        " count = r.count + excluded.count"
    )
    return summary_sql, latency_sql


def _fold_statements(dialect: Dialect) -> tuple[str, ...]:
    """Compute the week rows of the weeks starting in [start, end) from their day rows.

    Each statement takes (start, end). The week rows there are deleted first, so
    a fold is idempotent.
    """
    mark = dialect.placeholder
    span = f"period_start >= {mark} AND period_start < {mark}"
    return (
        f"DELETE FROM rollup_summary WHERE width = {WEEK} AND {span}",
        f"INSERT INTO rollup_summary (width, period_start, url, status, {_SUMMARY_COLUMNS})"
        f" SELECT {WEEK}, (period_start / {WEEK}) * {WEEK}, url, status, sum(probes),"
        " sum(errors), sum(ok), sum(timed), sum(sum_ms), min(min_ms), max(max_ms)"
        f" FROM rollup_summary WHERE width = {DAY} AND {span} GROUP BY 2, 3, 4",
        f"DELETE FROM rollup_latency WHERE width = {WEEK} AND {span}",
        "INSERT INTO rollup_latency (width, period_start, url, status, bucket, count)"
        f" SELECT {WEEK}, (period_start / {WEEK}) * {WEEK}, url, status, bucket, sum(count)"
        f" FROM rollup_latency WHERE width = {DAY} AND {span} GROUP BY 2, 3, 4, 5",
    )


@dataclasses.dataclass(frozen=True)
class Frontier:
    """How far the stored probes go: the highest committed id, and the transactions that
    were running when it was read (they may still add rows with lower ids)."""

    max_id: int
    running: tuple[str, ...] = ()


def frontier(repository: Repository) -> Frontier:
    """Read the `Frontier` now: cheap, and it waits for nothing.

    A writer that just committed reads it on its own connection, so that a
    catch-up later covers its rows without waiting for the writes begun since.
    The running transactions are read after the maximum: a writer that starts
    in between takes ids above it.
    """
    max_id = int(repository.scalar("SELECT coalesce(max(id), 0) FROM url_probes"))
    return Frontier(max_id, repository.running_transactions())


def settled(repository: Repository, at: Frontier, *, wait: float = 60.0) -> int | None:
    """The highest probe id below which no running transaction can still add a row.

    PostgreSQL hands out ids when rows are written, not when they commit, so a
    transaction still writing may hold ids below the highest visible one. Ids
    handed out later are all higher, so only the transactions running when the
    frontier was read matter: wait until each has ended (without a lock, so no
    writer ever waits for the rollups). A writer takes its transaction id
    before its first probe id (`Transaction.insert`), so none is missed.
    None if they have not ended within `wait` seconds: the next catch-up tries
    again.
    """
    running = at.running
    deadline = time.monotonic() + wait
    while running:
        running = repository.still_running(running)
        if running and time.monotonic() > deadline:
            return None
        if running:
            time.sleep(0.01)
    return at.max_id


def catch_up(
    repository: Repository,
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
    the database clock), its rows are folded from its days, once: this halves the
    rows a catch-up writes.

    It covers the probes up to `upto` (a `frontier` read earlier), or up to the
    frontier now.
    """
    target = settled(repository, upto or frontier(repository))
    if target is None:
        raise StoreError(
            "a transaction writing probes has been running for over a minute",
            hint="the rollups catch up once it ends; reads meanwhile use the raw rows",
        )
    dialect = repository.dialect
    mark = dialect.placeholder
    fill = _fill_statements(dialect, True)
    fold = _fold_statements(dialect)
    over = week_start(clock(repository) if now is None else now)  # the weeks before are over
    covered = 0
    while stop is None or not stop.is_set():
        with repository.transaction() as tx:
            tx.lock(ROLLUP_LOCK)
            state = tx.query(f"SELECT rolled_up_to, weeks_to FROM {STATE_TABLE}")
            if not state:
                raise StoreError(
                    f"the rollups have lost their state ({STATE_TABLE} is empty)",
                    hint="run `wm db rebuild-rollups`",
                )
            done, weeks_to = int(state[0]["rolled_up_to"]), int(state[0]["weeks_to"])
            step_end = done
            if done < target:
                # Ids may have gaps (rolled back writes, a truncated table): skip to the next.
                first = tx.scalar(
                    f"SELECT coalesce(min(id), {mark}) FROM url_probes WHERE id > {mark}",
                    (target, done),
                )
                step_end = min(target, int(first) - 1 + chunk)
                for statement in fill:
                    tx.execute(statement, (done, step_end, weeks_to))
            if over > weeks_to:
                for statement in fold:
                    tx.execute(statement, (weeks_to, over))
            if step_end > done or over > weeks_to:
                tx.execute(
                    f"UPDATE {STATE_TABLE} SET rolled_up_to = {mark}, weeks_to = {mark}",
                    (step_end, max(over, weeks_to)),
                )
        covered += step_end - done
        if step_end >= target:
            break
    return covered


def rolled_up_to(reader: Reader) -> int:
    """The highest probe id the rollups hold (all lower ids too)."""
    rows = reader.query(f"SELECT rolled_up_to AS n FROM {STATE_TABLE}")
    return int(rows[0]["n"]) if rows else 0


def pending(reader: Reader) -> int:
    """How many probes are stored but not yet in the rollups."""
    rows = reader.query(
        f"SELECT count(*) AS n FROM url_probes WHERE id > {reader.dialect.placeholder}",
        (rolled_up_to(reader),),
    )
    return int(rows[0]["n"])


def rebuild(repository: Repository, *, now: float | None = None) -> dict[str, int]:
    """Recompute the rollups from every stored probe in one transaction; returns table sizes.

    Week rows are written for the weeks over by `now` (default: the database clock), as
    `catch_up` keeps them.
    """
    dialect = repository.dialect
    mark = dialect.placeholder
    over = week_start(clock(repository) if now is None else now)
    with repository.transaction() as tx:
        tx.lock(ROLLUP_LOCK)
        # Writers wait until the rebuild commits, so no row escapes it (see settled).
        lock = dialect.lock_for_writers("url_probes")
        if lock:
            tx.execute(lock)
        tx.execute("DELETE FROM rollup_summary")
        tx.execute("DELETE FROM rollup_latency")
        for statement in _fill_statements(dialect, False):
            tx.execute(statement, (over,))
        tx.execute(
            f"UPDATE {STATE_TABLE} SET weeks_to = {mark},"
            " rolled_up_to = (SELECT coalesce(max(id), 0) FROM url_probes)",
            (over,),
        )
    counts = {}
    for table in ("url_probes", "rollup_summary", "rollup_latency"):
        counts[table] = int(repository.scalar(f"SELECT count(*) AS n FROM {table}"))
    return counts


def clock(reader: Reader) -> float:
    """The database's time (epoch seconds): every process folds weeks by the same clock."""
    return float(reader.query(f"SELECT {reader.dialect.now_epoch} AS t")[0]["t"])


class Rollups:
    """The probes' derived tables, as the registry sees them (`feature.Derived`)."""

    def frontier(self, repository: Repository) -> Frontier:
        return frontier(repository)

    def catch_up(
        self,
        repository: Repository,
        *,
        upto: Frontier | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        return catch_up(repository, upto=upto, stop=stop)

    def pending(self, reader: Reader) -> int:
        return pending(reader)

    def rebuild(self, repository: Repository) -> dict[str, int]:
        return rebuild(repository)
