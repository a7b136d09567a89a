"""PostgreSQL repository (psycopg2): COPY into a staging table, then an idempotent insert."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timezone
from typing import Any

import orjson
import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras

from website_monitor.config import redact
from website_monitor.errors import StoreError, StoreUnavailable
from website_monitor.events import ProbeResult
from website_monitor.store.base import PROBE_COLUMNS, DeadLetter, Query, Repository
from website_monitor.store.migrations import LATEST_VERSION, Migration
from website_monitor.store.schema import SchemaStatus, apply_migrations

#: Arbitrary constant naming the advisory lock that serialises migrations.
_MIGRATION_LOCK = 0x776D_7363  # "wmsc"

_STAGING = """CREATE TEMP TABLE IF NOT EXISTS wm_probes_staging
    (LIKE url_probes INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"""


_COLUMNS = ", ".join(PROBE_COLUMNS)
#: Insert the staged rows, skipping event ids already stored.
_INSERT_STAGED = (
    f"INSERT INTO url_probes ({_COLUMNS}) SELECT {_COLUMNS} FROM wm_probes_staging"
    " ON CONFLICT (event_id) DO NOTHING"
)


_NULL = r"\N"
_UTC = timezone.utc


def _text(value: str | None) -> str:
    """A text field in COPY's text format: backslash, tab and line breaks escaped."""
    if value is None:
        return _NULL
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def _text_column(values: list[str]) -> list[str]:
    """`_text` of each of `values` (none None): the list itself when none needs escaping.

    One scan of the joined column instead of four per value: ids and URLs
    almost never hold a backslash, tab or line break.
    """
    try:
        joined = "".join(values)
    except TypeError:  # (a None, though typed out: `_text` writes it as NULL, as before)
        return [_text(value) for value in values]
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        return [_text(value) for value in values]
    return values


def _timestamps(probes: Sequence[ProbeResult]) -> list[str]:
    """`timestamp.isoformat()` of each probe, in a quarter of the time.

    orjson writes an aware UTC datetime exactly as `isoformat` does (microseconds
    only when not zero, `+00:00`), for the whole batch in one call; any other
    time zone, a naive time or a datetime subclass gets `isoformat` itself.
    """
    times = [probe.timestamp for probe in probes]
    try:
        texts = orjson.dumps(times).decode()[2:-2].split('","')
    except TypeError:  # a datetime subclass: orjson refuses it (it might format itself)
        return [time.isoformat() for time in times]
    return [
        text if time.tzinfo is _UTC else time.isoformat()
        for text, time in zip(texts, times, strict=True)
    ]


def copy_rows(probes: Sequence[ProbeResult]) -> str:
    """The probes as COPY text, one line each, columns in PROBE_COLUMNS order.

    Written out field by field rather than through a generic formatter, the
    fields that are usually None tested inline, and ids, URLs and times
    formatted a column at a time: the flush builds this text for every row it
    stores.
    """
    if not probes:
        return ""
    null = _NULL
    ids = _text_column([probe.event_id for probe in probes])
    urls = _text_column([probe.url for probe in probes])
    return "".join(
        [
            f"{event_id}\t{url}\t{stamp}\t"
            f"{null if p.http_status_code is None else str(p.http_status_code)}\t"
            f"{null if p.response_time_ms is None else str(p.response_time_ms)}\t"
            f"{null if p.error is None else _text(p.error)}\t"
            f"{null if p.error_detail is None else _text(p.error_detail)}\t"
            f"{null if p.content_match is None else ('t' if p.content_match else 'f')}\t"
            f"{null if p.ok is None else ('t' if p.ok else 'f')}\t"
            f"{null if p.dns_ms is None else str(p.dns_ms)}\t"
            f"{null if p.connect_ms is None else str(p.connect_ms)}\t"
            f"{null if p.tls_ms is None else str(p.tls_ms)}\t"
            f"{null if p.ttfb_ms is None else str(p.ttfb_ms)}\n"
            for p, event_id, url, stamp in zip(probes, ids, urls, _timestamps(probes), strict=True)
        ]
    )


def _copy(cursor: Any, table: str, text: str) -> None:
    """COPY `text` into `table`, handing the driver the whole text in one read.

    In chunks (8 KiB by default) the driver takes the interpreter lock again
    for every chunk, and while the flush decodes the next batch on another
    thread each take can wait a whole switch interval: a 5000-row batch then
    took twice as long to store.
    """
    cursor.copy_expert(
        f"COPY {table} ({_COLUMNS}) FROM STDIN", io.StringIO(text), size=max(len(text), 8192)
    )


class PostgresRepository(Repository):
    backend = "postgresql"
    placeholder = "%s"

    def __init__(self, dsn: str, connect_timeout: float = 10) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self._safe = redact(dsn)
        self.conn = self._connect()

    def _connect(self) -> psycopg2.extensions.connection:
        try:
            return psycopg2.connect(self.dsn, connect_timeout=max(1, int(self.connect_timeout)))
        except psycopg2.OperationalError as exc:
            raise StoreUnavailable(
                f"cannot connect to PostgreSQL at {self._safe}: {self._reason(exc)}",
                hint="check -d/--db-connection-string and that the server is running",
            ) from None
        except psycopg2.ProgrammingError as exc:
            raise StoreError(
                f"invalid PostgreSQL connection string {self._safe}: {self._reason(exc)}",
                hint="use postgresql://user:password@host:5432/dbname",
            ) from None

    def _reason(self, exc: Exception) -> str:
        """The driver's message on one line, without the password."""
        text = " ".join(str(exc).split())
        try:
            password = psycopg2.extensions.parse_dsn(self.dsn).get("password")
        except psycopg2.ProgrammingError:
            password = None
        return text.replace(password, "***") if password else text

    @contextmanager
    def transaction(self) -> Iterator[psycopg2.extensions.cursor]:
        """A cursor in a transaction; reconnects first if the connection was lost."""
        if self.conn.closed:
            self.conn = self._connect()
        try:
            with self.conn, self.conn.cursor() as cursor:
                yield cursor
        except psycopg2.OperationalError as exc:
            raise StoreUnavailable(
                f"PostgreSQL at {self._safe} failed: {self._reason(exc)}",
                hint="the server may be down or restarting",
            ) from None
        except psycopg2.InterfaceError as exc:
            raise StoreUnavailable(f"PostgreSQL connection lost: {self._reason(exc)}") from None
        except psycopg2.Error as exc:
            raise StoreError(f"PostgreSQL error: {self._reason(exc)}") from None

    @contextmanager
    def snapshot(self) -> Iterator[Query]:
        """Queries in one read-only REPEATABLE READ transaction: one snapshot for all."""
        with self.transaction() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

            def query(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
                cursor.execute(sql, tuple(params))
                names = [c.name for c in cursor.description or ()]
                return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

            yield query

    def migrate(self) -> SchemaStatus:
        with self.transaction() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            apply_migrations(cursor, self.backend, self.placeholder, self._run)
        return self.schema_status()

    @staticmethod
    def _run(cursor: Any, migration: Migration) -> None:
        for statement in migration.statements("postgresql"):
            cursor.execute(statement)

    def schema_status(self) -> SchemaStatus:
        with self.transaction() as cursor:
            cursor.execute("SELECT to_regclass('wm_schema') IS NOT NULL")
            row = cursor.fetchone()
            applied: list[tuple[int, str, str]] = []
            if row and row[0]:
                cursor.execute(
                    "SELECT version, description, applied_at FROM wm_schema ORDER BY version"
                )
                applied = [(r[0], r[1], r[2]) for r in cursor.fetchall()]
        current = max((a[0] for a in applied), default=0)
        return SchemaStatus(self.backend, current, LATEST_VERSION, applied)

    def write(self, probes: Sequence[ProbeResult], dead_letters: Sequence[DeadLetter] = ()) -> int:
        """COPY the batch straight into url_probes; on a redelivered event id, insert it anew.

        A batch normally holds only new event ids, so it goes in at the speed of
        a plain COPY. If one is already stored (a redelivery after a crash), the
        unique index refuses the COPY; it is rolled back to a savepoint and the
        batch goes through a staging table and INSERT ... ON CONFLICT DO NOTHING,
        which skips the ids already there. The rollups follow later
        (`rollups.catch_up`).
        """
        inserted = 0
        with self.transaction() as cursor:
            if probes:
                text = copy_rows(probes)
                # A transaction id before any probe id: a catch-up reading the frontier
                # meanwhile then sees this writer running (see rollups.frontier).
                cursor.execute("SELECT pg_current_xact_id(); SAVEPOINT wm_copy")
                try:
                    _copy(cursor, "url_probes", text)
                    inserted = len(probes)
                except psycopg2.errors.UniqueViolation:
                    cursor.execute("ROLLBACK TO SAVEPOINT wm_copy")
                    cursor.execute(_STAGING)
                    _copy(cursor, "wm_probes_staging", text)
                    cursor.execute(_INSERT_STAGED)
                    inserted = max(cursor.rowcount, 0)
            if dead_letters:
                psycopg2.extras.execute_values(
                    cursor,
                    'INSERT INTO dead_letters (topic, partition, "offset", key, value, reason)'
                    ' VALUES %s ON CONFLICT (topic, partition, "offset") DO NOTHING',
                    [
                        (
                            d.topic,
                            d.partition,
                            d.offset,
                            psycopg2.Binary(d.key) if d.key is not None else None,
                            psycopg2.Binary(d.value) if d.value is not None else None,
                            d.reason,
                        )
                        for d in dead_letters
                    ],
                )
        return inserted

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.transaction() as cursor:
            cursor.execute(sql, tuple(params))
            names = [c.name for c in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        affected = 0
        with self.transaction() as cursor:
            for row in rows:
                cursor.execute(sql, tuple(row))
                affected += max(cursor.rowcount, 0)
        return affected

    def percentile_sql(self, fraction: float, column: str) -> str:
        return f"percentile_cont({float(fraction)!r}) WITHIN GROUP (ORDER BY {column})"

    def reopen(self) -> PostgresRepository:
        return PostgresRepository(self.dsn, self.connect_timeout)

    def close(self) -> None:
        self.conn.close()
