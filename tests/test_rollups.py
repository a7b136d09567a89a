"""Rollups against the exact answer, on both backends, with generated data."""

from __future__ import annotations

import io
import itertools
import json
import math
import random
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tests.documents import as_plain
from tests.services import wait_until
from website_monitor.cli import main
from website_monitor.features import FEATURES
from website_monitor.probes import rollups, schema, stats
from website_monitor.probes.codec import ProbeResult
from website_monitor.probes.queries import count_probes
from website_monitor.probes.store import PROBE_COLUMNS, probe_row
from website_monitor.rollups import sketch
from website_monitor.store import Repository, migrate, open_store
from website_monitor.store.postgres import PostgresRepository
from website_monitor.transport.writer import store_events

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=timezone.utc)
URLS = ("https://a.example/", "https://b.example/slow", "https://c.example/")

probe_stats = as_plain(stats.probe_stats)


def generate(
    count: int, seed: int, start: datetime = T0, step_s: float = 41.7
) -> list[ProbeResult]:
    """Probes of three URLs with different latency shapes, some errors and 5xx."""
    rng = random.Random(seed)
    probes = []
    for i in range(count):
        url = URLS[i % len(URLS)]
        timestamp = start + timedelta(seconds=i * step_s + rng.random())
        if rng.random() < 0.03:
            probes.append(
                ProbeResult(url, timestamp, None, None, error="timeout", error_detail="timed out")
            )
            continue
        if url.endswith("slow"):
            value = rng.lognormvariate(math.log(800), 0.9)
        elif url.startswith("https://a"):
            value = rng.choice([rng.gauss(40, 4), rng.gauss(250, 30)])
        else:
            value = rng.expovariate(1 / 120)
        status = 503 if rng.random() < 0.05 else 200
        probes.append(
            ProbeResult(
                url,
                timestamp,
                status,
                round(max(value, 0.0), 3),
                ttfb_ms=round(max(value, 0.0) * 0.8, 3),
                dns_ms=round(rng.uniform(0.5, 3), 3) if i % 7 == 0 else None,
            )
        )
    return probes


def write_all(
    repository: Repository, probes: list[ProbeResult], batch: int = 700, *, roll_up: bool = False
) -> int:
    """Write in batches; with `roll_up`, the rollups catch up after every batch."""
    inserted = 0
    for i in range(0, len(probes), batch):
        inserted += store_events(repository, probes[i : i + batch])
        if roll_up:
            rollups.catch_up(repository)
    return inserted


def snapshot(repository: Repository, now: float | None = None) -> dict[str, list[tuple[Any, ...]]]:
    """Both rollup tables, once they have caught up with every stored probe (at `now`)."""
    rollups.catch_up(repository, now=now)
    summary = repository.query(
        "SELECT width, period_start, url, status, probes, errors, ok, timed, sum_ms,"
        " min_ms, max_ms FROM rollup_summary ORDER BY width, period_start, url, status"
    )
    latency = repository.query(
        "SELECT width, period_start, url, status, bucket, count FROM rollup_latency"
        " ORDER BY width, period_start, url, status, bucket"
    )
    return {
        # sums of floats depend on the order they were added in
        "summary": [
            tuple(round(v, 6) if isinstance(v, float) else v for v in row.values())
            for row in summary
        ],
        "latency": [tuple(row.values()) for row in latency],
    }


ROLLUPS = rollups.DERIVED


def day_probes(repository: Repository) -> int:
    """How many probes the day rollups count."""
    rows = repository.query("SELECT sum(probes) AS n FROM rollup_summary WHERE width = 86400")
    return int(rows[0]["n"])


@pytest.fixture
def store(store_url: str) -> Iterator[Repository]:
    with open_store(store_url) as repository:
        yield repository


def assert_close(exact: list[dict[str, Any]], approx: list[dict[str, Any]]) -> float:
    """Same entries, same counts; percentiles within 1 %. Returns the worst relative error."""
    assert [e["url"] for e in exact] == [a["url"] for a in approx]
    worst = 0.0
    for e, a in zip(exact, approx, strict=True):
        percentiles = ("p50_ms", "p95_ms", "p99_ms")
        assert {k: v for k, v in e.items() if k not in percentiles} == {
            k: v for k, v in a.items() if k not in percentiles
        }
        for name in percentiles:
            if e[name] is None:
                assert a[name] is None
                continue
            error = abs(a[name] - e[name]) / e[name] if e[name] else abs(a[name])
            worst = max(worst, error)
    assert worst <= 0.01, worst
    return worst


