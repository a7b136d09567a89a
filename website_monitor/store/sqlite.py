"""SQLite repository: the embedded default, one file, WAL mode."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from website_monitor.errors import StoreDataError, StoreError, StoreUnavailable
from website_monitor.store._sql import percentile_cont
from website_monitor.store.base import Reader, Repository, Row, TableSize, Transaction
from website_monitor.store.dialect import SQLITE
from website_monitor.store.url import StoreURL

#: Result codes of failures that retrying can fix: busy or locked by another process, I/O.
_RETRYABLE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_PROTOCOL")
#: ... and of data SQLite refuses whatever the retries.
_DATA = ("SQLITE_CONSTRAINT", "SQLITE_TOOBIG", "SQLITE_MISMATCH", "SQLITE_RANGE")


def translate(exc: sqlite3.Error, failure: str = "SQLite failed") -> StoreError:
    """The store's error for a driver error: the one place sqlite3's errors are mapped."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    message = f"{failure}: {exc}"
    if name.startswith(_DATA) or isinstance(exc, (sqlite3.IntegrityError, sqlite3.DataError)):
        return StoreDataError(message)
    if name.startswith(_RETRYABLE) or (not name and isinstance(exc, sqlite3.OperationalError)):
        return StoreUnavailable(message)
    return StoreError(message)


def format_timestamp(value: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def _adapt(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    return value


def _adapt_rows(rows: Sequence[Sequence[Any]]) -> Sequence[Sequence[Any]]:
    """`_adapt` of every value, a column at a time: only the columns that hold a time are
    rewritten (rows of a batch share their types; a column is looked at in full where the
    first row holds a time or None), and a time repeated from the row before (hits of the
    same second) is formatted once."""
    if not rows:
        return rows
    candidates = [i for i, v in enumerate(rows[0]) if v is None or isinstance(v, datetime)]
    times = [i for i in candidates if any(isinstance(row[i], datetime) for row in rows)]
    if not times:
        return rows
    adapted = [list(row) for row in rows]
    for i in times:
        last: Any = None
        text = ""
        for row in adapted:
            value = row[i]
            if isinstance(value, datetime):
                if value != last:  # (the same instant: the same UTC text)
                    last, text = value, format_timestamp(value)
                row[i] = text
    return adapted


class _PercentileCont:
    """Aggregate `percentile_cont(fraction, value)` with PostgreSQL's semantics."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, fraction: float, value: float | None) -> None:
        self.fraction = fraction
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        return percentile_cont(self.values, self.fraction)


def _ln(value: float | None) -> float | None:
    return None if value is None or value <= 0 else math.log(value)


def _ceil(value: float | None) -> float | None:
    return None if value is None else float(math.ceil(value))


class SQLiteTransaction(Transaction):
    dialect = SQLITE

    def __init__(self, conn: sqlite3.Connection, cursor: sqlite3.Cursor) -> None:
        self.conn = conn
        self.cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self.cursor.execute(sql, [_adapt(p) for p in params])
        return max(self.cursor.rowcount, 0)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        before = self.conn.total_changes
        self.cursor.executemany(sql, _adapt_rows(rows))
        return self.conn.total_changes - before

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [dict(row) for row in self.cursor.execute(sql, [_adapt(p) for p in params])]

    def lock(self, key: int) -> None:
        pass  # BEGIN IMMEDIATE holds the database's only write lock already

    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        copy_text: Callable[[], str] | None = None,
    ) -> int:
        if not rows:
            return 0
        marks = self.dialect.marks(len(columns))
        return self.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) ON CONFLICT DO NOTHING",
            rows,
        )


class _Snapshot:
    dialect = SQLITE

    def __init__(self, repository: SQLiteRepository) -> None:
        self._repository = repository

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._repository.query(sql, params)


class SQLiteRepository(Repository):
    dialect = SQLITE

    def __init__(self, url: StoreURL | str, *, create: bool = True) -> None:
        self.url = url if isinstance(url, StoreURL) else StoreURL("sqlite:///" + url, "sqlite")
        path = self.path = self.url.sqlite_path
        memory = path == ":memory:"
        file = Path(path).expanduser()
        if not memory and not create and not file.exists():
            raise StoreError(
                f"there is no store at {path}",
                hint="check -d/--db-connection-string; wm probe, flush, tail or listen create it",
            )
        if not memory:
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot create the directory for {path}: {exc.strerror}",
                    hint="check -d/--db-connection-string or WM_DATA_DIR",
                ) from exc
        try:
            self.conn = sqlite3.connect(
                path if memory else str(file),
                isolation_level=None,
                check_same_thread=False,
                timeout=30,
            )
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise StoreUnavailable(
                f"cannot open SQLite database {path}: {exc}",
                hint="check -d/--db-connection-string; the file must be writable",
            ) from exc
        self.conn.row_factory = sqlite3.Row
        self.conn.create_aggregate("percentile_cont", 2, _PercentileCont)  # type: ignore[arg-type]
        if not _has_math(self.conn):  # builds without SQLITE_ENABLE_MATH_FUNCTIONS
            self.conn.create_function("ln", 1, _ln, deterministic=True)
            self.conn.create_function("ceil", 1, _ceil, deterministic=True)

    @contextmanager
    def transaction(self, failure: str = "SQLite write failed") -> Iterator[Transaction]:
        """A write transaction; SQLite's errors become the store's, after `failure`."""
        cursor = self.conn.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            yield SQLiteTransaction(self.conn, cursor)
            cursor.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                cursor.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise translate(exc, failure) from exc
            raise
        finally:
            cursor.close()

    @contextmanager
    def snapshot(self) -> Iterator[Reader]:
        """Queries that all see the database as of the first one (a WAL read transaction)."""
        self.conn.execute("BEGIN")
        try:
            yield _Snapshot(self)
        finally:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            rows = self.conn.execute(sql, [_adapt(p) for p in params]).fetchall()
        except sqlite3.Error as exc:
            raise translate(exc, "SQLite query failed") from exc
        return [dict(row) for row in rows]

    def table_sizes(self) -> list[TableSize]:
        names = [str(row["name"]) for row in self.query(self.dialect.tables_query)]
        try:  # pages per table and index (dbstat is compiled into most builds)
            pages = {
                str(row["name"]): int(row["bytes"])
                for row in self.query("SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name")
            }
        except StoreError:
            pages = {}
        owner = {  # index -> its table
            str(row["name"]): str(row["tbl_name"])
            for row in self.query("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'")
        }

        def size(table: str) -> int | None:
            if table not in pages:
                return None
            return pages[table] + sum(pages.get(i, 0) for i, t in owner.items() if t == table)

        return [
            TableSize(name, int(self.scalar(f'SELECT count(*) FROM "{name}"')), size(name))
            for name in sorted(names)
            if not name.startswith("sqlite_")
        ]

    def reopen(self) -> SQLiteRepository:
        if self.path == ":memory:":
            raise StoreError("an in-memory SQLite database cannot be opened twice")
        return SQLiteRepository(self.url)

    def close(self) -> None:
        self.conn.close()


def _has_math(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT ln(1), ceil(0.5)")
    except sqlite3.OperationalError:
        return False
    return True
