"""The migration runner, written once for both backends."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from website_monitor.store.base import SchemaStatus
from website_monitor.store.migrations import MIGRATIONS, Migration

__all__ = ["SchemaStatus", "apply_migrations"]

SCHEMA_TABLE = """CREATE TABLE IF NOT EXISTS wm_schema (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TEXT NOT NULL
)"""


def apply_migrations(
    cursor: Any, backend: str, placeholder: str, run: Callable[[Any, Migration], None]
) -> list[int]:
    """Apply, inside the caller's locked transaction, every migration not yet recorded."""
    cursor.execute(SCHEMA_TABLE)
    cursor.execute("SELECT version FROM wm_schema")
    applied = {row[0] for row in cursor.fetchall()}
    done = []
    for migration in MIGRATIONS:
        if migration.version in applied:
            continue
        run(cursor, migration)
        cursor.execute(
            f"INSERT INTO wm_schema (version, description, applied_at)"
            f" VALUES ({placeholder}, {placeholder}, {placeholder})",
            (migration.version, migration.description, datetime.now(timezone.utc).isoformat()),
        )
        done.append(migration.version)
    return done
