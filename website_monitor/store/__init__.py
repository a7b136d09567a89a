"""Stores: one repository interface, with PostgreSQL and SQLite behind it.

The connection string picks the backend (`store.url`): `postgresql://…` (or
`postgres://…`) or `sqlite:///path.db`. `dialect` holds every difference in
their SQL, `migrate` applies each kind of data's migrations. The store knows
no kind of data: those come from the registry (`website_monitor.features`).
"""

from __future__ import annotations

from website_monitor.store._sql import Where
from website_monitor.store.base import (
    Reader,
    Repository,
    Row,
    RowsOf,
    SchemaStatus,
    Transaction,
)
from website_monitor.store.url import StoreURL

__all__ = [
    "Reader",
    "Repository",
    "Row",
    "RowsOf",
    "SchemaStatus",
    "StoreURL",
    "Transaction",
    "Where",
    "open_store",
]


def open_store(url: str | StoreURL, *, migrate: bool = True, create: bool = True) -> Repository:
    """Connect to the store `url` names and, unless told not to, bring its schema up to date.

    With `create=False` an embedded store that does not exist yet is an error
    instead of a new, empty file (for commands that only read).
    """
    parsed = url if isinstance(url, StoreURL) else StoreURL.parse(url)
    repository: Repository
    if parsed.backend == "postgresql":
        from website_monitor.store.postgres import PostgresRepository

        repository = PostgresRepository(parsed)
    else:
        from website_monitor.store.sqlite import SQLiteRepository

        repository = SQLiteRepository(parsed, create=create)
    if migrate:
        try:
            repository.migrate()
        except BaseException:
            repository.close()
            raise
    return repository