# --- the sketch ---------------------------------------------------------------------------


@given(st.floats(min_value=1e-4, max_value=1e8, allow_nan=False))
def test_bucket_representative_is_within_the_accuracy(value: float) -> None:
    represented = sketch.bucket_value(sketch.bucket_index(value))
    assert abs(represented - value) / value <= sketch.ACCURACY * (1 + 1e-9)


def test_zero_has_its_own_bucket() -> None:
    assert sketch.bucket_value(sketch.bucket_index(0.0)) == 0.0


@given(
    st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=1, max_size=300),
    st.sampled_from([0.0, 0.5, 0.95, 0.99, 1.0]),
)
def test_histogram_percentile_is_within_the_accuracy(values: list[float], fraction: float) -> None:
    from website_monitor.store._sql import percentile_cont

    counts: dict[int, int] = {}
    for value in values:
        counts[sketch.bucket_index(value)] = counts.get(sketch.bucket_index(value), 0) + 1
    estimate = sketch.percentile(sorted(counts.items()), fraction, min(values), max(values))
    exact = percentile_cont(values, fraction)
    assert exact is not None
    assert abs(estimate - exact) <= sketch.ACCURACY * exact * (1 + 1e-9)


WEEK = sketch.LEVELS["week"]


@given(
    st.one_of(st.none(), st.integers(0, 30 * 86_400)),
    st.one_of(st.none(), st.integers(0, 30 * 86_400)),
    st.one_of(st.none(), st.integers(0, 4).map(lambda n: n * WEEK)),
)
def test_plan_covers_the_range_once_with_whole_periods(
    lo: int | None, hi: int | None, weeks_to: int | None
) -> None:
    segments = sketch.plan(lo, hi, list(sketch.LEVELS.values()), coarsest_until=weeks_to)
    if lo is not None and hi is not None and lo >= hi:
        assert segments == []
        return
    assert segments[0][0] == lo and segments[-1][1] == hi
    for (_, end, _), (start, _, _) in itertools.pairwise(segments):
        assert end == start
    raw = 0.0
    for start, end, width in segments:
        if width == sketch.ALL:  # everything before the weeks that are over, at once
            assert start is None and end == weeks_to and lo is None
        elif width is not None:
            assert start is None or start % width == 0
            assert end is None or end % width == 0
        else:
            assert start is not None and end is not None
            raw += end - start
        if width == WEEK and weeks_to is not None:  # only the weeks that are over
            assert end is not None and end <= weeks_to
    assert raw < 2 * 86_400  # raw rows only for the partial days at the edges
    assert all(width is not None for _, _, width in segments[1:-1])


# --- against the exact answer, both backends ----------------------------------------------


@pytest.mark.parametrize("rolled_up", [0, 6000, 9000])
def test_rollups_agree_with_exact_percentiles(store: Repository, rolled_up: int) -> None:
    """Whatever part of the probes the rollups hold, the rest is read raw: same answers."""
    probes = generate(9000, seed=7)
    assert write_all(store, probes[:rolled_up]) == rolled_up
    rollups.catch_up(store)
    assert write_all(store, probes[rolled_up:]) == len(probes) - rolled_up
    assert rollups.pending(store) == len(probes) - rolled_up
    ranges = [
        (None, None),
        # unaligned edges: raw rows, hours and days are all needed
        (T0 + timedelta(hours=5, minutes=17, seconds=3), T0 + timedelta(days=3, minutes=41)),
        (T0 + timedelta(minutes=10), T0 + timedelta(minutes=50)),  # inside one hour
    ]
    for since, until in ranges:
        for by in (None, "status", "hour", "day"):
            query = stats.StatsQuery(since=since, until=until, by=by)
            exact = probe_stats(store, _with(query, source="exact"))
            approx = probe_stats(store, _with(query, source="rollups"))
            assert exact, (since, until, by)
            assert_close(exact, approx)
    filtered = stats.StatsQuery(urls=[URLS[1]], since=T0 + timedelta(hours=30))
    approx = probe_stats(store, _with(filtered, source="rollups"))
    assert [e["url"] for e in approx] == [URLS[1]]
    assert_close(probe_stats(store, _with(filtered, source="exact")), approx)


