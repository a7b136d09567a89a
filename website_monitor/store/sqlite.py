"""SQLite repository: the embedded default, one file, WAL mode."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from website_monitor import rollups
from website_monitor.errors import StoreError, StoreUnavailable
from website_monitor.events import ProbeResult
from website_monitor.store._sql import percentile_cont
from website_monitor.store.base import PROBE_COLUMNS, DeadLetter, Query, Repository, probe_row
from website_monitor.store.migrations import LATEST_VERSION, Migration
from website_monitor.store.schema import SchemaStatus, apply_migrations


def format_timestamp(value: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


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


def _adapt(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_timestamp(value)
    return value


class SQLiteRepository(Repository):
    backend = "sqlite"
    placeholder = "?"

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            try:
                Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(
                    f"cannot create the directory for {path}: {exc.strerror}",
                    hint="check -d/--db-connection-string or WM_DATA_DIR",
                ) from None
        try:
            self.conn = sqlite3.connect(
                str(Path(path).expanduser()) if path != ":memory:" else path,
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
            ) from None
        self.conn.row_factory = sqlite3.Row
        self.conn.create_aggregate("percentile_cont", 2, _PercentileCont)  # type: ignore[arg-type]
        self.conn.create_function(
            rollups.SQLITE_BUCKET_FUNCTION, 1, rollups.sqlite_bucket, deterministic=True
        )

    @contextmanager
    def transaction(self, failure: str = "SQLite write failed") -> Iterator[sqlite3.Cursor]:
        """A cursor in a write transaction; SQLite's errors become the store's, after `failure`."""
        cursor = self.conn.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            yield cursor
            cursor.execute("COMMIT")
        except BaseException as exc:
            if self.conn.in_transaction:
                cursor.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise StoreUnavailable(f"{failure}: {exc}") from None
            if isinstance(exc, sqlite3.Error):
                raise StoreError(f"{failure}: {exc}") from None
            raise
        finally:
            cursor.close()

    @contextmanager
    def snapshot(self) -> Iterator[Query]:
        """Queries that all see the database as of the first one (a WAL read transaction)."""
        self.conn.execute("BEGIN")
        try:
            yield self.query
        finally:
            if self.conn.in_transaction:
                self.conn.execute("COMMIT")

    def migrate(self) -> SchemaStatus:
        with self.transaction("schema migration failed") as cursor:
            apply_migrations(cursor, self.backend, self.placeholder, self._run)
        return self.schema_status()

    @staticmethod
    def _run(cursor: Any, migration: Migration) -> None:
        for statement in migration.statements("sqlite"):
            cursor.execute(statement)

    def schema_status(self) -> SchemaStatus:
        exists = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='wm_schema'"
        ).fetchone()
        applied = (
            [
                (row[0], row[1], row[2])
                for row in self.conn.execute(
                    "SELECT version, description, applied_at FROM wm_schema ORDER BY version"
                )
            ]
            if exists
            else []
        )
        current = max((a[0] for a in applied), default=0)
        return SchemaStatus(self.backend, current, LATEST_VERSION, applied)

    def write(self, probes: Sequence[ProbeResult], dead_letters: Sequence[DeadLetter] = ()) -> int:
        """Insert the batch in one transaction, skipping event ids already stored.

        The rollups follow later (`rollups.catch_up`).
        """
        columns = ", ".join(PROBE_COLUMNS)
        marks = ", ".join("?" for _ in PROBE_COLUMNS)
        with self.transaction() as cursor:
            before = self.conn.total_changes
            cursor.executemany(
                f"INSERT INTO url_probes ({columns}) VALUES ({marks})"
                " ON CONFLICT (event_id) DO NOTHING",
                [tuple(_adapt(v) for v in probe_row(probe)) for probe in probes],
            )
            inserted = self.conn.total_changes - before
            cursor.executemany(
                'INSERT INTO dead_letters (topic, partition, "offset", key, value, reason)'
                " VALUES (?, ?, ?, ?, ?, ?)"
                ' ON CONFLICT (topic, partition, "offset") DO NOTHING',
                [(d.topic, d.partition, d.offset, d.key, d.value, d.reason) for d in dead_letters],
            )
        return inserted

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        try:
            rows = self.conn.execute(sql, [_adapt(p) for p in params]).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite query failed: {exc}") from None
        return [dict(row) for row in rows]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        with self.transaction() as cursor:
            before = self.conn.total_changes
            cursor.executemany(sql, [[_adapt(v) for v in row] for row in rows])
            return self.conn.total_changes - before

    def percentile_sql(self, fraction: float, column: str) -> str:
        return f"percentile_cont({float(fraction)!r}, {column})"

    def reopen(self) -> SQLiteRepository:
        if self.path == ":memory:":
            raise StoreError("an in-memory SQLite database cannot be opened twice")
        return SQLiteRepository(self.path)

    def close(self) -> None:
        self.conn.close()
