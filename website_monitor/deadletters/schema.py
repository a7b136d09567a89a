"""The dead letters' table, as released migrations: literal SQL, never edited once released."""

from __future__ import annotations

from website_monitor.store.migrate import Migration

DEAD_LETTERS = Migration(
    "0001_dead_letters",
    "dead_letters: messages the flush could not decode, with their position and reason",
    postgresql=(
        """CREATE TABLE IF NOT EXISTS dead_letters (
            id BIGSERIAL PRIMARY KEY,
            topic TEXT NOT NULL,
            partition INTEGER NOT NULL,
            "offset" BIGINT NOT NULL,
            key BYTEA,
            value BYTEA,
            reason TEXT NOT NULL,
            received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
            UNIQUE (topic, partition, "offset")
        )""",
    ),
    sqlite=(
        """CREATE TABLE IF NOT EXISTS dead_letters (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            topic TEXT NOT NULL,
            partition INTEGER NOT NULL,
            "offset" INTEGER NOT NULL,
            key BLOB,
            value BLOB,
            reason TEXT NOT NULL,
            received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            UNIQUE (topic, partition, "offset")
        )""",
    ),
    legacy_version=1,
)

MIGRATIONS = (DEAD_LETTERS,)
