"""The probes' tables, as released migrations: literal SQL, never edited once released.

`url_probes` keeps the original tool's columns (`id, url, timestamp,
http_status_code, response_time_ms`) and adopts a table it created. The
rollups (`rollup_summary`, `rollup_latency`, `rollup_state`) are described in
`probes.rollups`.
"""

from __future__ import annotations

from website_monitor.store import partitioning
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

# Migration 0006 fills its tables with SQL built from these constants of its own, so
# that later changes to the live code cannot change what it does.
_LATEST_COLUMNS = (
    "id, url, timestamp, http_status_code, response_time_ms, error, ok,"
    " dns_ms, connect_ms, tls_ms, ttfb_ms"
)
_BOUNDS_0006 = (
    "1", "1.5", "2.5", "4", "6", "10", "15", "25", "40", "60", "100", "150", "250", "400",
    "600", "1000", "1500", "2500", "4000", "6000", "10000", "15000", "25000", "40000", "60000",
)  # fmt: skip
_ROLLED_UP = "id <= (SELECT rolled_up_to FROM rollup_state)"


def _counted(phase: str, column: str) -> str:
    cases = " ".join(f"WHEN {column} <= {b} THEN {i}" for i, b in enumerate(_BOUNDS_0006))
    return (
        f"SELECT url, '{phase}' AS phase, CASE {cases} ELSE {len(_BOUNDS_0006)} END AS bucket,"
        f" {column} AS v FROM url_probes WHERE {_ROLLED_UP} AND {column} IS NOT NULL"
    )


_FILL_COUNTERS = (
    "INSERT INTO probe_counters (url, phase, bucket, count, sum_ms)"
    " SELECT url, phase, bucket, count(*), sum(v) FROM ("
    f"SELECT url, 'checks' AS phase, 0 AS bucket, 0.0 AS v FROM url_probes WHERE {_ROLLED_UP}"
    + "".join(
        f" UNION ALL {_counted(phase, column)}"
        for phase, column in (
            ("total", "response_time_ms"),
            ("dns", "dns_ms"),
            ("connect", "connect_ms"),
            ("tls", "tls_ms"),
            ("ttfb", "ttfb_ms"),
        )
    )
    + ") AS x GROUP BY url, phase, bucket"
)
_FILL_LATEST = (
    f"INSERT INTO probe_latest ({_LATEST_COLUMNS}) SELECT {_LATEST_COLUMNS} FROM"
    f" (SELECT {_LATEST_COLUMNS}, row_number() OVER"
    " (PARTITION BY url ORDER BY timestamp DESC, id DESC) AS rank"
    f" FROM url_probes WHERE {_ROLLED_UP}) AS ranked WHERE rank = 1"
)


def _views(real: str, big: str, stamp: str, flag: str, key: str) -> tuple[str, ...]:
    return (
        f"""CREATE TABLE IF NOT EXISTS probe_latest (
            id {big} NOT NULL,
            url TEXT NOT NULL,
            timestamp {stamp} NOT NULL,
            http_status_code INTEGER,
            response_time_ms {real},
            error TEXT,
            ok {flag},
            dns_ms {real},
            connect_ms {real},
            tls_ms {real},
            ttfb_ms {real}
        )""",
        f"CREATE UNIQUE INDEX IF NOT EXISTS probe_latest_url ON probe_latest ({key})",
        _FILL_LATEST,
        f"""CREATE TABLE IF NOT EXISTS probe_series (
            width INTEGER NOT NULL,
            period_start {big} NOT NULL,
            url TEXT NOT NULL,
            probes {big} NOT NULL,
            ok {big} NOT NULL,
            p50_ms {real},
            p95_ms {real},
            p99_ms {real}
        )""",
        "CREATE UNIQUE INDEX IF NOT EXISTS probe_series_key"
        f" ON probe_series (width, period_start, {key})",
        f"""CREATE TABLE IF NOT EXISTS probe_counters (
            url TEXT NOT NULL,
            phase TEXT NOT NULL,
            bucket INTEGER NOT NULL,
            count {big} NOT NULL,
            sum_ms {real} NOT NULL
        )""",
        "CREATE UNIQUE INDEX IF NOT EXISTS probe_counters_key"
        f" ON probe_counters ({key}, phase, bucket)",
        _FILL_COUNTERS,
        f"ALTER TABLE rollup_state ADD COLUMN series_to {big} NOT NULL DEFAULT 0",
    )


