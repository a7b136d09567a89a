"""The access-log tables, as released migrations: literal SQL, never edited once released.

`hits` holds one row per request (`wm tail --publish`, `POST /api/logs`).
High-traffic alerts were kept in `alerts` until they became incidents of kind
`traffic` (the alerting feature's `incidents`, which migrates before this kind).
"""

from __future__ import annotations

from website_monitor.store import partitioning
from website_monitor.store.migrate import Migration

HITS_AND_ALERTS = Migration(
    "0001_hits_and_alerts",
    "hits and alerts for wm tail",
    postgresql=(
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
    legacy_version=2,
)

LONG_PATHS = Migration(
    "0002_long_paths",
    "the sections' index on a hash of the section on PostgreSQL, for paths of any length",
    postgresql=(
        "DROP INDEX IF EXISTS hits_section_timestamp",
        "CREATE INDEX hits_section_timestamp ON hits (md5(section), timestamp)",
    ),
    sqlite=(),  # SQLite's index entries may be of any length
)


def _rollups(big: str, real: str, key: str) -> tuple[str, ...]:
    return (
        f"""CREATE TABLE IF NOT EXISTS hit_summary (
            width INTEGER NOT NULL,
            period_start {big} NOT NULL,
            source TEXT NOT NULL,
            section TEXT NOT NULL,
            hits {big} NOT NULL,
            errors {big} NOT NULL,
            sum_bytes {real} NOT NULL,
            min_bytes {real},
            max_bytes {real}
        )""",
        "CREATE UNIQUE INDEX IF NOT EXISTS hit_summary_key"
        f" ON hit_summary (width, period_start, {key.format('source')}, {key.format('section')})",
        f"""CREATE TABLE IF NOT EXISTS hit_histogram (
            width INTEGER NOT NULL,
            period_start {big} NOT NULL,
            source TEXT NOT NULL,
            section TEXT NOT NULL,
            bucket INTEGER NOT NULL,
            count {big} NOT NULL
        )""",
        "CREATE UNIQUE INDEX IF NOT EXISTS hit_histogram_key ON hit_histogram"
        f" (width, period_start, {key.format('source')}, {key.format('section')}, bucket)",
        f"""CREATE TABLE IF NOT EXISTS hit_totals (
            source TEXT NOT NULL,
            hits {big} NOT NULL
        )""",
        f"CREATE UNIQUE INDEX IF NOT EXISTS hit_totals_key ON hit_totals ({key.format('source')})",
        # Nothing is rolled up yet: the first catch-up covers the hits already stored, and
        # reads take them from the raw rows meanwhile.
        f"""CREATE TABLE IF NOT EXISTS hit_rollup_state (
            singleton INTEGER PRIMARY KEY DEFAULT 1 CHECK (singleton = 1),
            rolled_up_to {big} NOT NULL,
            weeks_to {big} NOT NULL
        )""",
        "INSERT INTO hit_rollup_state (singleton, rolled_up_to, weeks_to) VALUES (1, 0, 0)",
    )


ROLLUPS = Migration(
    "0003_rollups",
    "hit rollups: day and week summaries and size histograms per source and section",
    postgresql=_rollups("BIGINT", "DOUBLE PRECISION", "md5({})"),
    sqlite=_rollups("INTEGER", "REAL", "{}"),
)

PARTITIONS = Migration(
    "0004_partitions",
    "hits partitioned by month on PostgreSQL; how far raw hits are kept",
    postgresql=(
        *partitioning.monthly_2026(
            "hits",
            (
                ("hits_event_id", "UNIQUE INDEX {name} ON {table} (event_id, timestamp)"),
                ("hits_section_timestamp", "INDEX {name} ON {table} (md5(section), timestamp)"),
                ("hits_timestamp", "INDEX {name} ON {table} (timestamp)"),
            ),
        ),
        "ALTER TABLE hit_rollup_state ADD COLUMN raw_from BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE hit_rollup_state ADD COLUMN pruned_at BIGINT NOT NULL DEFAULT 0",
    ),
    sqlite=(
        "ALTER TABLE hit_rollup_state ADD COLUMN raw_from INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE hit_rollup_state ADD COLUMN pruned_at INTEGER NOT NULL DEFAULT 0",
    ),
)


_ALERTS_TO_INCIDENTS = """INSERT INTO incidents (id, alert, kind, url, source, severity, state,
    open_key, started_at, resolved_at, failures, last_error, peak, threshold, maintenance,
    announced, reminders, notified_at)
SELECT {id}, 'high traffic', 'traffic', NULL, source, 'page',
    CASE WHEN ended_at IS NULL THEN 'open' ELSE 'resolved' END, NULL, started_at, ended_at, 0,
    NULL, peak, threshold, {false}, {true}, 0, started_at
FROM alerts WHERE true ORDER BY started_at
ON CONFLICT (id) DO NOTHING"""

ALERTS_TO_INCIDENTS = Migration(
    "0005_alerts_to_incidents",
    "high-traffic alerts move to incidents (kind traffic); the alerts table goes",
    postgresql=(
        _ALERTS_TO_INCIDENTS.format(id="CAST(id AS TEXT)", false="false", true="true"),
        "DROP TABLE alerts",
    ),
    sqlite=(
        _ALERTS_TO_INCIDENTS.format(id="id", false="0", true="1"),
        "DROP TABLE alerts",
    ),
)

MIGRATIONS = (HITS_AND_ALERTS, LONG_PATHS, ROLLUPS, PARTITIONS, ALERTS_TO_INCIDENTS)