def _with(query: stats.StatsQuery, **changes: Any) -> stats.StatsQuery:
    import dataclasses

    return dataclasses.replace(query, **changes)


def test_time_series_shapes(store: Repository) -> None:
    probes = generate(600, seed=3, step_s=30.0)  # five hours
    write_all(store, probes)
    for source in ("exact", "rollups"):
        hourly = probe_stats(store, stats.StatsQuery(by="hour", source=source))
        assert len(hourly) == 3 * 5
        assert {e["period"] for e in hourly} == {
            (T0 + timedelta(hours=h)).isoformat() for h in range(5)
        }
        first = [e for e in hourly if e["url"] == URLS[0]]
        assert [e["period"] for e in first] == sorted(e["period"] for e in first)
        assert sum(e["probes"] for e in hourly) == len(probes)
        daily = probe_stats(store, stats.StatsQuery(by="day", source=source))
        assert [(e["url"], e["period"]) for e in daily] == [(u, T0.isoformat()) for u in URLS]
        assert set(daily[0]) == {
            "url",
            "period",
            "probes",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "errors",
            "availability",
        }


@pytest.mark.parametrize("rolled_up", [True, False])
def test_auto_reads_rollups_only_beyond_the_limit(store: Repository, rolled_up: bool) -> None:
    write_all(store, generate(900, seed=5), roll_up=rolled_up)
    small = stats.StatsQuery()
    assert stats.choose_source(store, small) == "exact"
    assert stats.choose_source(store, _with(small, exact_limit=500)) == "rollups"
    assert stats.estimate_probes(store, small) == 900
    later = T0 + timedelta(days=2)
    assert stats.estimate_probes(store, _with(small, since=later)) == 0


def test_phases_from_raw_rows_with_either_source(store: Repository) -> None:
    probes = generate(300, seed=11)
    write_all(store, probes)
    exact = probe_stats(store, stats.StatsQuery(phases=True, source="exact"))
    approx = probe_stats(store, stats.StatsQuery(phases=True, source="rollups"))
    assert [e["phases"] for e in exact] == [e["phases"] for e in approx]
    ttfb = sorted(p.ttfb_ms for p in probes if p.url == URLS[0] and p.ttfb_ms is not None)
    from website_monitor.store._sql import percentile_cont

    assert exact[0]["phases"]["ttfb"]["p50_ms"] == round(percentile_cont(ttfb, 0.5) or 0, 3)
    assert set(exact[0]["phases"]) == {"dns", "connect", "tls", "ttfb"}
    assert exact[0]["phases"]["connect"]["p99_ms"] is None


# --- idempotency and rebuild --------------------------------------------------------------


def test_redelivery_does_not_change_rollups(store: Repository) -> None:
    probes = generate(1500, seed=1)
    first, second = probes[:1000], probes[1000:]
    assert store_events(store, first) == 1000
    before = snapshot(store)
    assert store_events(store, first) == 0
    assert store_events(store, first[200:600]) == 0
    assert snapshot(store) == before
    # a batch half redelivered, half new: only the new half is counted
    assert store_events(store, first[500:] + second) == len(second)
    after = snapshot(store)
    rollups.rebuild(store)
    assert snapshot(store) == after
    assert day_probes(store) == len(probes)


def test_duplicates_within_one_batch_count_once(store: Repository) -> None:
    probes = generate(50, seed=2)
    assert store_events(store, probes + probes[:10]) == 50
    rollups.catch_up(store)
    assert day_probes(store) == 50


def test_rebuild_equals_incremental(store: Repository) -> None:
    write_all(store, generate(4000, seed=9), batch=333, roll_up=True)
    incremental = snapshot(store)
    assert incremental["latency"] and incremental["summary"]
    counts = rollups.rebuild(store)
    assert counts["url_probes"] == 4000
    assert counts["rollup_summary"] == len(incremental["summary"])
    assert snapshot(store) == incremental


