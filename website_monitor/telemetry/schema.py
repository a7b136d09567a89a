"""The telemetry's table, as released migrations: literal SQL, never edited once released."""

from __future__ import annotations

from website_monitor.store.migrate import Migration

TELEMETRY_BUCKETS = Migration(
    "0001_telemetry_buckets",
    "telemetry_buckets: UDP telemetry aggregated per station/metric and time bucket",
    postgresql=(
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
        "CREATE INDEX IF NOT EXISTS telemetry_buckets_start ON telemetry_buckets (bucket_start)",
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
        "CREATE INDEX IF NOT EXISTS telemetry_buckets_start ON telemetry_buckets (bucket_start)",
    ),
    legacy_version=3,
)

MIGRATIONS = (TELEMETRY_BUCKETS,)
