"""The probes' tables, as released migrations: literal SQL, never edited once released.

`url_probes` keeps the original tool's columns (`id, url, timestamp,
http_status_code, response_time_ms`) and adopts a table it created. The
rollups (`rollup_summary`, `rollup_latency`, `rollup_state`) are described in
`probes.rollups`.
"""

from __future__ import annotations

from website_monitor.store.migrate import Migration

URL_PROBES = Migration(
    "0001_url_probes",
    "url_probes with event ids and phases",
    postgresql=(
        # The original columns first; IF NOT EXISTS adopts a table the original tool created.
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
    ),
    legacy_version=1,
)

_SUMMARY_FILL = """WITH
    s86400 AS (
        SELECT ({epoch} / 86400) * 86400 AS period_start, url,
            coalesce(http_status_code, 0) AS status, count(*) AS probes, count(error) AS errors,
            sum(CASE WHEN ok THEN 1 ELSE 0 END) AS ok, count(response_time_ms) AS timed,
            coalesce(sum(response_time_ms), 0) AS sum_ms, min(response_time_ms) AS min_ms,
            max(response_time_ms) AS max_ms
        FROM url_probes GROUP BY 1, 2, 3),
    s604800 AS (
        SELECT (period_start / 604800) * 604800 AS period_start, url, status,
            sum(probes) AS probes, sum(errors) AS errors, sum(ok) AS ok, sum(timed) AS timed,
            sum(sum_ms) AS sum_ms, min(min_ms) AS min_ms, max(max_ms) AS max_ms
        FROM s86400 GROUP BY 1, 2, 3)
INSERT INTO rollup_summary AS r
    (width, period_start, url, status, probes, errors, ok, timed, sum_ms, min_ms, max_ms)
SELECT * FROM (
    SELECT 86400 AS width, period_start, url, status, probes, errors, ok, timed, sum_ms,
        min_ms, max_ms FROM s86400
    UNION ALL
    SELECT 604800 AS width, period_start, url, status, probes, errors, ok, timed, sum_ms,
        min_ms, max_ms FROM s604800
) AS x WHERE true ORDER BY 1, 2, 3, 4
ON CONFLICT (width, period_start, url, status) DO NOTHING"""

_LATENCY_FILL = """WITH
    l86400 AS (
        SELECT ({epoch} / 86400) * 86400 AS period_start, url,
            coalesce(http_status_code, 0) AS status,
            (CASE WHEN response_time_ms > 0
                THEN CAST(ceil(ln(response_time_ms) * 99.99916666111281) AS INTEGER)
                ELSE -100000 END) AS bucket,
            count(*) AS count
        FROM url_probes WHERE response_time_ms IS NOT NULL GROUP BY 1, 2, 3, 4),
    l604800 AS (
        SELECT (period_start / 604800) * 604800 AS period_start, url, status, bucket,
            sum(count) AS count
        FROM l86400 GROUP BY 1, 2, 3, 4)
INSERT INTO rollup_latency AS r (width, period_start, url, status, bucket, count)
SELECT * FROM (
    SELECT 86400 AS width, period_start, url, status, bucket, count FROM l86400
    UNION ALL
    SELECT 604800 AS width, period_start, url, status, bucket, count FROM l604800
) AS x WHERE true ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (width, period_start, url, status, bucket) DO NOTHING"""

_PG_EPOCH = "floor(extract(epoch from timestamp))::bigint"
_SQLITE_EPOCH = "CAST(strftime('%s', substr(timestamp, 1, 19)) AS INTEGER)"

ROLLUPS = Migration(
    "0002_rollups",
    "latency rollups (day and week summaries and histograms), from url_probes",
    postgresql=(
        # Partitioned by level, so the rows of one level stay together on disk (a year-long
        # query reads the week partition only) however they arrive interleaved.
        """CREATE TABLE IF NOT EXISTS rollup_summary (
            width INTEGER NOT NULL,
            period_start BIGINT NOT NULL,
            url TEXT NOT NULL,
            status INTEGER NOT NULL,
            probes BIGINT NOT NULL,
            errors BIGINT NOT NULL,
            ok BIGINT NOT NULL,
            timed BIGINT NOT NULL,
            sum_ms DOUBLE PRECISION NOT NULL,
            min_ms DOUBLE PRECISION,
            max_ms DOUBLE PRECISION,
            PRIMARY KEY (width, period_start, url, status)
        ) PARTITION BY LIST (width)""",
        "CREATE TABLE IF NOT EXISTS rollup_summary_week PARTITION OF rollup_summary"
        " FOR VALUES IN (604800)",
        "CREATE TABLE IF NOT EXISTS rollup_summary_day PARTITION OF rollup_summary"
        " FOR VALUES IN (86400)",
        "CREATE TABLE IF NOT EXISTS rollup_summary_other PARTITION OF rollup_summary DEFAULT",
        """CREATE TABLE IF NOT EXISTS rollup_latency (
            width INTEGER NOT NULL,
            period_start BIGINT NOT NULL,
            url TEXT NOT NULL,
            status INTEGER NOT NULL,
            bucket INTEGER NOT NULL,
            count BIGINT NOT NULL,
            PRIMARY KEY (width, period_start, url, status, bucket)
        ) PARTITION BY LIST (width)""",
        "CREATE TABLE IF NOT EXISTS rollup_latency_week PARTITION OF rollup_latency"
        " FOR VALUES IN (604800)",
        "CREATE TABLE IF NOT EXISTS rollup_latency_day PARTITION OF rollup_latency"
        " FOR VALUES IN (86400)",
        "CREATE TABLE IF NOT EXISTS rollup_latency_other PARTITION OF rollup_latency DEFAULT",
        _SUMMARY_FILL.format(epoch=_PG_EPOCH),
        _LATENCY_FILL.format(epoch=_PG_EPOCH),
    ),
    sqlite=(
        """CREATE TABLE IF NOT EXISTS rollup_summary (
            width INTEGER NOT NULL,
            period_start INTEGER NOT NULL,
            url TEXT NOT NULL,
            status INTEGER NOT NULL,
            probes INTEGER NOT NULL,
            errors INTEGER NOT NULL,
            ok INTEGER NOT NULL,
            timed INTEGER NOT NULL,
            sum_ms REAL NOT NULL,
            min_ms REAL,
            max_ms REAL,
            PRIMARY KEY (width, period_start, url, status)
        )""",
        """CREATE TABLE IF NOT EXISTS rollup_latency (
            width INTEGER NOT NULL,
            period_start INTEGER NOT NULL,
            url TEXT NOT NULL,
            status INTEGER NOT NULL,
            bucket INTEGER NOT NULL,
            count INTEGER NOT NULL,
            PRIMARY KEY (width, period_start, url, status, bucket)
        )""",
        _SUMMARY_FILL.format(epoch=_SQLITE_EPOCH),
        _LATENCY_FILL.format(epoch=_SQLITE_EPOCH),
    ),
    legacy_version=4,
)