def test_catch_up_in_chunks_is_idempotent(store: Repository) -> None:
    write_all(store, generate(2500, seed=12))
    assert rollups.pending(store) == 2500
    assert rollups.catch_up(store, chunk=300) == 2500
    assert rollups.pending(store) == 0
    assert rollups.catch_up(store) == 0
    chunked = snapshot(store)
    rollups.rebuild(store)
    assert snapshot(store) == chunked
    assert rollups.rolled_up_to(store) == int(
        store.query("SELECT max(id) AS n FROM url_probes")[0]["n"]
    )


def test_catch_up_waits_for_a_writer_still_in_flight(pg_url: str) -> None:
    """A writer holding lower ids than a committed row must not be skipped by a catch-up.

    PostgreSQL hands out ids before commit: the catch-up waits for the writer,
    then covers its rows too.
    """
    import threading

    slow, fast = generate(200, seed=13), generate(100, seed=14, start=T0 + timedelta(days=1))
    with open_store(pg_url) as writer, open_store(pg_url) as other, open_store(pg_url) as reader:
        assert isinstance(writer, PostgresRepository)
        with writer.transaction() as cursor:  # holds ids 1..200 uncommitted
            cursor.execute("SAVEPOINT s")
            writer_ids = _copy_in(cursor, slow)
            assert store_events(other, fast) == 100  # ids above them, committed first
            covered: list[int] = []
            catching_up = threading.Thread(target=lambda: covered.append(rollups.catch_up(reader)))
            catching_up.start()
            catching_up.join(1.0)
            assert catching_up.is_alive(), "the catch-up must wait for the writer"
        catching_up.join(30)
        assert writer_ids == 200
        assert rollups.pending(reader) == 0
        assert day_probes(reader) == 300


def test_catch_up_to_a_frontier_read_earlier_does_not_wait_for_later_writers(
    pg_url: str,
) -> None:
    """What the flush does: the writer reads the frontier right after its commit; the catch-up
    then covers that batch while the next write is still in flight, without waiting for it."""
    first, second = generate(200, seed=24), generate(100, seed=25, start=T0 + timedelta(days=1))
    with open_store(pg_url) as writer, open_store(pg_url) as reader:
        assert isinstance(writer, PostgresRepository)
        assert store_events(writer, first) == 200
        stored = rollups.frontier(writer)
        with writer.transaction() as cursor:  # the next batch, in flight
            _copy_in(cursor, second)
            started = time.monotonic()
            assert rollups.catch_up(reader, upto=stored) == stored.max_id
            assert time.monotonic() - started < 5
            assert rollups.rolled_up_to(reader) == stored.max_id
        assert rollups.pending(reader) == 100
        rollups.catch_up(reader)
        assert day_probes(reader) == 300


def test_a_writer_is_running_before_it_takes_a_probe_id(pg_url: str) -> None:
    """PostgreSQL gives a transaction an id only when it first writes, and a COPY takes probe
    ids before it writes a row: the store's write takes a transaction id first, so a frontier
    read while it waits to write lists it (and a catch-up waits for it)."""
    import threading

    with (
        open_store(pg_url) as locker,
        open_store(pg_url) as writer,
        open_store(pg_url) as reader,
    ):
        with locker.transaction() as cursor:
            cursor.execute("LOCK TABLE url_probes IN SHARE MODE")  # the COPY waits for it
            writing = threading.Thread(target=store_events, args=(writer, generate(50, seed=26)))
            writing.start()

            def waiting_xid() -> str | None:
                rows = reader.query(
                    "SELECT backend_xid::text AS x FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND query LIKE 'COPY url_probes%%'"
                )
                return rows[0]["x"] if rows else None

            assert wait_until(lambda: waiting_xid() is not None, 20, 0.05)
            assert waiting_xid() in rollups.frontier(reader).running
        writing.join(30)
        assert rollups.catch_up(reader) == 50


