"""Versioned schema migrations, one list per backend.

Each migration has a number; a store records the numbers applied in
`wm_schema`. Features add their tables by appending a migration, never by
editing an applied one.
"""

from __future__ import annotations

import dataclasses

from website_monitor import rollups


@dataclasses.dataclass(frozen=True)
class Migration:
    version: int
    description: str
    postgres: tuple[str, ...]
    sqlite: tuple[str, ...]

    def statements(self, backend: str) -> tuple[str, ...]:
        return self.postgres if backend == "postgresql" else self.sqlite


MIGRATIONS: list[Migration] = [
    Migration(
        1,
        "url_probes with event ids and phases, dead_letters",
        postgres=(
            # The original columns first; IF NOT EXISTS adopts a table the
            # original tool created.
            """CREATE TABLE IF NOT EXISTS url_probes (
                id BIGSERIAL PRIMARY KEY,
                url TEXT NOT NULL,
                timestamp TIMESTAMPTZ NOT NULL,
                http_status_code INTEGER,
                response_time_ms DOUBLE PRECISION
            )""",
            "ALTER TABLE url_probes ALTER COLUMN http_status_code DROP NOT NULL",
            "ALTER TABLE url_probes ALTER COLUMN response_time_ms DROP NOT NULL",
            "ALTER TABLE url_probes ALTER COLUMN response_time_ms TYPE DOUBLE PRECISION",
            "ALTER TABLE url_probes ADD COLUMN IF NOT EXISTS event_id UUID",
            "ALTER TABLE url_probes ADD COLUMN IF NOT EXISTS error TEXT",
            "ALTER TABLE url_probes ADD COLUMN IF NOT EXISTS error_detail TEXT",
            "ALTER TABLE url_probes ADD COLUMN IF NOT EXISTS content_match BOOLEAN",
            "ALTER TABLE url_probes ADD COLUMN IF NOT EXISTS ok BOOLEAN",
            "ALTER TABLE url_probes ADD COLUMN IF NOT EXISTS dns_ms DOUBLE PRECISION",
            "ALTER TABLE url_probes ADD COLUMN IF NOT EXISTS connect_ms DOUBLE PRECISION",
            "ALTER TABLE url_probes ADD COLUMN IF NOT EXISTS tls_ms DOUBLE PRECISION",
            "ALTER TABLE url_probes ADD COLUMN IF NOT EXISTS ttfb_ms DOUBLE PRECISION",
            "CREATE UNIQUE INDEX IF NOT EXISTS url_probes_event_id ON url_probes (event_id)",
            "CREATE INDEX IF NOT EXISTS url_probes_url_timestamp ON url_probes (url, timestamp)",
            "CREATE INDEX IF NOT EXISTS url_probes_timestamp ON url_probes (timestamp)",
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
            """CREATE TABLE IF NOT EXISTS url_probes (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                url TEXT NOT NULL,
                timestamp TEXT NOT NULL,
                http_status_code INTEGER,
                response_time_ms REAL,
                event_id TEXT UNIQUE,
                error TEXT,
                error_detail TEXT,
                content_match INTEGER,
                ok INTEGER,
                dns_ms REAL,
                connect_ms REAL,
                tls_ms REAL,
                ttfb_ms REAL
            )""",
            "CREATE INDEX IF NOT EXISTS url_probes_url_timestamp ON url_probes (url, timestamp)",
            "CREATE INDEX IF NOT EXISTS url_probes_timestamp ON url_probes (timestamp)",
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
    ),
    Migration(
        4,
        "latency rollups (hour, day and week summaries and histograms), from url_probes",
        postgres=rollups.schema_statements("postgresql"),
        sqlite=rollups.schema_statements("sqlite"),
    ),
]

LATEST_VERSION = max(m.version for m in MIGRATIONS)
