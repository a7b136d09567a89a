"""Keeping a kind's rollups current: catch-ups after writes, folding weeks, rebuilding.

Raw rows are stored as they come (at COPY speed); `catch_up` then adds the
rows stored since it last ran to the kind's summary and histogram tables (see
`rollups.spec`), in bulk and in set-based SQL. `state.rolled_up_to` says how
far they go: every raw row with a lower or equal id is in the rollups, no
other. The mark advances in the same transaction as the rows it covers, so a
crash loses nothing and counts nothing twice, and a redelivered row (refused
by the unique event id) never reaches them. Reads add the rows above the mark
from the raw table, so answers never lag.

Day rows follow every catch-up. Week rows exist only for the weeks that are
over, those starting before `state.weeks_to` (by the database's clock): a
week's rows are folded once from its days when it ends, and a late row of
such a week goes to its day and its week directly.

Why days and weeks, and no finer level: a URL probed every 30 s has 120
probes an hour, spread over about as many buckets, so hour (let alone minute)
histograms hold about as many rows as the raw table: they cost as much to
write as the rows themselves and save nothing when read.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime, timezone
from typing import Any

from website_monitor.errors import StoreError
from website_monitor.rollups.sketch import ALL, DAY, WEEK, bucket_sql, week_start
from website_monitor.rollups.spec import Rollup
from website_monitor.store.base import Reader, Repository
from website_monitor.store.dialect import Dialect

#: Raw rows rolled up per transaction: bounds how long one catch-up step holds its locks.
CATCH_UP_CHUNK = 200_000


def _fill_statements(rollup: Rollup, dialect: Dialect, ranged: bool) -> tuple[str, str]:
    """Add raw rows to both rollup tables: every row, or (ranged) `lo < id <= hi`.

    Days come from the raw rows and weeks from those days, so the raw rows are
    read once per table and the bucket of each value is computed once. Weeks
    get only the rows of periods starting before the `weeks_to` mark (the last
    parameter), the weeks already folded. Periods already in the tables are
    merged into (counts and sums added, minimum and maximum kept).
    """
    mark = dialect.placeholder
    epoch = dialect.epoch("timestamp")
    where = f" WHERE id > {mark} AND id <= {mark}" if ranged else ""
    folded = f" WHERE period_start < {mark}"
    keys = ", ".join(f"{k.raw} AS {k.name}" for k in rollup.keys)
    names = rollup.key_names
    groups = ", ".join(str(i) for i in range(1, len(rollup.keys) + 2))
    value, total, low, high = rollup.value, rollup.total, rollup.minimum, rollup.maximum
    counted = ", ".join(f"sum({expression}) AS {name}" for name, expression in rollup.counts)
    summed = ", ".join(f"sum({name}) AS {name}" for name, _ in rollup.counts)
    columns = f"{rollup.count_names}, {total}, {low}, {high}"
    summary_sql = (
        f"WITH s{DAY} AS (SELECT ({epoch} / {DAY}) * {DAY} AS period_start, {keys},"
        f" {counted}, {dialect.sum_of(value)} AS {total}, min({value}) AS {low},"
        f" max({value}) AS {high} FROM {rollup.raw}{where} GROUP BY {groups}),"
        f" s{WEEK} AS (SELECT (period_start / {WEEK}) * {WEEK} AS period_start, {names},"
        f" {summed}, sum({total}) AS {total}, min({low}) AS {low}, max({high}) AS {high}"
        f" FROM s{DAY}{folded} GROUP BY {groups}),"
        f" s{ALL} AS (SELECT 0 AS period_start, {names}, {summed}, sum({total}) AS {total},"
        f" min({low}) AS {low}, max({high}) AS {high} FROM s{WEEK} GROUP BY {groups})"
        f" INSERT INTO {rollup.summary} AS r (width, period_start, {names}, {columns})"
        f" SELECT * FROM (SELECT {DAY} AS width, period_start, {names}, {columns} FROM s{DAY}"
        f" UNION ALL SELECT {WEEK} AS width, period_start, {names}, {columns} FROM s{WEEK}"
        f" UNION ALL SELECT {ALL} AS width, period_start, {names}, {columns} FROM s{ALL})"
        f" AS x WHERE true ORDER BY 1, 2, {', '.join(str(i + 3) for i in range(len(rollup.keys)))}"
        f" ON CONFLICT ({rollup.conflict(dialect)}) DO UPDATE SET "
        + ", ".join(f"{name} = r.{name} + excluded.{name}" for name, _ in rollup.counts)
        + f", {total} = r.{total} + excluded.{total},"
        f" {low} = {dialect.least(f'r.{low}', f'excluded.{low}')},"
        f" {high} = {dialect.greatest(f'r.{high}', f'excluded.{high}')}"
    )
    histogram_groups = ", ".join(str(i) for i in range(1, len(rollup.keys) + 3))
    histogram_sql = (
        f"WITH l{DAY} AS (SELECT ({epoch} / {DAY}) * {DAY} AS period_start, {keys},"
        f" {bucket_sql(value)} AS bucket, count(*) AS count FROM {rollup.raw}"
        + (f"{where} AND" if ranged else " WHERE")
        + f" {value} IS NOT NULL GROUP BY {histogram_groups}),"
        f" l{WEEK} AS (SELECT (period_start / {WEEK}) * {WEEK} AS period_start, {names},"
        f" bucket, sum(count) AS count FROM l{DAY}{folded} GROUP BY {histogram_groups}),"
        f" l{ALL} AS (SELECT 0 AS period_start, {names}, bucket, sum(count) AS count"
        f" FROM l{WEEK} GROUP BY {histogram_groups})"
        f" INSERT INTO {rollup.histogram} AS r (width, period_start, {names}, bucket, count)"
        f" SELECT * FROM (SELECT {DAY} AS width, period_start, {names}, bucket, count"
        f" FROM l{DAY} UNION ALL SELECT {WEEK} AS width, period_start, {names}, bucket,"
        f" count FROM l{WEEK} UNION ALL SELECT {ALL} AS width, period_start, {names}, bucket,"
        f" count FROM l{ALL}) AS x WHERE true"
        f" ORDER BY 1, 2, {', '.join(str(i + 3) for i in range(len(rollup.keys) + 1))}"
        f" ON CONFLICT ({rollup.conflict(dialect, 'bucket')})"
        " DO UPDATE SET count = r.count + excluded.count"
    )
    return summary_sql, histogram_sql


def _fold_statements(rollup: Rollup, dialect: Dialect) -> tuple[str, ...]:
    """Compute the week rows of the weeks starting in [start, end) from their day rows, and
    add them to the rows of everything before (width ALL).

    Each statement takes (start, end). A span is folded once: the catch-up that folds
    it moves `weeks_to` past it in the same transaction.
    """
    mark = dialect.placeholder
    span = f"period_start >= {mark} AND period_start < {mark}"
    names = rollup.key_names
    groups = ", ".join(str(i) for i in range(2, len(rollup.keys) + 3))
    total, low, high = rollup.total, rollup.minimum, rollup.maximum
    counts = ", ".join(f"sum({name})" for name, _ in rollup.counts)
    return (
        f"DELETE FROM {rollup.summary} WHERE width = {WEEK} AND {span}",
        f"INSERT INTO {rollup.summary} (width, period_start, {names}, {rollup.count_names},"
        f" {total}, {low}, {high}) SELECT {WEEK}, (period_start / {WEEK}) * {WEEK}, {names},"
        f" {counts}, sum({total}), min({low}), max({high}) FROM {rollup.summary}"
        f" WHERE width = {DAY} AND {span} GROUP BY {groups}",
        f"DELETE FROM {rollup.histogram} WHERE width = {WEEK} AND {span}",
        f"INSERT INTO {rollup.histogram} (width, period_start, {names}, bucket, count)"
        f" SELECT {WEEK}, (period_start / {WEEK}) * {WEEK}, {names}, bucket, sum(count)"
        f" FROM {rollup.histogram} WHERE width = {DAY} AND {span}"
        f" GROUP BY {groups}, {len(rollup.keys) + 3}",
        # ...and add those weeks to the rows of everything before (width ALL).
        f"INSERT INTO {rollup.summary} AS r (width, period_start, {names}, {rollup.count_names},"
        f" {total}, {low}, {high}) SELECT {ALL}, 0, {names}, {counts}, sum({total}),"
        f" min({low}), max({high}) FROM {rollup.summary} WHERE width = {WEEK} AND {span}"
        f" GROUP BY {', '.join(str(i) for i in range(3, len(rollup.keys) + 3))}"
        f" ON CONFLICT ({rollup.conflict(dialect)}) DO UPDATE SET "
        + ", ".join(f"{name} = r.{name} + excluded.{name}" for name, _ in rollup.counts)
        + f", {total} = r.{total} + excluded.{total},"
        f" {low} = {dialect.least(f'r.{low}', f'excluded.{low}')},"
        f" {high} = {dialect.greatest(f'r.{high}', f'excluded.{high}')}",
        f"INSERT INTO {rollup.histogram} AS r (width, period_start, {names}, bucket, count)"
        f" SELECT {ALL}, 0, {names}, bucket, sum(count) FROM {rollup.histogram}"
        f" WHERE width = {WEEK} AND {span}"
        f" GROUP BY {', '.join(str(i) for i in range(3, len(rollup.keys) + 4))}"
        f" ON CONFLICT ({rollup.conflict(dialect, 'bucket')})"
        " DO UPDATE SET count = r.count + excluded.count",
    )


@dataclasses.dataclass(frozen=True)
class Frontier:
    """How far the stored raw rows go: the highest committed id, and the transactions that
    were running when it was read (they may still add rows with lower ids)."""

    max_id: int
    running: tuple[str, ...] = ()


def frontier(repository: Repository, rollup: Rollup) -> Frontier:
    """Read the `Frontier` now: cheap, and it waits for nothing.

    A writer that just committed reads it on its own connection, so that a
    catch-up later covers its rows without waiting for the writes begun since.
    The running transactions are read after the maximum: a writer that starts
    in between takes ids above it.
    """
    max_id = int(repository.scalar(f"SELECT coalesce(max(id), 0) FROM {rollup.raw}"))
    return Frontier(max_id, repository.running_transactions())


def settled(repository: Repository, at: Frontier, *, wait: float = 60.0) -> int | None:
    """The highest raw id below which no running transaction can still add a row.

    PostgreSQL hands out ids when rows are written, not when they commit, so a
    transaction still writing may hold ids below the highest visible one. Ids
    handed out later are all higher, so only the transactions running when the
    frontier was read matter: wait until each has ended (without a lock, so no
    writer ever waits for the rollups). A writer takes its transaction id
    before its first row id (`Transaction.insert`), so none is missed.
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
    rollup: Rollup,
    *,
    chunk: int = CATCH_UP_CHUNK,
    stop: threading.Event | None = None,
    now: float | None = None,
    upto: Frontier | None = None,
) -> int:
    """Add every raw row stored since the last catch-up to the rollups; returns how many ids.

    Writers only insert raw rows (at COPY speed); the rollups follow here, in
    set-based steps of at most `chunk` ids, each in one transaction with the
    `rolled_up_to` mark it advances, so a crash mid-way loses nothing and counts
    nothing twice. Reads stay exact meanwhile: they add the rows above the mark
    from the raw table. With `stop` set, it returns after the current step.

    Each step adds to the day rows (and to the kind's extra tables); the week
    rows only get the (late) rows of weeks already over. Once a week is over (by
    `now`, epoch seconds, default the database clock), its rows are folded from
    its days, once: this halves the rows a catch-up writes.

    It covers the rows up to `upto` (a `frontier` read earlier), or up to the
    frontier now.
    """
    target = settled(repository, upto or frontier(repository, rollup))
    if target is None:
        raise StoreError(
            f"a transaction writing {rollup.raw} has been running for over a minute",
            hint="the rollups catch up once it ends; reads meanwhile use the raw rows",
        )
    dialect = repository.dialect
    mark = dialect.placeholder
    fill = _fill_statements(rollup, dialect, True)
    fold = _fold_statements(rollup, dialect)
    now = clock(repository) if now is None else now
    repository.keep_partitions(rollup.raw, datetime.fromtimestamp(now, timezone.utc))
    over = week_start(now)  # the weeks before are over
    covered = 0
    while stop is None or not stop.is_set():
        with repository.transaction() as tx:
            tx.lock(rollup.lock)
            state = tx.query(f"SELECT rolled_up_to, weeks_to FROM {rollup.state}")
            if not state:
                raise StoreError(
                    f"the rollups have lost their state ({rollup.state} is empty)",
                    hint="run `wm db rebuild-rollups`",
                )
            done, weeks_to = int(state[0]["rolled_up_to"]), int(state[0]["weeks_to"])
            step_end = done
            if done < target:
                # Ids may have gaps (rolled back writes, a truncated table): skip to the next.
                first = tx.scalar(
                    f"SELECT coalesce(min(id), {mark}) FROM {rollup.raw} WHERE id > {mark}",
                    (target, done),
                )
                step_end = min(target, int(first) - 1 + chunk)
                for statement in fill:
                    tx.execute(statement, (done, step_end, weeks_to))
            for extra in rollup.extras:
                extra.add(tx, done, step_end, now)
            if over > weeks_to:
                for statement in fold:
                    tx.execute(statement, (weeks_to, over))
            if step_end > done or over > weeks_to:
                tx.execute(
                    f"UPDATE {rollup.state} SET rolled_up_to = {mark}, weeks_to = {mark}",
                    (step_end, max(over, weeks_to)),
                )
        covered += step_end - done
        if step_end >= target:
            break
    return covered


