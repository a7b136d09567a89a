"""End to end: HTTP server → wm probe → Kafka → wm flush → store → wm stats."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

from click.testing import CliRunner
from kafka import KafkaConsumer, KafkaProducer

from tests.services import HTTPTestServer, flush_args
from website_monitor.cli import main
from website_monitor.codec import encode
from website_monitor.deadletters.store import dead_letters
from website_monitor.probes.codec import ProbeResult
from website_monitor.probes.queries import count_probes
from website_monitor.store import open_store
from website_monitor.transport.sink import split_batch
from website_monitor.transport.writer import store_events


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


def flush(bootstrap: str, topic: str, db: str, group: str | None = None) -> str:
    return run(*flush_args(bootstrap, topic, db, group or f"group-{topic}"), "--drain")


def produce(bootstrap: str, topic: str, values: list[bytes], key: bytes = b"k") -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for value in values:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def test_probe_through_kafka_into_postgres(
    http_server: HTTPTestServer, kafka_bootstrap: str, topic: str, pg_url: str
) -> None:
    slow = f"{http_server.url}/delay/150"
    missing = f"{http_server.url}/status/404"
    for _ in range(3):
        run("probe", slow, missing, "-b", kafka_bootstrap, "-t", topic, "-q")
    flush(kafka_bootstrap, topic, pg_url)
    stats = json.loads(run("stats", "-d", pg_url))["stats"]
    assert [entry["url"] for entry in stats] == sorted([slow, missing])
    by_url = {entry["url"]: entry for entry in stats}
    assert by_url[slow]["probes"] == 3
    assert 150 <= by_url[slow]["p50_ms"] < 400
    assert by_url[missing]["probes"] == 3
    assert by_url[missing]["availability"] == 0.0
    assert by_url[slow]["availability"] == 1.0
    # flushing again finds nothing new
    flush(kafka_bootstrap, topic, pg_url)
    assert json.loads(run("stats", "-d", pg_url))["stats"] == stats


def test_exact_percentiles_through_the_pipeline(
    kafka_bootstrap: str, topic: str, pg_url: str
) -> None:
    start = datetime(2026, 11, 23, 10, tzinfo=timezone.utc)
    events = [
        ProbeResult(
            url="https://example.org",
            timestamp=start + timedelta(seconds=i),
            http_status_code=200,
            response_time_ms=ms,
        )
        for i, ms in enumerate([1000.0, 2000.0, 3000.0])
    ]
    produce(kafka_bootstrap, topic, [encode(e) for e in events])
    flush(kafka_bootstrap, topic, pg_url)
    assert json.loads(run("stats", "-d", pg_url)) == {
        "stats": [
            {
                "url": "https://example.org",
                "probes": 3,
                "p50_ms": 2000.0,
                "p95_ms": 2900.0,
                "p99_ms": 2980.0,
                "errors": 0,
                "availability": 1.0,
            }
        ]
    }


def test_embedded_default_needs_nothing_running(http_server: HTTPTestServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`wm probe -u URL && wm stats` with no broker and no -d: SQLite in the data directory."""
    for _ in range(2):
        run("probe", "-u", f"{http_server.url}/delay/30", "-q")
    stats = json.loads(run("stats"))["stats"]
    assert stats[0]["probes"] == 2 and 30 <= stats[0]["p50_ms"] < 300
    assert (tmp_path / "data" / "wm.db").exists()


def test_empty_store_prints_empty_list() -> None:
    assert json.loads(run("stats")) == {"stats": []}


def test_redelivery_after_a_crash_before_offset_commit(
    kafka_bootstrap: str, topic: str, pg_url: str
) -> None:
    start = datetime(2026, 11, 23, 10, tzinfo=timezone.utc)
    events = [
        ProbeResult(
            url=f"https://site-{i % 4}",
            timestamp=start + timedelta(seconds=i),
            http_status_code=200,
            response_time_ms=float(i),
        )
        for i in range(200)
    ]
    produce(kafka_bootstrap, topic, [encode(e) for e in events])
    group = f"crash-{topic}"
    # A consumer that stores a batch and "crashes" before committing its offsets.
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    records: list = []  # type: ignore[type-arg]
    deadline = time.monotonic() + 30
    while len(records) < 120 and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500).values():
            records.extend(batch)
    assert len(records) >= 120
    batch = split_batch(records)
    with open_store(pg_url) as repository:
        assert store_events(repository, batch.events, batch.dead) == len(records)
    consumer.close(autocommit=False)
    # The restarted flush gets those messages again and must not duplicate them.
    flush(kafka_bootstrap, topic, pg_url, group=group)
    with open_store(pg_url) as repository:
        assert count_probes(repository) == 200
        [row] = repository.query("SELECT count(DISTINCT event_id) AS n FROM url_probes")
        assert row["n"] == 200