def test_catch_up_waits_for_a_writer_newer_than_every_finished_transaction(
    pg_url: str,
) -> None:
    """A writer whose transaction id is newer than that of the last to commit, holding lower
    probe ids than it: a snapshot does not list it as running; the catch-up still waits."""
    with (
        open_store(pg_url) as first,
        open_store(pg_url) as second,
        open_store(pg_url) as reader,
    ):
        with first.transaction() as one:
            one.execute("SELECT pg_current_xact_id()")
            with second.transaction() as two:
                two.execute("SELECT pg_current_xact_id()")  # newer than `one`
                _copy_in(two, generate(100, seed=34))  # ids 1-100, still in flight
                _copy_in(one, generate(50, seed=35, start=T0 + timedelta(days=1)))  # 101-150
                one.cursor.connection.commit()  # type: ignore[attr-defined]
                stored = rollups.frontier(reader)
                assert stored.max_id == 150
                covered: list[int] = []
                catching_up = threading.Thread(
                    target=lambda: covered.append(rollups.catch_up(reader, upto=stored))
                )
                catching_up.start()
                catching_up.join(1.0)
                assert catching_up.is_alive(), "the catch-up must wait for the second writer"
        catching_up.join(30)
        assert covered == [150]
        assert day_probes(reader) == 150


def _copy_in(tx: Any, probes: list[ProbeResult]) -> int:
    from website_monitor.probes.store import PROBE_COLUMNS, copy_rows

    columns = ", ".join(PROBE_COLUMNS)
    tx.cursor.copy_expert(f"COPY url_probes ({columns}) FROM STDIN", io.StringIO(copy_rows(probes)))
    return len(probes)


def test_rebuild_covers_rows_written_without_rollups(store: Repository) -> None:
    write_all(store, generate(600, seed=4))
    expected = snapshot(store)
    store.execute("DELETE FROM rollup_latency")
    store.execute("DELETE FROM rollup_summary")
    assert snapshot(store) != expected
    rollups.rebuild(store)
    assert snapshot(store) == expected


# --- the command line ---------------------------------------------------------------------


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_small_store_prints_exact_percentiles(store_url: str) -> None:
    with open_store(store_url) as repository:
        store_events(
            repository,
            [
                ProbeResult("https://example.org", T0 + timedelta(seconds=i), 200, ms)
                for i, ms in enumerate((1000.0, 2000.0, 3000.0))
            ],
        )
    for extra in ((), ("--exact",)):
        entry = json.loads(run("stats", "-d", store_url, *extra))["stats"][0]
        assert (entry["p50_ms"], entry["p95_ms"], entry["p99_ms"]) == (2000.0, 2900.0, 2980.0)
        assert entry["probes"] == 3 and entry["availability"] == 1.0
    approx = json.loads(run("stats", "-d", store_url, "--rollups"))["stats"][0]
    assert abs(approx["p95_ms"] - 2900.0) / 2900.0 <= 0.01
    hourly = json.loads(run("stats", "-d", store_url, "--by", "hour", "--phases"))["stats"]
    assert hourly[0]["period"] == T0.isoformat()
    assert "ttfb" in hourly[0]["phases"]
    rebuilt = json.loads(run("db", "rebuild-rollups", "-d", store_url))
    assert rebuilt["url_probes"] == 3
    assert rebuilt["rollup_summary"] == len(sketch.LEVELS) + 1  # each level, and all before
    status = json.loads(run("db", "status", "-d", store_url))
    assert status["version"] >= 5
    assert status["rollups"] == {"rolled_up_to": 3, "pending_probes": 0}


def test_flush_redelivered_through_kafka_counts_once(
    kafka_bootstrap: str, topic: str, pg_url: str
) -> None:
    """A second consumer group re-reads every message: rows and rollups stay as they were."""
    from website_monitor import config
    from website_monitor.transport.kafka import KafkaPublisher

    probes = generate(300, seed=21)
    settings = config.resolve({"bootstrap_servers": kafka_bootstrap}, env={})
    publisher = KafkaPublisher(settings, topic)
    try:
        publisher.publish(probes)
    finally:
        publisher.close()
    flush = (
        "flush", "--drain", "-b", kafka_bootstrap, "-t", topic, "-d", pg_url,
        "--session-timeout-ms", "6000", "--idle-timeout", "3s",
    )  # fmt: skip
    run(*flush, "-c", f"first-{topic}")
    with open_store(pg_url) as repository:
        assert rollups.pending(repository) == 0  # --drain caught the rollups up before exiting
        first = snapshot(repository)
        assert count_probes(repository) == len(probes)
    run(*flush, "-c", f"second-{topic}")
    with open_store(pg_url) as repository:
        assert count_probes(repository) == len(probes)
        assert snapshot(repository) == first
        exact = probe_stats(repository, stats.StatsQuery(source="exact"))
        assert_close(exact, probe_stats(repository, stats.StatsQuery(source="rollups")))