ROLLUP_STATE = Migration(
    "0003_rollup_state",
    "rollups follow the probes (rollup_state), instead of every write updating them",
    postgresql=(
        # Stores of schema version 4 also had an hour level.
        "DROP TABLE IF EXISTS rollup_summary_hour",
        "DROP TABLE IF EXISTS rollup_latency_hour",
        """CREATE TABLE IF NOT EXISTS rollup_state (
            singleton INTEGER PRIMARY KEY DEFAULT 1 CHECK (singleton = 1),
            rolled_up_to BIGINT NOT NULL
        )""",
        "INSERT INTO rollup_state (singleton, rolled_up_to)"
        " SELECT 1, coalesce(max(id), 0) FROM url_probes WHERE true"
        " ON CONFLICT (singleton) DO NOTHING",
    ),
    sqlite=(
        "DELETE FROM rollup_summary WHERE width = 3600",
        "DELETE FROM rollup_latency WHERE width = 3600",
        """CREATE TABLE IF NOT EXISTS rollup_state (
            singleton INTEGER PRIMARY KEY DEFAULT 1 CHECK (singleton = 1),
            rolled_up_to INTEGER NOT NULL
        )""",
        "INSERT INTO rollup_state (singleton, rolled_up_to)"
        " SELECT 1, coalesce(max(id), 0) FROM url_probes WHERE true"
        " ON CONFLICT (singleton) DO NOTHING",
    ),
    legacy_version=5,
)

WEEKS_TO = Migration(
    "0004_weeks_to",
    "week rollups folded from the days of weeks that are over (rollup_state.weeks_to)",
    postgresql=(
        "ALTER TABLE rollup_state ADD COLUMN weeks_to BIGINT NOT NULL DEFAULT 0",
        "UPDATE rollup_state"
        " SET weeks_to = (floor(extract(epoch from now()))::bigint / 604800) * 604800",
        "DELETE FROM rollup_summary WHERE width = 604800"
        " AND period_start >= (SELECT weeks_to FROM rollup_state)",
        "DELETE FROM rollup_latency WHERE width = 604800"
        " AND period_start >= (SELECT weeks_to FROM rollup_state)",
    ),
    sqlite=(
        "ALTER TABLE rollup_state ADD COLUMN weeks_to INTEGER NOT NULL DEFAULT 0",
        "UPDATE rollup_state"
        " SET weeks_to = (CAST(strftime('%s', 'now') AS INTEGER) / 604800) * 604800",
        "DELETE FROM rollup_summary WHERE width = 604800"
        " AND period_start >= (SELECT weeks_to FROM rollup_state)",
        "DELETE FROM rollup_latency WHERE width = 604800"
        " AND period_start >= (SELECT weeks_to FROM rollup_state)",
    ),
    legacy_version=6,
)

LONG_URLS = Migration(
    "0005_long_urls",
    "indexes on a hash of the URL on PostgreSQL, so that URLs of any length are stored",
    postgresql=(
        # A btree entry holds at most about 2,700 bytes: index md5(url), keep the URL whole.
        "DROP INDEX IF EXISTS url_probes_url_timestamp",
        "CREATE INDEX url_probes_url_timestamp ON url_probes (md5(url), timestamp)",
        "ALTER TABLE rollup_summary DROP CONSTRAINT rollup_summary_pkey",
        "CREATE UNIQUE INDEX rollup_summary_key"
        " ON rollup_summary (width, period_start, md5(url), status)",
        "ALTER TABLE rollup_latency DROP CONSTRAINT rollup_latency_pkey",
        "CREATE UNIQUE INDEX rollup_latency_key"
        " ON rollup_latency (width, period_start, md5(url), status, bucket)",
    ),
    sqlite=(),  # SQLite's index entries may be of any length
)

MIGRATIONS = (URL_PROBES, ROLLUPS, ROLLUP_STATE, WEEKS_TO, LONG_URLS)