def test_bad_messages_are_dead_lettered_and_flush_goes_on(
    kafka_bootstrap: str, topic: str, pg_url: str
) -> None:
    good = ProbeResult(
        url="https://ok",
        timestamp=datetime.now(timezone.utc),
        http_status_code=200,
        response_time_ms=5.0,
    )
    legacy = json.dumps(
        {
            "url": "https://legacy",
            "timestamp": "2026-11-23 10:00:00.123456",
            "http_status_code": 200,
            "response_time_ms": 592,
        }
    ).encode()
    bad = [b"not json", b"\xff\xfe\x00", b'{"url": 5}', b"[]", b'{"kind": "probe", "v": 9}']
    produce(kafka_bootstrap, topic, [bad[0], encode(good), *bad[1:], legacy])
    flush(kafka_bootstrap, topic, pg_url)
    with open_store(pg_url) as repository:
        urls = sorted(r["url"] for r in repository.query("SELECT url FROM url_probes"))
        letters = dead_letters(repository)
    assert urls == ["https://legacy", "https://ok"]
    assert sorted(d.value for d in letters) == sorted(bad)
    reasons = {d.value: d.reason for d in letters}
    assert reasons[b"\xff\xfe\x00"] == "value is not valid UTF-8"
    assert reasons[b'{"kind": "probe", "v": 9}'] == "unsupported schema version 9"
    assert all(d.topic == topic and d.offset >= 0 for d in letters)
    # Redelivering the legacy message (same position) keeps one row: its id is derived from it.
    flush(kafka_bootstrap, topic, pg_url, group=f"second-{topic}")
    with open_store(pg_url) as repository:
        assert count_probes(repository) == 2
        assert len(dead_letters(repository)) == len(bad)


def test_messages_that_would_stall_a_partition_are_dead_lettered(
    kafka_bootstrap: str, topic: str, pg_url: str
) -> None:
    """An overflowing timestamp, a lone surrogate, a row the store refuses: the rest goes on."""
    import psycopg2

    with open_store(pg_url):
        pass
    conn = psycopg2.connect(pg_url)
    with conn, conn.cursor() as cur:
        cur.execute(
            "ALTER TABLE url_probes ADD CONSTRAINT no_refusals CHECK (url NOT LIKE '%refuse-me%')"
        )
    conn.close()
    now = datetime(2026, 11, 23, 10, tzinfo=timezone.utc)
    good = [
        ProbeResult(
            url=f"https://ok/{i}", timestamp=now, http_status_code=200, response_time_ms=1.0
        )
        for i in range(3)
    ]
    refused = ProbeResult(
        url="https://refuse-me/", timestamp=now, http_status_code=200, response_time_ms=1.0
    )
    base = json.loads(encode(good[0]))
    overflow = json.dumps(
        {**base, "event_id": None, "timestamp": "0001-01-01T00:00:00+05:00"}
    ).encode()
    surrogate = encode(good[0]).replace(b"https://ok/0", b"https://ok/\\ud800")
    produce(
        kafka_bootstrap,
        topic,
        [encode(good[0]), overflow, encode(refused), surrogate, encode(good[1]), encode(good[2])],
    )
    flush(kafka_bootstrap, topic, pg_url)
    with open_store(pg_url) as repository:
        urls = sorted(r["url"] for r in repository.query("SELECT url FROM url_probes"))
        reasons = {bytes(d.value or b""): d.reason for d in dead_letters(repository)}
    assert urls == ["https://ok/0", "https://ok/1", "https://ok/2"]
    assert reasons[overflow].startswith("field 'timestamp' is not an ISO 8601 time")
    assert reasons[surrogate] == "value contains an unpaired UTF-16 surrogate escape"
    assert reasons[encode(refused)].startswith(
        "rejected by the store: PostgreSQL refused the data: "
    )
    assert "no_refusals" in reasons[encode(refused)]


