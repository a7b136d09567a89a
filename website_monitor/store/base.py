"""The repository interface every store backend implements.

Sources and the sink talk to this interface only, so the same code path is
used whether events arrive through Kafka or are written directly.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from website_monitor.events import ProbeResult

#: Runs one read-only query: (sql, params) -> rows as dicts.
Query = Callable[[str, Sequence[Any]], list[dict[str, Any]]]


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """A message the sink could not decode, kept with its position and the reason."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    reason: str
    key: bytes | None = None
    received_at: datetime | None = None
    id: int | None = None


@dataclasses.dataclass(frozen=True)
class SchemaStatus:
    backend: str
    current: int
    latest: int
    applied: list[tuple[int, str, str]]

    @property
    def pending(self) -> int:
        return self.latest - self.current


class Repository(abc.ABC):
    """One store: schema management, batched idempotent writes, and queries."""

    backend: str
    #: How the backend spells a query parameter.
    placeholder: str

    @abc.abstractmethod
    def migrate(self) -> SchemaStatus:
        """Bring the schema to the latest version; safe to call concurrently."""

    @abc.abstractmethod
    def schema_status(self) -> SchemaStatus:
        """Which migrations are applied, without changing anything."""

    @abc.abstractmethod
    def write(self, probes: Sequence[ProbeResult], dead_letters: Sequence[DeadLetter] = ()) -> int:
        """Store both in one transaction, skipping ids already stored.

        Returns the number of probe rows actually inserted. Either everything
        is committed or nothing is, so a caller may commit its offsets after.
        """

    @abc.abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only query written for this backend's dialect."""

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Any]:
        """A DB-API cursor in one write transaction, committed on success, else rolled back.

        The driver's errors come out as StoreError (StoreUnavailable when the
        connection failed).
        """

    @abc.abstractmethod
    def snapshot(self) -> AbstractContextManager[Query]:
        """A query function whose queries all read one consistent snapshot.

        For reads that combine several queries (rollups plus the rows not yet
        rolled up) and must not see a write commit between them.
        """

    @abc.abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run one write statement per row in a single transaction; returns rows affected.

        For feature modules that own their tables: write SQL with
        `self.placeholder` and both backends accept it. Datetimes are adapted.
        """

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; returns rows affected."""
        return self.executemany(sql, [params])

    @abc.abstractmethod
    def percentile_sql(self, fraction: float, column: str) -> str:
        """An aggregate expression equal to PostgreSQL's percentile_cont."""

    def count_probes(self) -> int:
        return int(self.query("SELECT count(*) AS n FROM url_probes")[0]["n"])

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        rows = self.query(
            'SELECT id, topic, partition, "offset", key, value, reason, received_at'
            f" FROM dead_letters ORDER BY id LIMIT {self.placeholder}",
            (limit,),
        )
        return [
            DeadLetter(
                id=row["id"],
                topic=row["topic"],
                partition=row["partition"],
                offset=row["offset"],
                key=bytes(row["key"]) if row["key"] is not None else None,
                value=bytes(row["value"]) if row["value"] is not None else None,
                reason=row["reason"],
                received_at=row["received_at"],
            )
            for row in rows
        ]

    @abc.abstractmethod
    def reopen(self) -> Repository:
        """Another connection to the same store, for work on a thread of its own."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


PROBE_COLUMNS = (
    "event_id",
    "url",
    "timestamp",
    "http_status_code",
    "response_time_ms",
    "error",
    "error_detail",
    "content_match",
    "ok",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "ttfb_ms",
)


def probe_row(probe: ProbeResult) -> tuple[Any, ...]:
    return tuple(getattr(probe, column) for column in PROBE_COLUMNS)
