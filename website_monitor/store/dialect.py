"""Every difference between PostgreSQL's SQL and SQLite's, in one object per backend.

Queries elsewhere are written once and ask the store's dialect for the pieces
that differ (`repository.dialect.epoch("timestamp")`); nothing outside `store/`
compares backend names. Migrations, frozen as literal SQL, carry one text per
backend instead (`store.migrate.Migration`).
"""

from __future__ import annotations


class Dialect:
    """How one backend spells what the queries need."""

    #: `postgresql` or `sqlite`, as shown to users (`wm db status`).
    name: str
    #: A query parameter.
    placeholder: str
    #: Whether several writers may commit concurrently, so that a row with a lower id can
    #: become visible after one with a higher id (PostgreSQL). SQLite has one writer at a time.
    concurrent_writers: bool
    #: Whether writers hand rows over as COPY text (PostgreSQL), so that a batch's text is
    #: worth writing ahead of its write (`transport.writer.prepare`).
    copies_text: bool
    #: A query listing the store's tables, one `name` per row.
    tables_query: str

    def marks(self, count: int) -> str:
        """`count` placeholders separated by commas, for VALUES and IN lists."""
        return ", ".join([self.placeholder] * count)

    def percentile(self, fraction: float, column: str) -> str:
        """An aggregate equal to PostgreSQL's `percentile_cont(fraction)` over `column`."""
        raise NotImplementedError

    def epoch(self, column: str) -> str:
        """Whole seconds since the epoch of a stored timestamp, as an integer expression."""
        raise NotImplementedError

    @property
    def now_epoch(self) -> str:
        """The database's clock in whole seconds since the epoch."""
        raise NotImplementedError

    def timestamp(self, epoch: str) -> str:
        """A stored timestamp for an expression of whole epoch seconds (to compare with)."""
        raise NotImplementedError

    def least(self, a: str, b: str) -> str:
        """The smaller of two expressions, ignoring a NULL (as PostgreSQL's `least`)."""
        raise NotImplementedError

    def greatest(self, a: str, b: str) -> str:
        """The larger of two expressions, ignoring a NULL (as PostgreSQL's `greatest`)."""
        raise NotImplementedError

    def position(self, needle: str, haystack: str) -> str:
        """1-based position of `needle` in `haystack`, 0 when absent."""
        raise NotImplementedError

    def sum_of(self, expression: str) -> str:
        """A sum of integers that cannot fail however large they are (response sizes and
        counts go up to 2**63 each); 0 over no rows."""
        raise NotImplementedError

    def text_key(self, expression: str) -> str:
        """What indexes on long text are built on: the text itself where an index entry
        may be any length (SQLite), else a fixed-size hash of it (PostgreSQL's btree
        refuses entries over about 2,700 bytes)."""
        raise NotImplementedError

    def lock_for_writers(self, table: str) -> str | None:
        """A statement making writers of `table` wait until this transaction ends, or None
        where a write transaction already excludes every other writer."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{self.name} dialect>"


class PostgreSQL(Dialect):
    name = "postgresql"
    placeholder = "%s"
    concurrent_writers = True
    copies_text = True
    tables_query = "SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()"

    def percentile(self, fraction: float, column: str) -> str:
        return f"percentile_cont({float(fraction)!r}) WITHIN GROUP (ORDER BY {column})"

    def epoch(self, column: str) -> str:
        return f"floor(extract(epoch from {column}))::bigint"

    @property
    def now_epoch(self) -> str:
        return self.epoch("now()")

    def timestamp(self, epoch: str) -> str:
        return f"to_timestamp({epoch})"

    def least(self, a: str, b: str) -> str:
        return f"least({a}, {b})"

    def greatest(self, a: str, b: str) -> str:
        return f"greatest({a}, {b})"

    def position(self, needle: str, haystack: str) -> str:
        return f"strpos({haystack}, {needle})"

    def sum_of(self, expression: str) -> str:
        # the sum of bigints is a numeric: it does not overflow
        return f"coalesce(sum({expression}), 0)"

    def text_key(self, expression: str) -> str:
        return f"md5({expression})"

    def lock_for_writers(self, table: str) -> str | None:
        return f"LOCK TABLE {table} IN SHARE MODE"


class SQLite(Dialect):
    name = "sqlite"
    placeholder = "?"
    concurrent_writers = False
    copies_text = False
    tables_query = "SELECT name FROM sqlite_master WHERE type = 'table'"

    def percentile(self, fraction: float, column: str) -> str:
        # an aggregate registered on every connection (store.sqlite)
        return f"percentile_cont({float(fraction)!r}, {column})"

    def epoch(self, column: str) -> str:
        # Timestamps are fixed-width UTC ISO text: the first 19 characters are the second.
        return f"CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER)"

    @property
    def now_epoch(self) -> str:
        return "CAST(strftime('%s', 'now') AS INTEGER)"

    def timestamp(self, epoch: str) -> str:
        # the fixed-width UTC text the store writes (store.sqlite.format_timestamp)
        return f"strftime('%Y-%m-%dT%H:%M:%S.000000+00:00', {epoch}, 'unixepoch')"

    def least(self, a: str, b: str) -> str:
        return f"min(coalesce({a}, {b}), coalesce({b}, {a}))"  # min() of a NULL is NULL

    def greatest(self, a: str, b: str) -> str:
        return f"max(coalesce({a}, {b}), coalesce({b}, {a}))"

    def position(self, needle: str, haystack: str) -> str:
        return f"instr({haystack}, {needle})"

    def sum_of(self, expression: str) -> str:
        # sum() raises "integer overflow" past 2**63; total() is a float (exact to 2**53)
        return f"total({expression})"

    def text_key(self, expression: str) -> str:
        return expression  # a long key spills to overflow pages: no limit

    def lock_for_writers(self, table: str) -> str | None:
        return None  # BEGIN IMMEDIATE already holds the only write lock


POSTGRESQL: Dialect = PostgreSQL()
SQLITE: Dialect = SQLite()
