"""Stores: a repository interface with PostgreSQL and SQLite implementations.

The connection string picks the backend: `postgresql://…` (or `postgres://…`)
or `sqlite:///path.db`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from website_monitor.errors import ConfigError, StoreError
from website_monitor.events import Event, ProbeResult
from website_monitor.store._sql import Where
from website_monitor.store.base import DeadLetter, Repository, SchemaStatus

__all__ = [
    "EVENT_WRITERS",
    "DeadLetter",
    "Repository",
    "SchemaStatus",
    "Where",
    "backend_of",
    "open_store",
    "store_events",
]

#: Writers for event kinds other than probes: kind -> function(repository, events) -> rows
#: inserted (idempotent on event_id). Modules in EVENT_MODULES register themselves here.
EVENT_WRITERS: dict[str, Callable[[Repository, Sequence[Event]], int]] = {}
#: Feature modules that own the tables of further event kinds.
EVENT_MODULES: tuple[str, ...] = ("website_monitor.logs.store", "website_monitor.telemetry.store")


def store_events(
    repository: Repository, events: Sequence[Event], dead_letters: Sequence[DeadLetter] = ()
) -> int:
    """Store events of any kind, plus dead letters; returns the rows actually inserted.

    Probes and dead letters share one transaction; each further kind has its
    own. All are idempotent on `event_id`, so a caller commits its offsets only
    after this returns and a redelivery after a crash changes nothing.
    """
    probes = [e for e in events if isinstance(e, ProbeResult)]
    inserted = repository.write(probes, dead_letters)
    others: dict[str, list[Event]] = {}
    for event in events:
        if not isinstance(event, ProbeResult):
            others.setdefault(event.kind, []).append(event)
    if others:
        for module in EVENT_MODULES:
            importlib.import_module(module)
    for kind, batch in others.items():
        writer = EVENT_WRITERS.get(kind)
        if writer is None:
            raise StoreError(f"no table stores events of kind {kind!r}")
        inserted += writer(repository, batch)
    return inserted


CONNECTION_HINT = "use postgresql://user:password@host:5432/dbname or sqlite:///path/to/wm.db"


def backend_of(url: str) -> str:
    """`postgresql` or `sqlite`, or a ConfigError naming the scheme."""
    try:
        scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    except ValueError:  # e.g. an unclosed IPv6 bracket; the string may hold a password
        raise ConfigError("the connection string cannot be parsed", hint=CONNECTION_HINT) from None
    if scheme in ("postgres", "postgresql"):
        return "postgresql"
    if scheme == "sqlite":
        return "sqlite"
    if not scheme:  # not a URL, so no way to tell a password apart: echo nothing
        raise ConfigError("the connection string has no scheme", hint=CONNECTION_HINT)
    raise ConfigError(f"unsupported connection string scheme {scheme!r}", hint=CONNECTION_HINT)


def sqlite_path(url: str) -> str:
    """`sqlite:///rel.db` is relative, `sqlite:////abs.db` absolute, as is customary."""
    path = url.split("://", 1)[1]
    path = path[1:] if path.startswith("/") else path
    if not path:
        raise ConfigError("the SQLite connection string names no file", hint=CONNECTION_HINT)
    if "\x00" in path:
        raise ConfigError("the SQLite path contains a NUL character", hint=CONNECTION_HINT)
    return path


def open_store(url: str, *, migrate: bool = True) -> Repository:
    """Connect to the store `url` names and, unless told not to, bring its schema up to date."""
    backend = backend_of(url)
    repository: Repository
    if backend == "postgresql":
        from website_monitor.store.postgres import PostgresRepository

        repository = PostgresRepository(url)
    else:
        from website_monitor.store.sqlite import SQLiteRepository

        repository = SQLiteRepository(sqlite_path(url))
    if migrate:
        try:
            repository.migrate()
        except BaseException:
            repository.close()
            raise
    return repository
