"""Stores made by the release that numbered its schema (`wm_schema`) upgrade without loss.

The fixtures in tests/fixtures/legacy-7997ec6 are dumps of stores that release
made and filled (probes over five weeks with their rollups, hits, alerts,
telemetry buckets, dead letters), with what its own commands printed on them;
README.md there says how they were made. Each test loads a dump into a fresh
database and opens it with today's code, which adopts the numbered versions as
named migrations.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.services import fresh_database
from website_monitor import features
from website_monitor.cli import main
from website_monitor.deadletters.store import DeadLetter
from website_monitor.probes.codec import ProbeResult
from website_monitor.store import Repository, open_store
from website_monitor.telemetry.codec import TelemetryBucket
from website_monitor.transport.writer import store_events

FIXTURES = Path(__file__).parent / "fixtures" / "legacy-7997ec6"
UTC = timezone.utc


@dataclass
class Legacy:
    """A store as the previous release left it, loaded into a fresh database."""

    url: str
    backend: str
    #: What the release printed on it, its row counts and schema versions.
    expected: dict[str, Any]


def load_dump(url: str, backend: str) -> None:
    dump = (FIXTURES / f"{backend}.sql").read_text()
    if backend == "sqlite":
        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            connection.executescript(dump)
        finally:
            connection.close()
        return
    import psycopg2

    connection = psycopg2.connect(url)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(dump)
    finally:
        connection.close()


@pytest.fixture
def legacy(store_url: str) -> Legacy:
    backend = "sqlite" if store_url.startswith("sqlite") else "postgresql"
    load_dump(store_url, backend)
    expected = json.loads((FIXTURES / f"{backend}.expected.json").read_text())
    return Legacy(store_url, backend, expected)


# --- reading a store as it is, with the driver alone ---------------------------------------


def raw_tables(url: str) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every table (and PostgreSQL sequence): its columns and its rows, in a fixed order."""
    if url.startswith("sqlite"):
        connection: Any = sqlite3.connect(url.removeprefix("sqlite:///"))
        names = [
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        sequences: list[str] = []
    else:
        import psycopg2

        connection = psycopg2.connect(url)
        with connection.cursor() as cursor:
            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            names = [r[0] for r in cursor.fetchall()]
            cursor.execute("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            sequences = [r[0] for r in cursor.fetchall()]
    tables = {}
    try:
        cursor = connection.cursor()
        for name in [*names, *sequences]:
            columns = "last_value, is_called" if name in sequences else "*"
            cursor.execute(f'SELECT {columns} FROM "{name}"')
            header = [d[0] for d in cursor.description]
            rows = [
                tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                for row in cursor.fetchall()
            ]
            tables[name] = (header, sorted(rows, key=repr))
        cursor.close()
    finally:
        connection.close()
    return tables


def row_counts(tables: dict[str, tuple[list[str], list[tuple[Any, ...]]]]) -> dict[str, int]:
    return {name: len(rows) for name, (header, rows) in tables.items() if "is_called" not in header}


def wm(url: str, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "-d", url])
    assert result.exit_code == 0, f"wm {' '.join(args)}: {result.output}"
    return result.stdout


def wm_json(url: str, *args: str) -> Any:
    return json.loads(wm(url, *args))


def parsed(name: str, text: str) -> Any:
    """A command's output as values. `wm dlq list` printed JSON lines in that release and
    prints {"dead_letters": [...]} now: both are read as the list of letters."""
    if name == "dlq":
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            return [json.loads(line) for line in text.splitlines()]
        return document.get("dead_letters", [document])
    return json.loads(text)


# --- the upgrade ---------------------------------------------------------------------------

#: Tables that migrations released after the numbered-schema release add (and fill).
ADDED_SINCE = {
    "probe_latest",
    "probe_series",
    "probe_counters",
    "hit_summary",
    "hit_histogram",
    "hit_totals",
    "hit_rollup_state",
    "incidents",
    "incident_transitions",
    "notifications",
    "alert_positions",
    "alert_state",
    "silences",
}
#: PostgreSQL sequences of the tables added since.
SEQUENCES_ADDED_SINCE = {"incident_transitions_seq_seq", "notifications_id_seq"}
#: Tables (and their sequences) of the numbered-schema release that migrations released
#: since moved elsewhere: the traffic alerts are incidents of kind `traffic` now.
GONE_SINCE = {"alerts", "alerts_id_seq"}
#: Rows that migrations released since add to the tables of the numbered-schema release:
#: the rollup rows of all time (width 0).
ROWS_ADDED_SINCE = {"rollup_summary": ("width", 0), "rollup_latency": ("width", 0)}


def test_the_upgrade_keeps_every_row_and_adopts_the_numbered_versions(legacy: Legacy) -> None:
    before = raw_tables(legacy.url)
    counts = {k: v for k, v in row_counts(before).items() if k != "sqlite_sequence"}
    assert counts == legacy.expected["row_counts"], "the dump did not load as it was made"
    header, rows = before["wm_schema"]
    versions = {row[header.index("version")]: row[header.index("applied_at")] for row in rows}
    assert sorted(versions) == legacy.expected["schema_versions"] == [1, 2, 3, 4, 5, 6]

    # Not migrated yet: today's status reads the numbered versions as the named migrations,
    # and lists those added since as waiting.
    plan = [(f.name, m) for f in features.FEATURES for m in f.migrations]
    newer = [m for _, m in plan if m.legacy_version is None]
    status = wm_json(legacy.url, "db", "status")
    assert (status["pending"], status["version"]) == (len(newer), len(plan) - len(newer))
    assert status["latest"] == len(plan)

    open_store(legacy.url).close()
    after = raw_tables(legacy.url)
    added = set(after) - set(before)
    # PostgreSQL's url_probes and hits are partitioned by month since, and the rollups by
    # width: their rows are read through the tables themselves.
    months = {
        name
        for name in added
        if re.fullmatch(
            r"(url_probes|hits)_(\d{4}_\d{2}|default)|rollup_(summary|latency)_all", name
        )
    }
    assert added - months - SEQUENCES_ADDED_SINCE == {"wm_migrations", *ADDED_SINCE}
    assert set(before) - set(after) == GONE_SINCE & set(before)
    header, rows = before["alerts"]
    new_header, new_rows = after["incidents"]
    moved = [
        dict(zip(new_header, row)) for row in new_rows if row[new_header.index("kind")] == "traffic"
    ]
    assert sorted(
        (str(i["id"]), i["source"], i["started_at"], i["resolved_at"], i["peak"], i["threshold"])
        for i in moved
    ) == sorted(
        (str(a["id"]), a["source"], a["started_at"], a["ended_at"], a["peak"], a["threshold"])
        for a in (dict(zip(header, row)) for row in rows)
    ), "the alerts did not move to incidents as they were"
    for table, (header, rows) in before.items():
        if table in GONE_SINCE:
            continue
        new_header, new_rows = after[table]
        kept = [new_header.index(column) for column in header]  # columns may be added
        if table in ROWS_ADDED_SINCE:
            column, value = ROWS_ADDED_SINCE[table]
            new_rows = [row for row in new_rows if row[new_header.index(column)] != value]
        old = sorted((tuple(row[i] for i in kept) for row in new_rows), key=repr)
        assert (header, old) == (header, rows), f"the upgrade changed {table}"
        if table in ("url_probes", "hits"):  # the columns of their events added since
            added_columns = [i for i, c in enumerate(new_header) if c not in header]
            assert all(row[i] is None for row in new_rows for i in added_columns), (
                f"{table}: a column added since is not NULL in an old row"
            )

    # Each named migration is recorded once, as applied when its version was.
    header, rows = after["wm_migrations"]
    recorded = sorted((dict(zip(header, row)) for row in rows), key=lambda r: r["seq"])
    assert [r["seq"] for r in recorded] == list(range(1, len(recorded) + 1))
    assert sorted((r["feature"], r["name"]) for r in recorded) == sorted(
        (feature, m.name) for feature, m in plan
    )
    by_key = {(r["feature"], r["name"]): r for r in recorded}
    adopted_order = []
    for feature, migration in plan:
        row = by_key[(feature, migration.name)]
        assert row["checksum"] == migration.checksum
        assert row["description"] == migration.description
        if migration.legacy_version is not None:
            assert row["applied_at"] == versions[migration.legacy_version]
            adopted_order.append((migration.legacy_version, row["seq"]))
    assert [seq for _, seq in sorted(adopted_order)] == list(range(1, len(adopted_order) + 1))
    # Then those newer than the numbered schema, applied now, kinds in registry order.
    assert [by_key[(f, m.name)]["seq"] for f, m in plan if m.legacy_version is None] == list(
        range(len(adopted_order) + 1, len(plan) + 1)
    )

    status = wm_json(legacy.url, "db", "status")
    assert status["pending"] == 0
    assert status["version"] == status["latest"] == len(plan)
    assert [(a["feature"], a["name"]) for a in status["applied"]] == [
        (r["feature"], r["name"]) for r in recorded
    ]
    assert status["rollups"] == legacy.expected["db_status"]["rollups"]
    assert status["rollups"]["pending_probes"] == legacy.expected["generated"]["probes"]["pending"]

    # A second open (and an explicit upgrade) finds nothing to do and changes nothing.
    open_store(legacy.url).close()
    assert "schema is up to date" in wm(legacy.url, "db", "upgrade")
    assert raw_tables(legacy.url) == after


def test_the_upgraded_store_prints_what_the_release_printed(legacy: Legacy) -> None:
    commands = legacy.expected["commands"]
    assert len(commands) >= 20
    for name, command in commands.items():
        printed = wm(legacy.url, *command["args"])
        assert parsed(name, printed) == parsed(name, command["stdout"]), (
            f"wm {' '.join(command['args'])} prints other values than the release did"
        )
    # The outputs hold what the tests rely on: pending probes, failures, alerts, bad bytes.
    stats = json.loads(commands["stats_by_status"]["stdout"])["stats"]
    assert any(entry["http_status_code"] is None for entry in stats), "failed checks (no status)"
    alerts = json.loads(commands["alerts"]["stdout"])["alerts"]
    assert [a["ended_at"] is None for a in alerts] == [False, True]
    letters = parsed("dlq", commands["dlq"]["stdout"])
    assert any("value_base64" in letter for letter in letters)
    assert any("key_base64" in letter for letter in letters)


# --- the schema: what today's migrations make from nothing ---------------------------------


def schema_of(url: str) -> dict[str, Any]:
    """Tables, columns, keys, indexes and partitions, as the database describes them."""
    if url.startswith("sqlite"):
        connection = sqlite3.connect(url.removeprefix("sqlite:///"))
        try:
            described: dict[str, Any] = {}
            tables = [
                r[0]
                for r in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
            for table in tables:
                indexes = {}
                for _, index, unique, origin, partial in connection.execute(
                    f'PRAGMA index_list("{table}")'
                ):
                    columns = [r[2] for r in connection.execute(f'PRAGMA index_info("{index}")')]
                    key = index if origin == "c" else f"{origin}:{','.join(columns)}"
                    indexes[key] = (unique, partial, columns)
                described[f"table {table}"] = {
                    "columns": connection.execute(f'PRAGMA table_info("{table}")').fetchall(),
                    "indexes": indexes,
                }
            return described
        finally:
            connection.close()
    import psycopg2

    connection = psycopg2.connect(url)
    try:
        with connection.cursor() as cursor:
            queries = {
                "columns": "SELECT table_name, column_name, data_type, is_nullable,"
                " column_default, ordinal_position FROM information_schema.columns"
                " WHERE table_schema = 'public'",
                "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = 'public'",
                "constraints": "SELECT conrelid::regclass::text, conname,"
                " pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE connamespace = 'public'::regnamespace",
                "partitioned": "SELECT c.relname, pg_get_partkeydef(c.oid) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind = 'p'",
                "partitions": "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)"
                " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relispartition",
            }
            result = {}
            for name, sql in queries.items():
                cursor.execute(sql)
                result[name] = sorted(cursor.fetchall(), key=repr)
            return result
    finally:
        connection.close()


#: A month's partition of url_probes or hits: which months exist depends on the data.
MONTH = re.compile(r"(url_probes|hits)_\d{4}_\d{2}(_.+)?")


def without_legacy_table(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema less `wm_schema`, which only an upgraded store keeps, and less the monthly
    partitions, which start at the oldest row (an upgraded store's are older)."""
    if "columns" not in schema:  # SQLite: by table
        return {k: v for k, v in schema.items() if k != "table wm_schema"}
    return {
        kind: [row for row in rows if row[0] != "wm_schema" and not MONTH.fullmatch(row[0])]
        for kind, rows in schema.items()
    }


@pytest.fixture
def fresh_url(legacy: Legacy, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """Another empty store on the same backend."""
    if legacy.backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with fresh_database(str(request.getfixturevalue("pg_admin_url"))) as url:
        yield url


def test_the_upgraded_schema_is_the_one_a_new_store_gets(legacy: Legacy, fresh_url: str) -> None:
    open_store(legacy.url).close()
    open_store(fresh_url).close()
    upgraded, fresh = schema_of(legacy.url), schema_of(fresh_url)
    assert without_legacy_table(upgraded) == without_legacy_table(fresh)
    assert upgraded != without_legacy_table(upgraded), "the legacy wm_schema table is kept"


# --- after the upgrade: writes, catch-ups, reads -------------------------------------------


def rollup_rows(repository: Repository) -> tuple[dict[tuple[Any, ...], Any], ...]:
    """Both rollup tables by key; a sum of response times is only as exact as the order of
    its additions, so it stands apart."""
    summary = repository.query(
        "SELECT width, period_start, url, status, probes, errors, ok, timed, sum_ms, min_ms,"
        " max_ms FROM rollup_summary"
    )
    latency = repository.query(
        "SELECT width, period_start, url, status, bucket, count FROM rollup_latency"
    )
    key = ("width", "period_start", "url", "status")
    counts = ("probes", "errors", "ok", "timed", "min_ms", "max_ms")
    return (
        {tuple(r[k] for k in key): tuple(r[c] for c in counts) for r in summary},
        {tuple(r[k] for k in key): r["sum_ms"] for r in summary},
        {(*(r[k] for k in key), r["bucket"]): r["count"] for r in latency},
    )


ACCESS_LOG = '10.1.2.3 - - [{stamp}] "GET /api/new?i={i} HTTP/1.1" 200 512 "-" "curl/8"'


def test_the_upgraded_store_takes_new_writes_and_catches_up(legacy: Legacy, tmp_path: Path) -> None:
    old_stats = {
        e["url"]: e for e in json.loads(legacy.expected["commands"]["stats"]["stdout"])["stats"]
    }
    old_hits = sum(
        s["hits"] for s in json.loads(legacy.expected["commands"]["hits"]["stdout"])["hits"]
    )
    url = next(iter(old_stats))
    now = datetime.now(UTC).replace(microsecond=0)
    old_week = datetime(2026, 10, 6, 12, 0, tzinfo=UTC)  # a week folded long ago
    probes = [
        ProbeResult(url, now - timedelta(minutes=i), 200, 40.0 + i, dns_ms=1.5, ttfb_ms=30.0)
        for i in range(1, 11)
    ]
    probes.append(ProbeResult(url, now, None, None, error="timeout", error_detail="read timed out"))
    probes.append(ProbeResult(url, old_week, 503, 812.5))  # a late probe of a week over
    telemetry = TelemetryBucket(
        name="dock-upgraded",
        metric_type="station",
        bucket_start=now.replace(second=0) - timedelta(hours=1),
        bucket_seconds=60,
        emitted_at=now,
        arrivals=3,
        departures=2,
        samples=2,
        sum_value=30.0,
        sumsq_value=500.0,
        min_value=10.0,
        max_value=20.0,
    )
    letter = DeadLetter(
        "probes", 0, 900_001, b"\x00\xff after the upgrade", "value is not valid UTF-8"
    )
    with open_store(legacy.url) as repository:
        assert store_events(repository, [*probes, telemetry], [letter]) == len(probes) + 1
        rollups = features.named("probes").derived
        assert rollups is not None
        pending = legacy.expected["generated"]["probes"]["pending"]
        assert rollups.pending(repository) == pending + len(probes)
        assert rollups.catch_up(repository) > 0
        assert rollups.pending(repository) == 0
        summary, sums, latency = rollup_rows(repository)
        rollups.rebuild(repository)
        rebuilt_summary, rebuilt_sums, rebuilt_latency = rollup_rows(repository)
        assert (summary, latency) == (rebuilt_summary, rebuilt_latency), (
            "the upgraded store's rollups, caught up, differ from a rebuild"
        )
        assert sums == pytest.approx(rebuilt_sums, rel=1e-12)

    # Hits and an alert, as `wm tail` stores them.
    start = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    log = tmp_path / "access.log"
    lines = [
        ACCESS_LOG.format(
            stamp=(start + timedelta(seconds=i / 4)).strftime("%d/%b/%Y:%H:%M:%S +0000"), i=i
        )
        for i in range(240)
    ]
    log.write_text("\n".join(lines) + "\n")
    wm(
        legacy.url, "tail", "--from-start", "--exit-at-eof", "--publish", "--no-json",
        "--threshold", "2", "--alert-window", "20s", "--source", "web-upgraded", str(log),
    )  # fmt: skip

    status = wm_json(legacy.url, "db", "status")
    assert status["pending"] == 0
    assert status["rollups"]["pending_probes"] == 0
    exact = {e["url"]: e for e in wm_json(legacy.url, "stats", "--exact")["stats"]}
    from_rollups = {e["url"]: e for e in wm_json(legacy.url, "stats", "--rollups")["stats"]}
    assert exact[url]["probes"] == old_stats[url]["probes"] + len(probes)
    assert exact[url]["errors"] == old_stats[url]["errors"] + 1
    for other in set(old_stats) - {url}:
        assert exact[other] == old_stats[other]
    for key, entry in exact.items():
        rolled = from_rollups[key]
        for field in ("probes", "errors", "availability"):
            assert rolled[field] == entry[field]
        for field in ("p50_ms", "p95_ms", "p99_ms"):
            assert rolled[field] == pytest.approx(entry[field], rel=0.01)

    hits = wm_json(legacy.url, "stats", "--hits")["hits"]
    assert sum(s["hits"] for s in hits) == old_hits + len(lines)
    alerts = wm_json(legacy.url, "alerts", "--source", "web-upgraded")["alerts"]
    assert len(alerts) == 1 and alerts[0]["threshold"] == 2.0
    stations = wm_json(legacy.url, "stations", "--station", "dock-upgraded")["stations"]
    assert [(s["arrivals"], s["departures"], s["count"]) for s in stations] == [(3, 2, 2)]
    letters = parsed("dlq", wm(legacy.url, "dlq", "list"))
    assert len(letters) == legacy.expected["row_counts"]["dead_letters"] + 1
    assert letters[-1]["offset"] == 900_001
    assert letters[-1]["value_base64"] == "AP8gYWZ0ZXIgdGhlIHVwZ3JhZGU="
