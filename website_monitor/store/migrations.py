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
        2,
        "hits and alerts for wm tail",
        postgres=(
            """CREATE TABLE IF NOT EXISTS hits (
                id BIGSERIAL PRIMARY KEY,
                event_id UUID NOT NULL UNIQUE,
                timestamp TIMESTAMPTZ NOT NULL,
                source TEXT NOT NULL,
                remote_host TEXT NOT NULL,
                "user" TEXT,
                method TEXT NOT NULL,
                path TEXT NOT NULL,
                section TEXT NOT NULL,
                status INTEGER NOT NULL,
                bytes BIGINT NOT NULL,
                referer TEXT,
                user_agent TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS hits_section_timestamp ON hits (section, timestamp)",
            "CREATE INDEX IF NOT EXISTS hits_timestamp ON hits (timestamp)",
            """CREATE TABLE IF NOT EXISTS alerts (
                id UUID PRIMARY KEY,
                source TEXT NOT NULL,
                kind TEXT NOT NULL,
                started_at TIMESTAMPTZ NOT NULL,
                ended_at TIMESTAMPTZ,
                peak DOUBLE PRECISION NOT NULL,
                threshold DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS alerts_started_at ON alerts (started_at)",
        ),
        sqlite=(
            """CREATE TABLE IF NOT EXISTS hits (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                event_id TEXT NOT NULL UNIQUE,
                timestamp TEXT NOT NULL,
                source TEXT NOT NULL,
                remote_host TEXT NOT NULL,
                "user" TEXT,
                method TEXT NOT NULL,
                path TEXT NOT NULL,
                section TEXT NOT NULL,
                status INTEGER NOT NULL,
                bytes INTEGER NOT NULL,
                referer TEXT,
                user_agent TEXT
            )""",
            "CREATE INDEX IF NOT EXISTS hits_section_timestamp ON hits (section, timestamp)",
            "CREATE INDEX IF NOT EXISTS hits_timestamp ON hits (timestamp)",
            """CREATE TABLE IF NOT EXISTS alerts (
                id TEXT PRIMARY KEY,
                source TEXT NOT NULL,
                kind TEXT NOT NULL,
                started_at TEXT NOT NULL,
                ended_at TEXT,
                peak REAL NOT NULL,
                threshold REAL NOT NULL
            )""",
            "CREATE INDEX IF NOT EXISTS alerts_started_at ON alerts (started_at)",
        ),
    ),
    Migration(
        3,
        "telemetry_buckets: UDP telemetry aggregated per station/metric and time bucket",
        postgres=(
            """CREATE TABLE IF NOT EXISTS telemetry_buckets (
                name TEXT NOT NULL,
                metric_type TEXT NOT NULL,
                bucket_start TIMESTAMPTZ NOT NULL,
                bucket_end TIMESTAMPTZ NOT NULL,
                arrivals BIGINT NOT NULL DEFAULT 0,
                departures BIGINT NOT NULL DEFAULT 0,
                samples BIGINT NOT NULL DEFAULT 0,
                sum_value DOUBLE PRECISION NOT NULL DEFAULT 0,
                sumsq_value DOUBLE PRECISION NOT NULL DEFAULT 0,
                min_value DOUBLE PRECISION,
                max_value DOUBLE PRECISION,
                first_value DOUBLE PRECISION,
                first_at DOUBLE PRECISION,
                last_value DOUBLE PRECISION,
                last_at DOUBLE PRECISION,
                total DOUBLE PRECISION NOT NULL DEFAULT 0,
                status TEXT,
                status_at DOUBLE PRECISION,
                p50 DOUBLE PRECISION,
                p95 DOUBLE PRECISION,
                p99 DOUBLE PRECISION,
                applied_events TEXT NOT NULL DEFAULT '',
                updated_at TIMESTAMPTZ NOT NULL,
                PRIMARY KEY (name, metric_type, bucket_start, bucket_end)
            )""",
            "CREATE INDEX IF NOT EXISTS telemetry_buckets_start"
            " ON telemetry_buckets (bucket_start)",
        ),
        sqlite=(
            """CREATE TABLE IF NOT EXISTS telemetry_buckets (
                name TEXT NOT NULL,
                metric_type TEXT NOT NULL,
                bucket_start TEXT NOT NULL,
                bucket_end TEXT NOT NULL,
                arrivals INTEGER NOT NULL DEFAULT 0,
                departures INTEGER NOT NULL DEFAULT 0,
                samples INTEGER NOT NULL DEFAULT 0,
                sum_value REAL NOT NULL DEFAULT 0,
                sumsq_value REAL NOT NULL DEFAULT 0,
                min_value REAL,
                max_value REAL,
                first_value REAL,
                first_at REAL,
                last_value REAL,
                last_at REAL,
                total REAL NOT NULL DEFAULT 0,
                status TEXT,
                status_at REAL,
                p50 REAL,
                p95 REAL,
                p99 REAL,
                applied_events TEXT NOT NULL DEFAULT '',
                updated_at TEXT NOT NULL,
                PRIMARY KEY (name, metric_type, bucket_start, bucket_end)
            )""",
            "CREATE INDEX IF NOT EXISTS telemetry_buckets_start"
            " ON telemetry_buckets (bucket_start)",
        ),
    ),
    Migration(
        4,
        "latency rollups (hour, day and week summaries and histograms), from url_probes",
        postgres=rollups.schema_statements("postgresql"),
        sqlite=rollups.schema_statements("sqlite"),
    ),
    Migration(
        5,
        "rollups follow the probes (rollup_state), instead of every write updating them",
        postgres=rollups.state_statements("postgresql"),
        sqlite=rollups.state_statements("sqlite"),
    ),
    Migration(
        6,
        "week rollups folded from the days of weeks that are over (rollup_state.weeks_to)",
        postgres=rollups.weeks_statements("postgresql"),
        sqlite=rollups.weeks_statements("sqlite"),
    ),
]

LATEST_VERSION = max(m.version for m in MIGRATIONS)