def at_probes_migration(repository: Repository, last: str) -> None:
    """Migrate as a store of an older release was: the probes' migrations up to `last` only."""
    plan = [
        (f.name, [m for m in f.migrations if f.name != "probes" or m.name <= last])
        for f in FEATURES
    ]
    with repository.transaction() as tx:
        migrate.apply(tx, plan)


#: The url_probes columns of the numbered-schema release, which older stores have.
RELEASED_COLUMNS = PROBE_COLUMNS[: PROBE_COLUMNS.index("ttfb_ms") + 1]


def write_as_released(repository: Repository, probes: list[ProbeResult]) -> None:
    """Store the probes as the numbered-schema release's writer did, in its columns."""
    with repository.transaction() as tx:
        rows = [probe_row(p)[: len(RELEASED_COLUMNS)] for p in probes]
        tx.insert("url_probes", RELEASED_COLUMNS, rows)


def fill_every_level(repository: Repository) -> None:
    """The rollups of every stored probe and every week, as migration 0002 fills them."""
    repository.execute("DELETE FROM rollup_summary")
    repository.execute("DELETE FROM rollup_latency")
    for statement in schema.ROLLUPS.statements(repository.backend)[-2:]:
        repository.execute(statement)


def test_upgrade_from_rollups_kept_on_every_write(store_url: str, tmp_path: Path) -> None:
    """Schema 4 kept hour rows and updated every level on each write: migration 0003 drops
    the hour level and marks every stored probe as rolled up."""
    probes = generate(500, seed=15)
    with open_store(f"sqlite:///{tmp_path / 'fresh.db'}") as fresh:
        write_all(fresh, probes, roll_up=True)
        expected = snapshot(fresh)
    with open_store(store_url, migrate=False) as repository:
        at_probes_migration(repository, "0002_rollups")
        write_as_released(repository, probes)
        fill_every_level(repository)
        if repository.backend == "postgresql":
            repository.execute(
                "CREATE TABLE rollup_latency_hour PARTITION OF rollup_latency FOR VALUES IN (3600)"
            )
        repository.execute(
            "INSERT INTO rollup_latency (width, period_start, url, status, bucket, count)"
            " VALUES (3600, 0, 'https://a.example/', 200, 1, 1)"
        )
    with open_store(store_url) as repository:  # migrates
        assert repository.schema_status().pending == 0
        assert rollups.pending(repository) == 0
        assert snapshot(repository) == expected


def test_upgrade_to_weeks_folded_once_over(store_url: str) -> None:
    """Schema 5 updated the week rows on every catch-up: migration 0004 keeps those of the
    weeks that are over and deletes the current week's, whose days answer instead."""
    now = time.time()
    this_week = datetime.fromtimestamp(sketch.week_start(now), timezone.utc)
    with open_store(store_url, migrate=False) as repository:
        at_probes_migration(repository, "0003_rollup_state")
        # last week's last two days and this week's first
        write_as_released(
            repository, generate(450, seed=19, start=this_week - timedelta(days=2), step_s=576)
        )
        fill_every_level(repository)  # every week, as schema 5 kept them
        repository.execute("UPDATE rollup_state SET rolled_up_to = 450")
        weeks = _weeks(repository)
        assert len(weeks) == 2
    with open_store(store_url) as repository:  # migrates
        assert repository.schema_status().pending == 0
        [state] = repository.query(f"SELECT weeks_to AS w FROM {rollups.STATE_TABLE}")
        assert _weeks(repository) == [w for w in weeks if w < state["w"]]
        assert _weeks(repository) != weeks  # the database's clock is in the second week
        migrated = snapshot(repository, state["w"])
        rollups.rebuild(repository, now=state["w"])
        assert snapshot(repository, state["w"]) == migrated
        exact = probe_stats(repository, stats.StatsQuery(source="exact"))
        assert_close(exact, probe_stats(repository, stats.StatsQuery(source="rollups")))


