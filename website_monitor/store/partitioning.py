"""PostgreSQL tables partitioned by month of their `timestamp`, so old rows can be dropped.

Pruning raw rows by DELETE leaves dead tuples behind and takes minutes on a
large table; dropping a month's partition is instant and leaves nothing. The
raw tables with a `timestamp` (url_probes, hits) are partitioned by month
(UTC) on PostgreSQL, with a DEFAULT partition for rows of months without one.

`monthly_2026` is the SQL of released migrations: never change it (the
migrations' checksums would change); write a new function for a new layout.
`ensure` and the rest are what the store runs while it is used.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timezone

from website_monitor.store.base import Transaction

#: How many months ahead partitions are kept ready.
AHEAD = 3
#: Rows older than this many years when a table is first partitioned go to its default.
OLDEST_YEARS = 5


def monthly_2026(table: str, indexes: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """Turn `table` (with a `timestamp` and a serial `id`) into one partitioned by month.

    Its rows are copied into the new table, its primary key on `id` becomes a
    plain index (a unique key must hold the partition key), and `indexes`
    (name, definition after `ON table`) are built once the rows are in.
    """
    old = f"{table}_before_partitions"
    return (
        f"ALTER TABLE {table} RENAME TO {old}",
        *(f"DROP INDEX IF EXISTS {name}" for name, _ in indexes),
        f"ALTER TABLE {old} DROP CONSTRAINT IF EXISTS {table}_pkey",
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS) PARTITION BY RANGE (timestamp)",
        f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id",
        f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT",
        f"""DO $$
        DECLARE
            month timestamp := date_trunc('month', greatest(
                coalesce((SELECT min(timestamp) FROM {old}), now()),
                now() - interval '{OLDEST_YEARS} years') AT TIME ZONE 'UTC');
            last timestamp := date_trunc('month', now() AT TIME ZONE 'UTC')
                + interval '{AHEAD} months';
        BEGIN
            WHILE month < last LOOP
                EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF {table}'
                    ' FOR VALUES FROM (%L) TO (%L)',
                    '{table}_' || to_char(month, 'YYYY_MM'),
                    month AT TIME ZONE 'UTC', (month + interval '1 month') AT TIME ZONE 'UTC');
                month := month + interval '1 month';
            END LOOP;
        END $$""",
        f"INSERT INTO {table} SELECT * FROM {old}",
        f"DROP TABLE {old}",
        f"CREATE INDEX {table}_id ON {table} (id)",
        *(f"CREATE {definition.format(name=name, table=table)}" for name, definition in indexes),
    )


# --- while the store is used -----------------------------------------------------------------


def name(table: str, month: datetime) -> str:
    return f"{table}_{month:%Y_%m}"


def months(now: datetime, ahead: int) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) of this month (UTC) and the `ahead` - 1 following."""
    start = now.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    for _ in range(ahead):
        end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        yield start, end
        start = end


def wanted(tx: Transaction, table: str, now: datetime) -> list[tuple[datetime, datetime]]:
    """(start, end) of the months `table` should have a partition for: this one and the
    next ones, and those of the rows in its default partition (back to OLDEST_YEARS)."""
    floor = now.replace(year=now.year - OLDEST_YEARS)
    rows = tx.query(
        f"SELECT DISTINCT date_trunc('month', timestamp AT TIME ZONE 'UTC') AS month"
        f" FROM {table}_default WHERE timestamp >= %s",
        (floor,),
    )
    past = {next(months(row["month"].replace(tzinfo=timezone.utc), 1)) for row in rows}
    return sorted(past | set(months(now, AHEAD)))


def children(tx: Transaction, table: str) -> set[str] | None:
    """The names of `table`'s partitions, or None if it is not partitioned."""
    rows = tx.query(
        "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass(%s)",
        (table,),
    )
    partitioned = tx.scalar(
        "SELECT count(*) FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", (table,)
    )
    return {str(row["name"]) for row in rows} if partitioned else None


def create(tx: Transaction, table: str, partition: str, start: datetime, end: datetime) -> None:
    """A partition of `table` for [start, end); rows of that range in the default move in."""
    default = f"{table}_default"
    moved = tx.scalar(
        f"SELECT count(*) FROM {default} WHERE timestamp >= %s AND timestamp < %s", (start, end)
    )
    if not moved:
        tx.execute(
            f"CREATE TABLE {partition} PARTITION OF {table} FOR VALUES FROM (%s) TO (%s)",
            (start, end),
        )
        return
    tx.execute(f"CREATE TABLE {partition} (LIKE {table} INCLUDING DEFAULTS)")
    tx.execute(
        f"WITH moved AS (DELETE FROM {default} WHERE timestamp >= %s AND timestamp < %s"
        f" RETURNING *) INSERT INTO {partition} SELECT * FROM moved",
        (start, end),
    )
    tx.execute(
        f"ALTER TABLE {table} ATTACH PARTITION {partition} FOR VALUES FROM (%s) TO (%s)",
        (start, end),
    )


def wholly_before(tx: Transaction, table: str, before: datetime) -> list[str]:
    """The monthly partitions of `table` whose month ends at or before `before`."""
    found = children(tx, table) or set()
    prefix = f"{table}_"
    old = []
    for partition in sorted(found):
        suffix = partition.removeprefix(prefix)
        try:
            month = datetime.strptime(suffix, "%Y_%m").replace(tzinfo=timezone.utc)
        except ValueError:
            continue  # the default partition
        end = next(months(month, 1))[1]
        if end <= before:
            old.append(partition)
    return old


#: Every table (partitioned ones with their partitions summed): rows (the statistics'
#: estimate) and bytes on disk with indexes.
SIZES = """SELECT c.relname AS name,
    (SELECT sum(greatest(k.reltuples, 0))::bigint FROM pg_partition_tree(c.oid) t
        JOIN pg_class k ON k.oid = t.relid) AS rows,
    (SELECT sum(pg_total_relation_size(t.relid))::bigint FROM pg_partition_tree(c.oid) t)
        AS bytes
FROM pg_class c
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND c.relnamespace = to_regnamespace(current_schema())
ORDER BY c.relname"""
