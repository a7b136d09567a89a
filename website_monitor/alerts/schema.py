"""The alerting tables, as released migrations: literal SQL, never edited once released.

* `incidents`: one row per incident (a URL down, too slow, an SLO burning its
  budget, high traffic seen by `wm tail`); `open_key` (a hash of the rule, kind,
  URL and severity) is set while it is open and unique, so one rule, URL and kind
  never has two open incidents, whoever writes.
* `incident_transitions`: what happened to it (open, remind-N, resolve), once each.
* `notifications`: the outbox, one row per transition and notifier, with the
  stable dedup key (incident id and transition) and the delivery state.
* `alert_positions`, `alert_state`: how far `wm alert` has read the checks, per
  rule, URL and location (`key`, a hash of the three: a URL may be longer than an
  index entry), and overall; written in the same transaction as the transitions
  the checks caused. No index holds a URL, for the same reason.
* `silences`: URLs whose notifications `wm alert silence` holds back for a while.
"""

from __future__ import annotations

from website_monitor.store.migrate import Migration

INCIDENTS = Migration(
    "0001_incidents",
    "incidents, their transitions, the notification outbox and the evaluator's position",
    postgresql=(
        """CREATE TABLE IF NOT EXISTS incidents (
            id TEXT PRIMARY KEY,
            alert TEXT NOT NULL,
            kind TEXT NOT NULL,
            url TEXT,
            source TEXT,
            severity TEXT NOT NULL,
            state TEXT NOT NULL,
            open_key TEXT UNIQUE,
            started_at TIMESTAMPTZ NOT NULL,
            resolved_at TIMESTAMPTZ,
            failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            peak DOUBLE PRECISION,
            threshold DOUBLE PRECISION,
            maintenance BOOLEAN NOT NULL DEFAULT false,
            announced BOOLEAN NOT NULL DEFAULT false,
            reminders INTEGER NOT NULL DEFAULT 0,
            notified_at TIMESTAMPTZ
        )""",
        "CREATE INDEX IF NOT EXISTS incidents_started_at ON incidents (started_at)",
        "CREATE INDEX IF NOT EXISTS incidents_state ON incidents (state, kind)",
        """CREATE TABLE IF NOT EXISTS incident_transitions (
            seq BIGSERIAL PRIMARY KEY,
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            transition TEXT NOT NULL,
            at TIMESTAMPTZ NOT NULL,
            recorded_at TIMESTAMPTZ NOT NULL,
            suppressed TEXT,
            UNIQUE (incident_id, transition)
        )""",
        """CREATE TABLE IF NOT EXISTS notifications (
            id BIGSERIAL PRIMARY KEY,
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            transition TEXT NOT NULL,
            notifier TEXT NOT NULL,
            dedup_key TEXT NOT NULL,
            payload TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TIMESTAMPTZ NOT NULL,
            claimed_by TEXT,
            claimed_until TIMESTAMPTZ,
            sent_at TIMESTAMPTZ,
            last_error TEXT,
            created_at TIMESTAMPTZ NOT NULL,
            UNIQUE (incident_id, transition, notifier)
        )""",
        "CREATE INDEX IF NOT EXISTS notifications_due ON notifications (state, next_attempt_at)",
        """CREATE TABLE IF NOT EXISTS alert_positions (
            key TEXT PRIMARY KEY,
            rule TEXT NOT NULL,
            url TEXT NOT NULL,
            location TEXT NOT NULL,
            last_ts TIMESTAMPTZ NOT NULL,
            last_id BIGINT NOT NULL,
            run_ok BOOLEAN NOT NULL,
            run_count INTEGER NOT NULL,
            run_start TIMESTAMPTZ NOT NULL,
            failing BOOLEAN NOT NULL,
            failing_since TIMESTAMPTZ,
            late INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        )""",
        """CREATE TABLE IF NOT EXISTS alert_state (
            singleton INTEGER PRIMARY KEY DEFAULT 1 CHECK (singleton = 1),
            checked_to BIGINT NOT NULL,
            seen_to BIGINT NOT NULL,
            cutoff TIMESTAMPTZ NOT NULL,
            evaluated_at TIMESTAMPTZ NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS silences (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            starts_at TIMESTAMPTZ NOT NULL,
            ends_at TIMESTAMPTZ NOT NULL,
            reason TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS silences_ends_at ON silences (ends_at)",
    ),
    sqlite=(
        """CREATE TABLE IF NOT EXISTS incidents (
            id TEXT PRIMARY KEY,
            alert TEXT NOT NULL,
            kind TEXT NOT NULL,
            url TEXT,
            source TEXT,
            severity TEXT NOT NULL,
            state TEXT NOT NULL,
            open_key TEXT UNIQUE,
            started_at TEXT NOT NULL,
            resolved_at TEXT,
            failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            peak REAL,
            threshold REAL,
            maintenance INTEGER NOT NULL DEFAULT 0,
            announced INTEGER NOT NULL DEFAULT 0,
            reminders INTEGER NOT NULL DEFAULT 0,
            notified_at TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS incidents_started_at ON incidents (started_at)",
        "CREATE INDEX IF NOT EXISTS incidents_state ON incidents (state, kind)",
        """CREATE TABLE IF NOT EXISTS incident_transitions (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            transition TEXT NOT NULL,
            at TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            suppressed TEXT,
            UNIQUE (incident_id, transition)
        )""",
        """CREATE TABLE IF NOT EXISTS notifications (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            incident_id TEXT NOT NULL REFERENCES incidents (id),
            transition TEXT NOT NULL,
            notifier TEXT NOT NULL,
            dedup_key TEXT NOT NULL,
            payload TEXT NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            claimed_by TEXT,
            claimed_until TEXT,
            sent_at TEXT,
            last_error TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (incident_id, transition, notifier)
        )""",
        "CREATE INDEX IF NOT EXISTS notifications_due ON notifications (state, next_attempt_at)",
        """CREATE TABLE IF NOT EXISTS alert_positions (
            key TEXT PRIMARY KEY,
            rule TEXT NOT NULL,
            url TEXT NOT NULL,
            location TEXT NOT NULL,
            last_ts TEXT NOT NULL,
            last_id INTEGER NOT NULL,
            run_ok INTEGER NOT NULL,
            run_count INTEGER NOT NULL,
            run_start TEXT NOT NULL,
            failing INTEGER NOT NULL,
            failing_since TEXT,
            late INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        )""",
        """CREATE TABLE IF NOT EXISTS alert_state (
            singleton INTEGER PRIMARY KEY DEFAULT 1 CHECK (singleton = 1),
            checked_to INTEGER NOT NULL,
            seen_to INTEGER NOT NULL,
            cutoff TEXT NOT NULL,
            evaluated_at TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS silences (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            starts_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,
            reason TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS silences_ends_at ON silences (ends_at)",
    ),
)

MIGRATIONS = (INCIDENTS,)