def _weeks(repository: Repository) -> list[int]:
    rows = repository.query(
        f"SELECT DISTINCT period_start AS p FROM rollup_latency WHERE width = {WEEK} ORDER BY p"
    )
    return [int(row["p"]) for row in rows]


def test_weeks_are_folded_from_their_days_once_over(store: Repository) -> None:
    """Catch-ups add to the day rows; a week's rows appear when it is over, from its days;
    a late probe of a week that is over goes to its week directly. Stats agree throughout."""
    first_week = sketch.week_start(T0.timestamp())
    store.execute(f"UPDATE {rollups.STATE_TABLE} SET weeks_to = {first_week}")  # it is T0's week
    start = datetime.fromtimestamp(first_week, timezone.utc) + timedelta(days=2)
    probes = generate(3000, seed=22, start=start, step_s=600)  # three weeks and a bit
    end = probes[-1].timestamp

    def agree(*ranges: tuple[datetime | None, datetime | None]) -> None:
        for since, until in ranges:
            for by in (None, "status", "day"):
                query = stats.StatsQuery(since=since, until=until, by=by)
                exact = probe_stats(store, _with(query, source="exact"))
                assert exact, (since, until, by)
                assert_close(exact, probe_stats(store, _with(query, source="rollups")))

    write_all(store, probes[:600])
    assert rollups.catch_up(store, now=probes[599].timestamp.timestamp()) > 0
    assert _weeks(store) == []  # the first week is not over
    agree((None, None), (start + timedelta(hours=7, minutes=3), None))

    write_all(store, probes[600:])
    now = end.timestamp()
    rollups.catch_up(store, now=now)
    assert _weeks(store) == [first_week, first_week + WEEK, first_week + 2 * WEEK]
    assert rollups.rolled_up_to(store) == int(
        store.query("SELECT max(id) AS n FROM url_probes")[0]["n"]
    )
    crossing = (end - timedelta(days=9, hours=5), end - timedelta(hours=30))
    agree((None, None), (start + timedelta(days=1, hours=7), None), crossing)
    folded = snapshot(store, now)
    rollups.rebuild(store, now=now)
    assert snapshot(store, now) == folded

    late = generate(90, seed=23, start=start + timedelta(days=1, hours=3), step_s=300)
    assert store_events(store, late) == 90
    assert rollups.catch_up(store, now=now) > 0
    agree((None, None), crossing)
    with_late = snapshot(store, now)
    rollups.rebuild(store, now=now)
    assert snapshot(store, now) == with_late

    assert rollups.catch_up(store, now=now + WEEK) == 0  # nothing pending; the fourth week is over
    assert _weeks(store) == [first_week + n * WEEK for n in range(4)]
    agree((None, None), crossing)


def test_catch_up_in_small_steps_across_a_fold(store: Repository) -> None:
    """Steps of a few ids, the clock past several weeks: the same rows as a rebuild."""
    first_week = sketch.week_start(T0.timestamp())
    store.execute(f"UPDATE {rollups.STATE_TABLE} SET weeks_to = {first_week}")
    start = datetime.fromtimestamp(first_week, timezone.utc) + timedelta(days=5)
    write_all(store, generate(1200, seed=27, start=start, step_s=1500))  # about three weeks
    now = first_week + 4 * WEEK
    assert rollups.catch_up(store, chunk=97, now=now) == 1200
    assert _weeks(store) == [first_week + n * WEEK for n in range(4)]
    stepped = snapshot(store, now)
    rollups.rebuild(store, now=now)
    assert snapshot(store, now) == stepped


def test_weeks_to_never_goes_back(store: Repository) -> None:
    """A catch-up by a clock that is behind folds nothing and leaves the mark where it is."""
    first_week = sketch.week_start(T0.timestamp())
    store.execute(f"UPDATE {rollups.STATE_TABLE} SET weeks_to = {first_week}")
    write_all(store, generate(300, seed=28, start=datetime.fromtimestamp(first_week, timezone.utc)))
    rollups.catch_up(store, now=first_week + 2 * WEEK)
    weeks = _weeks(store)
    write_all(store, generate(30, seed=29, start=T0 + timedelta(hours=1)))
    rollups.catch_up(store, now=first_week)  # behind
    [state] = store.query(f"SELECT weeks_to AS w FROM {rollups.STATE_TABLE}")
    assert state["w"] == first_week + 2 * WEEK
    assert _weeks(store) == weeks
    folded = snapshot(store, first_week + 2 * WEEK)
    rollups.rebuild(store, now=first_week + 2 * WEEK)
    assert snapshot(store, first_week + 2 * WEEK) == folded