def test_sink_commits_offsets_in_order_and_only_after_the_store_committed() -> None:
    """The write of batch N overlaps the poll of N+1; offsets follow the database."""
    import threading
    from collections import namedtuple

    from website_monitor.store import Repository
    from website_monitor.store.dialect import SQLITE
    from website_monitor.transport._consumer import Partition
    from website_monitor.transport.sink import Sink

    record = namedtuple("record", "topic partition offset key value")
    partition = Partition("t", 0)
    start = datetime(2026, 11, 23, 10, tzinfo=timezone.utc)
    values = [
        encode(ProbeResult("https://a", start + timedelta(seconds=i), 200, 1.0)) for i in range(30)
    ]
    log: list[tuple[str, int]] = []
    stored: set[str] = set()
    polling_thread = threading.get_ident()

    class Consumer:
        offset = 0

        def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict:  # type: ignore[type-arg]
            assert threading.get_ident() == polling_thread
            if self.offset >= len(values):
                return {}
            batch = [
                record("t", 0, o, b"k", values[o])
                for o in range(self.offset, min(self.offset + (max_records or 1), len(values)))
            ]
            self.offset += len(batch)
            log.append(("poll", batch[-1].offset + 1))
            return {partition: batch}

        def commit(self, offsets: dict) -> None:  # type: ignore[type-arg]
            assert threading.get_ident() == polling_thread
            log.append(("commit", offsets[partition]))  # the next offset to read

        def assignment(self) -> set:  # type: ignore[type-arg]
            return {partition}

    class Transaction:
        def insert(self, table: str, columns: list[str], rows: list[tuple], **kw: object) -> int:  # type: ignore[type-arg]
            assert threading.get_ident() != polling_thread
            time.sleep(0.05)
            new = {row[0] for row in rows} - stored  # event_id comes first
            stored.update(new)
            log.append(("stored", len(stored)))
            return len(new)

    class Store(Repository):
        dialect = SQLITE

        @contextlib.contextmanager
        def transaction(self) -> Iterator[Transaction]:  # type: ignore[override]
            yield Transaction()

        query = executemany = close = snapshot = reopen = table_sizes = None  # type: ignore[assignment]

    sink = Sink(Consumer(), Store(), batch_size=7, on_progress=lambda s: None, rollups=False)  # type: ignore[arg-type]
    stats = sink.run(threading.Event(), drain=True, idle_timeout=0.5)
    assert stats.consumed == stats.stored == 30
    commits = [offset for what, offset in log if what == "commit"]
    # The first poll asks for what 7 events fill if a message held as many as one may
    # (one message), the next ones for 7.
    assert commits == [1, 8, 15, 22, 29, 30]
    for i, (what, offset) in enumerate(log):
        if what == "commit":  # the rows up to this offset were stored before
            assert ("stored", offset) in log[:i]
    # Batch N+1 was polled before batch N's offsets were committed: the two overlapped.
    assert log.index(("poll", 8)) < log.index(("commit", 1))
    assert log.index(("poll", 15)) < log.index(("commit", 8))


def test_a_flood_of_bad_messages_is_stored_whole_and_logged_in_a_few_lines(
    kafka_bootstrap: str, topic: str, pg_url: str
) -> None:
    """Every poison message is dead-lettered, but the log shows a few and counts the rest:
    a flood of them must not become a flood of log lines."""
    from website_monitor.transport.sink import DEAD_LETTERS_LOGGED

    good = ProbeResult(
        url="https://ok", timestamp=datetime.now(timezone.utc), http_status_code=200,
        response_time_ms=5.0,
    )  # fmt: skip
    poison = [b"not json %d" % i for i in range(500)]
    produce(kafka_bootstrap, topic, [*poison, encode(good)])
    result = CliRunner().invoke(
        main, [*flush_args(kafka_bootstrap, topic, pg_url, f"g-{topic}"), "--drain"]
    )
    assert result.exit_code == 0, result.output
    shown = [line for line in result.stderr.splitlines() if "dead-lettered message" in line]
    assert 1 <= len(shown) <= DEAD_LETTERS_LOGGED, result.stderr
    assert "500 dead-lettered" in result.stderr  # the progress line counts every one
    with open_store(pg_url) as repository:
        assert sorted(d.value for d in dead_letters(repository, limit=1000)) == sorted(poison)
        assert count_probes(repository) == 1