VIEWS = Migration(
    "0006_views",
    "the latest result per URL, stored series points and Prometheus counters, kept by catch-ups",
    postgresql=_views("DOUBLE PRECISION", "BIGINT", "TIMESTAMPTZ", "BOOLEAN", "md5(url)"),
    sqlite=_views("REAL", "INTEGER", "TEXT", "INTEGER", "url"),
)

PARTITIONS = Migration(
    "0007_partitions",
    "url_probes partitioned by month on PostgreSQL; how far raw rows are kept",
    postgresql=(
        *partitioning.monthly_2026(
            "url_probes",
            (
                ("url_probes_event_id", "UNIQUE INDEX {name} ON {table} (event_id, timestamp)"),
                ("url_probes_url_timestamp", "INDEX {name} ON {table} (md5(url), timestamp)"),
                ("url_probes_timestamp", "INDEX {name} ON {table} (timestamp)"),
            ),
        ),
        "ALTER TABLE rollup_state ADD COLUMN raw_from BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE rollup_state ADD COLUMN pruned_at BIGINT NOT NULL DEFAULT 0",
    ),
    sqlite=(
        "ALTER TABLE rollup_state ADD COLUMN raw_from INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE rollup_state ADD COLUMN pruned_at INTEGER NOT NULL DEFAULT 0",
    ),
)

_ALL_SUMMARY = (
    "INSERT INTO rollup_summary"
    " (width, period_start, url, status, probes, errors, ok, timed, sum_ms, min_ms, max_ms)"
    " SELECT 0, 0, url, status, sum(probes), sum(errors), sum(ok), sum(timed), sum(sum_ms),"
    " min(min_ms), max(max_ms) FROM rollup_summary"
    " WHERE width = 604800 AND period_start < (SELECT weeks_to FROM rollup_state)"
    " GROUP BY url, status"
)
_ALL_LATENCY = (
    "INSERT INTO rollup_latency (width, period_start, url, status, bucket, count)"
    " SELECT 0, 0, url, status, bucket, sum(count) FROM rollup_latency"
    " WHERE width = 604800 AND period_start < (SELECT weeks_to FROM rollup_state)"
    " GROUP BY url, status, bucket"
)

ALL_TIME = Migration(
    "0008_all_time",
    "rollup rows of everything before the current week (width 0), for ranges from the start",
    postgresql=(
        "CREATE TABLE IF NOT EXISTS rollup_summary_all PARTITION OF rollup_summary"
        " FOR VALUES IN (0)",
        "CREATE TABLE IF NOT EXISTS rollup_latency_all PARTITION OF rollup_latency"
        " FOR VALUES IN (0)",
        _ALL_SUMMARY,
        _ALL_LATENCY,
    ),
    sqlite=(_ALL_SUMMARY, _ALL_LATENCY),
)

CHECKS = Migration(
    "0009_checks",
    "url_probes and probe_latest: probing location, certificate expiry and issuer, first"
    " failed condition",
    # Added nullable columns only: rows stored before keep NULL there.
    postgresql=tuple(
        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}"
        for table in ("url_probes", "probe_latest")
        for column, kind in (
            ("location", "TEXT"),
            ("cert_expires_at", "TIMESTAMPTZ"),
            ("cert_issuer", "TEXT"),
            ("failed_condition", "TEXT"),
        )
    ),
    sqlite=tuple(
        f"ALTER TABLE {table} ADD COLUMN {column} {kind}"
        for table in ("url_probes", "probe_latest")
        for column, kind in (
            ("location", "TEXT"),
            ("cert_expires_at", "TEXT"),
            ("cert_issuer", "TEXT"),
            ("failed_condition", "TEXT"),
        )
    ),
)

CERT_INDEX = Migration(
    "0010_cert_index",
    "an index of the results that carry a certificate expiry, per URL and time",
    # The newest expiry of a URL (/metrics, wm stats) is then one index look-up even when
    # none of its results has one (plain failures), instead of a walk through all of them.
    postgresql=(
        "CREATE INDEX IF NOT EXISTS url_probes_cert ON url_probes (md5(url), timestamp)"
        " WHERE cert_expires_at IS NOT NULL",
    ),
    sqlite=(
        "CREATE INDEX IF NOT EXISTS url_probes_cert ON url_probes (url, timestamp)"
        " WHERE cert_expires_at IS NOT NULL",
    ),
)

MIGRATIONS = (
    URL_PROBES,
    ROLLUPS,
    ROLLUP_STATE,
    WEEKS_TO,
    LONG_URLS,
    VIEWS,
    PARTITIONS,
    ALL_TIME,
    CHECKS,
    CERT_INDEX,
)