def test_future_probes_stay_in_days_until_their_week_is_over(store: Repository) -> None:
    """A probe from a clock far ahead: its day holds it, reads take it, no week row yet."""
    ahead = datetime.now(timezone.utc) + timedelta(days=40)
    probes = generate(60, seed=30, start=ahead)
    write_all(store, probes)
    rollups.catch_up(store)
    [state] = store.query(f"SELECT weeks_to AS w FROM {rollups.STATE_TABLE}")
    assert all(w < state["w"] for w in _weeks(store))
    assert day_probes(store) == 60
    exact = probe_stats(store, stats.StatsQuery(source="exact"))
    assert_close(exact, probe_stats(store, stats.StatsQuery(source="rollups")))


def test_catch_up_without_its_state_says_what_to_do(store: Repository) -> None:
    from website_monitor.errors import StoreError

    write_all(store, generate(10, seed=31))
    store.execute(f"DELETE FROM {rollups.STATE_TABLE}")
    with pytest.raises(StoreError, match="lost their state") as caught:
        rollups.catch_up(store)
    assert caught.value.hint == "run `wm db rebuild-rollups`"


def test_the_flush_writer_hands_the_roller_its_frontier(
    store: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After each stored batch the roller learns where the probes end; if that cannot be read,
    the batch still counts as stored and the roller reads the frontier itself."""
    from website_monitor.errors import StoreError
    from website_monitor.transport.roller import Roller
    from website_monitor.transport.sink import Batch, Sink

    sink = Sink(consumer=None, repository=store)  # type: ignore[arg-type]
    sink.rollers = {"probes": (roller := Roller(store, ROLLUPS, "probes", batch=10**9))}
    try:
        probes = generate(40, seed=32)
        assert sink._write(Batch(events=list(probes), origins=[None] * 40), threading.Event()) == 40
        assert roller._frontier == rollups.frontier(store)
        assert roller._frontier is not None and roller._frontier.max_id > 0

        def unreadable(repository: Any) -> rollups.Frontier:
            raise StoreError("the store went away")

        monkeypatch.setattr(ROLLUPS, "frontier", unreadable)
        more = generate(10, seed=33, start=T0 + timedelta(days=1))
        assert sink._write(Batch(events=list(more), origins=[None] * 10), threading.Event()) == 10
        assert roller._frontier is None
    finally:
        monkeypatch.undo()
        roller.close(catch_up=True)
    assert rollups.pending(store) == 0


@pytest.mark.parametrize("catch_up", [True, False])
def test_roller_closes_with_or_without_a_final_catch_up(store: Repository, catch_up: bool) -> None:
    """The flush's roller: below its batch it waits; closing catches up only when asked."""
    from website_monitor.transport.roller import Roller

    roller = Roller(store, ROLLUPS, batch=1000)
    assert write_all(store, generate(300, seed=16)) == 300
    roller.stored(300)
    time.sleep(0.2)
    assert rollups.pending(store) == 300  # fewer than `batch`, not idle: nothing yet
    roller.close(catch_up=catch_up)
    assert rollups.pending(store) == (0 if catch_up else 300)


def test_roller_catches_up_when_idle_and_at_its_batch(store: Repository) -> None:
    from website_monitor.transport.roller import Roller

    roller = Roller(store, ROLLUPS, batch=500)
    try:
        write_all(store, generate(600, seed=17))
        roller.stored(600)
        assert wait_until(lambda: rollups.pending(store) == 0, 20, 0.05)
        write_all(store, generate(100, seed=18, start=T0 + timedelta(days=2)))
        roller.stored(100)
        roller.idle()
        assert wait_until(lambda: rollups.pending(store) == 0, 20, 0.05)
    finally:
        roller.close(catch_up=False)