def rolled_up_to(reader: Reader, rollup: Rollup) -> int:
    """The highest raw id the rollups hold (all lower ids too)."""
    rows = reader.query(f"SELECT rolled_up_to AS n FROM {rollup.state}")
    return int(rows[0]["n"]) if rows else 0


def weeks_to(reader: Reader, rollup: Rollup) -> int:
    """Week rows exist for the weeks starting before this (those that are over) only."""
    rows = reader.query(f"SELECT weeks_to AS n FROM {rollup.state}")
    return int(rows[0]["n"]) if rows else 0


def pending(reader: Reader, rollup: Rollup) -> int:
    """How many raw rows are stored but not yet in the rollups."""
    rows = reader.query(
        f"SELECT count(*) AS n FROM {rollup.raw} WHERE id > {reader.dialect.placeholder}",
        (rolled_up_to(reader, rollup),),
    )
    return int(rows[0]["n"])


def rebuild(repository: Repository, rollup: Rollup, *, now: float | None = None) -> dict[str, int]:
    """Recompute the rollups from every raw row in one transaction; returns table sizes.

    Week rows are written for the weeks over by `now` (default: the database clock), as
    `catch_up` keeps them.
    """
    dialect = repository.dialect
    mark = dialect.placeholder
    now = clock(repository) if now is None else now
    over = week_start(now)
    with repository.transaction() as tx:
        tx.lock(rollup.lock)
        # Writers wait until the rebuild commits, so no row escapes it (see settled).
        lock = dialect.lock_for_writers(rollup.raw)
        if lock:
            tx.execute(lock)
        tx.execute(f"DELETE FROM {rollup.summary}")
        tx.execute(f"DELETE FROM {rollup.histogram}")
        for statement in _fill_statements(rollup, dialect, False):
            tx.execute(statement, (over,))
        upto = int(tx.scalar(f"SELECT coalesce(max(id), 0) FROM {rollup.raw}"))
        for extra in rollup.extras:
            extra.rebuild(tx, upto, now)
        tx.execute(
            f"UPDATE {rollup.state} SET weeks_to = {mark}, rolled_up_to = {mark}", (over, upto)
        )
    counts = {}
    for table in (rollup.raw, rollup.summary, rollup.histogram):
        counts[table] = int(repository.scalar(f"SELECT count(*) AS n FROM {table}"))
    return counts


def clock(reader: Reader) -> float:
    """The database's time (epoch seconds): every process folds weeks by the same clock."""
    return float(reader.query(f"SELECT {reader.dialect.now_epoch} AS t")[0]["t"])


class Maintained:
    """A kind's rollups as the registry sees them (`feature.Derived`)."""

    def __init__(self, rollup: Rollup) -> None:
        self.rollup = rollup

    def frontier(self, repository: Repository) -> Frontier:
        return frontier(repository, self.rollup)

    def catch_up(
        self,
        repository: Repository,
        *,
        upto: Frontier | None = None,
        stop: threading.Event | None = None,
    ) -> int:
        return catch_up(repository, self.rollup, upto=upto, stop=stop)

    def pending(self, reader: Reader) -> int:
        return pending(reader, self.rollup)

    def rebuild(self, repository: Repository) -> dict[str, int]:
        return rebuild(repository, self.rollup)

    def prune(self, repository: Repository, keep: float, now: float | None = None) -> Any:
        from website_monitor.rollups.prune import prune

        return prune(repository, self.rollup, keep, now)
