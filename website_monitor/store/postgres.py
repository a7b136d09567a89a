"""PostgreSQL repository (psycopg2): batches go in by COPY, redeliveries via a staging table."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg2
import psycopg2.errors
import psycopg2.extensions

from website_monitor import log
from website_monitor.errors import StoreDataError, StoreError, StoreUnavailable
from website_monitor.store import copytext, partitioning
from website_monitor.store.base import Reader, Repository, Row, TableSize, Transaction
from website_monitor.store.dialect import POSTGRESQL, Dialect
from website_monitor.store.url import StoreURL

#: SQLSTATE classes (the first two characters) of failures that retrying can fix: the
#: connection (08), the server's resources (53), an operator or crash shutdown (57P),
#: a serialization failure or deadlock (40), a lock not available (55P03).
_RETRYABLE = ("08", "53", "57P", "40", "55P03", "58")
#: ... and of data the server refuses whatever the retries: data exceptions (22),
#: integrity constraints (23), program limits such as the index row size (54).
_DATA = ("22", "23", "54")


def translate(exc: psycopg2.Error, url: StoreURL) -> StoreError:
    """The store's error for a driver error: the one place psycopg2's errors are mapped."""
    reason = url.mask(str(exc)) or type(exc).__name__
    code = exc.pgcode or ""
    if code.startswith(_DATA):
        return StoreDataError(f"PostgreSQL refused the data: {reason}")
    if code.startswith(_RETRYABLE) or (
        not code and isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError))
    ):
        return StoreUnavailable(
            f"PostgreSQL at {url} failed: {reason}", hint="the server may be down or restarting"
        )
    return StoreError(f"PostgreSQL error: {reason}")


class PostgresTransaction(Transaction):
    dialect = POSTGRESQL

    def __init__(self, cursor: psycopg2.extensions.cursor) -> None:
        self.cursor = cursor
        self._began = False

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        # Without parameters psycopg2 leaves `%` alone (with an empty tuple it would not).
        self.cursor.execute(sql, tuple(params) or None)
        return max(self.cursor.rowcount, 0)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        return sum(self.execute(sql, row) for row in rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self.cursor.execute(sql, tuple(params) or None)
        names = [c.name for c in self.cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in self.cursor.fetchall()]

    def lock(self, key: int) -> None:
        self.cursor.execute("SELECT pg_advisory_xact_lock(%s)", (key,))

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        copy_text: Callable[[], str] | None = None,
    ) -> int:
        """COPY the rows straight into `table`; if one is already stored, insert them anew.

        A batch normally holds only new rows, so it goes in at the speed of a
        plain COPY. If the unique index refuses it (a redelivery after a crash),
        the COPY is rolled back to a savepoint and the rows go through a staging
        table and `INSERT … ON CONFLICT DO NOTHING`, which skips those stored.
        """
        if not rows:
            return 0
        text = copy_text() if copy_text is not None else copytext.copy_text(rows)
        names = ", ".join(columns)
        if not self._began:
            # A transaction id before any row id: a rollup catch-up reading the running
            # transactions meanwhile then sees this writer (see probes.rollups.maintain).
            self.cursor.execute("SELECT pg_current_xact_id()")
            self._began = True
        self.cursor.execute("SAVEPOINT wm_copy")
        try:
            _copy(self.cursor, table, names, text)
            self.cursor.execute("RELEASE SAVEPOINT wm_copy")
            return len(rows)
        except psycopg2.errors.UniqueViolation:
            self.cursor.execute("ROLLBACK TO SAVEPOINT wm_copy")
        staging = f"wm_staging_{table}"
        self.cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging}"
            f" (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        _copy(self.cursor, staging, names, text)
        self.cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging} ON CONFLICT DO NOTHING"
        )
        inserted = max(self.cursor.rowcount, 0)
        self.cursor.execute(f"TRUNCATE {staging}")
        return inserted


def _copy(cursor: Any, table: str, columns: str, text: str) -> None:
    """COPY `text` into `table`, handing the driver the whole text in one read.

    In chunks (8 KiB by default) the driver takes the interpreter lock again
    for every chunk, and while the flush decodes the next batch on another
    thread each take can wait a whole switch interval: a 5000-row batch then
    took twice as long to store.
    """
    cursor.copy_expert(
        f"COPY {table} ({columns}) FROM STDIN", io.StringIO(text), size=max(len(text), 8192)
    )


logger = log.get("store")

#: Serialises creating and dropping partitions.
PARTITION_LOCK = 0x776D_7074  # "wmpt"

#: The transaction ids running now in this database (each holds the lock on its own id),
#: but the caller's. (Transaction locks are the cluster's: another database's long write
#: must not hold up this one's catch-ups.)
_RUNNING = (
    "SELECT l.transactionid::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock' AND l.granted"
    " AND l.pid <> pg_backend_pid() AND a.datname = current_database()"
)


class _Snapshot:
    dialect: Dialect = POSTGRESQL

    def __init__(self, cursor: psycopg2.extensions.cursor) -> None:
        self._tx = PostgresTransaction(cursor)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._tx.query(sql, params)


class PostgresRepository(Repository):
    dialect = POSTGRESQL

    def __init__(self, url: StoreURL, connect_timeout: float = 10) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._partitions_checked: dict[str, float] = {}
        self.conn = self._connect()

    def _connect(self) -> psycopg2.extensions.connection:
        try:
            return psycopg2.connect(
                self.url.text, connect_timeout=max(1, int(self.connect_timeout))
            )
        except psycopg2.OperationalError as exc:
            raise StoreUnavailable(
                f"cannot connect to PostgreSQL at {self.url}: {self.url.mask(str(exc))}",
                hint="check -d/--db-connection-string and that the server is running",
            ) from exc
        except psycopg2.ProgrammingError as exc:
            raise StoreError(
                f"invalid PostgreSQL connection string {self.url}: {self.url.mask(str(exc))}",
                hint="use postgresql://user:password@host:5432/dbname",
            ) from exc

    @contextmanager
    def _cursor(self) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor in a transaction; reconnects first if the connection was lost."""
        if self.conn.closed:
            self.conn = self._connect()
        try:
            with self.conn, self.conn.cursor() as cursor:
                yield cursor
        except psycopg2.Error as exc:
            raise translate(exc, self.url) from exc

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._cursor() as cursor:
            yield PostgresTransaction(cursor)

    @contextmanager
    def snapshot(self) -> Iterator[Reader]:
        """Queries in one read-only REPEATABLE READ transaction: one snapshot for all."""
        with self._cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield _Snapshot(cursor)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self.transaction() as tx:
            return tx.query(sql, params)

    def keep_partitions(self, table: str, now: datetime) -> None:
        """Partitions for this month and the next ones, and for the months of rows that
        went to the default partition (rows from the past, a store not written for months),
        which are moved in; checked once an hour at most."""
        checked = self._partitions_checked.get(table)
        if checked is not None and time.monotonic() - checked < 3600:
            return
        try:
            with self.transaction() as tx:
                tx.lock(PARTITION_LOCK)
                # Creating a partition locks the table: never make writers queue behind it
                # for long; if a write holds the table now, the next catch-up tries again.
                tx.execute("SET LOCAL lock_timeout = '500ms'")
                children = partitioning.children(tx, table)
                if children is not None:
                    for start, end in partitioning.wanted(tx, table, now):
                        name = partitioning.name(table, start)
                        if name not in children:
                            partitioning.create(tx, table, name, start, end)
        except StoreUnavailable as exc:  # the lock was not had in time (55P03)
            logger.debug("partitions of %s not checked: %s", table, exc.message)
            return
        self._partitions_checked[table] = time.monotonic()

    def delete_before(self, table: str, before: datetime, upto_id: int) -> int:
        """Drop the months wholly before `before` (when their rows are all at most `upto_id`),
        then delete what is left before it."""
        deleted = 0
        with self.transaction() as tx:
            tx.lock(PARTITION_LOCK)
            tx.execute("SET LOCAL lock_timeout = '5s'")  # dropping a month locks the table
            for name in partitioning.wholly_before(tx, table, before):
                rows, highest = tx.query(f"SELECT count(*) AS n, max(id) AS m FROM {name}")[
                    0
                ].values()
                if highest is None or int(highest) <= upto_id:
                    tx.execute(f"DROP TABLE {name}")
                    deleted += int(rows)
        return deleted + super().delete_before(table, before, upto_id)

    def table_sizes(self) -> list[TableSize]:
        return [
            TableSize(str(row["name"]), int(row["rows"] or 0), int(row["bytes"] or 0))
            for row in self.query(partitioning.SIZES)
        ]

    def running_transactions(self) -> tuple[str, ...]:
        return tuple(str(r["id"]) for r in self.query(f"SELECT x AS id FROM ({_RUNNING}) AS r (x)"))

    def still_running(self, transactions: Sequence[str]) -> tuple[str, ...]:
        if not transactions:
            return ()
        rows = self.query(
            f"SELECT x AS id FROM ({_RUNNING}) AS r (x) WHERE x = ANY(%s)", (list(transactions),)
        )
        return tuple(str(r["id"]) for r in rows)

    def reopen(self) -> PostgresRepository:
        return PostgresRepository(self.url, self.connect_timeout)

    def close(self) -> None:
        self.conn.close()
