"""The repository interface every store backend implements.

Sources, the sink and the read side talk to this interface only, so the same
code path is used whether events arrive through Kafka or are written directly.
A query is written once for both backends, with the pieces that differ taken
from `dialect`; it runs on anything that is a `Reader`: the repository itself
(each query in its own transaction), a `snapshot()` (several queries, one
consistent view) or a write `transaction()`.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar, overload

from website_monitor.store.dialect import Dialect
from website_monitor.store.url import StoreURL

Row = dict[str, Any]

_Item = TypeVar("_Item")


class RowsOf(Sequence[tuple[Any, ...]], Generic[_Item]):
    """`[row(item) for item in items]`, made only when read: PostgreSQL's `insert` takes
    the rows' COPY text instead and only counts them, so a flush storing a row for every
    message does not build each one twice."""

    def __init__(self, items: Sequence[_Item], row: Callable[[_Item], tuple[Any, ...]]) -> None:
        self._items = items
        self._row = row

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[Any, ...]]: ...

    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        if isinstance(index, slice):
            return [self._row(item) for item in self._items[index]]
        return self._row(self._items[index])

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return map(self._row, self._items)


class Reader(Protocol):
    """Anything that runs read queries written for its dialect."""

    @property
    def dialect(self) -> Dialect: ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


@dataclasses.dataclass(frozen=True)
class AppliedMigration:
    seq: int
    feature: str
    name: str
    description: str
    applied_at: str


@dataclasses.dataclass(frozen=True)
class TableSize:
    """A table's rows (PostgreSQL: its statistics' estimate) and its size on disk (bytes,
    with its indexes; None where the backend cannot tell)."""

    name: str
    rows: int
    bytes: int | None


@dataclasses.dataclass(frozen=True)
class SchemaStatus:
    """Which migrations a store has: `current` applied of `latest` known to this version."""

    backend: str
    current: int
    latest: int
    applied: list[AppliedMigration]
    #: (feature, name) of the migrations this version would apply.
    waiting: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @property
    def pending(self) -> int:
        return len(self.waiting)


class Transaction(abc.ABC):
    """One write transaction: what runs in it is committed together, or not at all."""

    dialect: Dialect

    @abc.abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; returns the rows it affected."""

    @abc.abstractmethod
    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run one statement per row; returns the rows affected in all."""

    @abc.abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query; rows as dicts."""

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        rows = self.query(sql, params)
        return next(iter(rows[0].values())) if rows else None

    @abc.abstractmethod
    def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        copy_text: Callable[[], str] | None = None,
    ) -> int:
        """Insert `rows`, skipping those that a unique key finds already stored (an event
        redelivered: a kind's unique key is its event id, with the time where the table is
        partitioned by time).

        Returns the rows inserted. PostgreSQL loads them with COPY (from
        `copy_text()` when given, the rows in COPY's text format, else formatted
        here); SQLite with one prepared statement.
        """

    @abc.abstractmethod
    def lock(self, key: int) -> None:
        """Hold lock `key` until the transaction ends; others taking it wait (PostgreSQL).

        SQLite's write transactions already exclude each other.
        """


class Repository(abc.ABC):
    """One store: schema management, transactions and queries."""

    dialect: Dialect
    url: StoreURL

    @property
    def backend(self) -> str:
        """`postgresql` or `sqlite`: for display only; queries ask `dialect`."""
        return self.dialect.name

    @property
    def placeholder(self) -> str:
        return self.dialect.placeholder

    def migrate(self) -> SchemaStatus:
        """Bring the schema to the latest version; safe to call concurrently."""
        from website_monitor.store import migrate

        with self.transaction() as tx:
            migrate.apply(tx)
        return self.schema_status()

    def schema_status(self) -> SchemaStatus:
        """Which migrations are applied, without changing anything."""
        from website_monitor.store import migrate

        with self.snapshot() as reader:
            return migrate.read_status(reader)

    @abc.abstractmethod
    def transaction(self) -> AbstractContextManager[Transaction]:
        """A write transaction, committed when the block ends, rolled back on an exception.

        The driver's errors come out as `StoreError` (`StoreUnavailable` when the
        store cannot be reached, `StoreDataError` when it refused the data).
        """

    @abc.abstractmethod
    def snapshot(self) -> AbstractContextManager[Reader]:
        """A reader whose queries all see one consistent snapshot of the store.

        For reads that combine several queries (rollups plus the rows not yet
        rolled up) and must not see a write commit between them.
        """

    @abc.abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one read query in its own transaction."""

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row, or None."""
        rows = self.query(sql, params)
        return next(iter(rows[0].values())) if rows else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one write statement in its own transaction; returns rows affected."""
        with self.transaction() as tx:
            return tx.execute(sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        """Run one write statement per row in a single transaction; returns rows affected."""
        with self.transaction() as tx:
            return tx.executemany(sql, rows)

    def running_transactions(self) -> tuple[str, ...]:
        """Ids of the write transactions running now, other than this connection's.

        Only where writers commit concurrently (`dialect.concurrent_writers`);
        elsewhere there is never one.
        """
        return ()

    def still_running(self, transactions: Sequence[str]) -> tuple[str, ...]:
        """Those of `transactions` that have not ended yet."""
        return ()

    def keep_partitions(self, table: str, now: datetime) -> None:  # noqa: B027 - a no-op
        """Where `table` is partitioned by month, make sure the months ahead have theirs."""

    def delete_before(self, table: str, before: datetime, upto_id: int) -> int:
        """Delete the rows of `table` (with `id` and `timestamp`) stamped before `before`
        whose id is at most `upto_id`, a batch at a time; returns how many."""
        mark = self.dialect.placeholder
        deleted = 0
        while True:
            with self.transaction() as tx:
                done = tx.execute(
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table}"
                    f" WHERE timestamp < {mark} AND id <= {mark} LIMIT 50000)",
                    (before, upto_id),
                )
            deleted += done
            if done < 50000:
                return deleted

    @abc.abstractmethod
    def table_sizes(self) -> list[TableSize]:
        """Every table of the store, with its rows and size."""

    @abc.abstractmethod
    def reopen(self) -> Repository:
        """Another connection to the same store, for work on a thread of its own."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Repository:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextmanager
def reading(reader: Reader | Repository) -> Iterator[Reader]:
    """A consistent reader: a repository's snapshot, or a reader as it is."""
    if isinstance(reader, Repository):
        with reader.snapshot() as snapshot:
            yield snapshot
    else:
        yield reader
