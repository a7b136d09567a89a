"""Delivery guarantees under crashes, outages and bad input, against the real broker and store."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.services import Broker, HTTPTestServer, TCPProxy, flush_args, wait_until
from website_monitor.cli import main
from website_monitor.codec import encode
from website_monitor.deadletters.store import DeadLetter, dead_letters
from website_monitor.probes.codec import ProbeResult
from website_monitor.store import open_store
from website_monitor.transport.sink import DEAD_LETTERS_LOGGED
from website_monitor.transport.writer import store_events

START = datetime(2026, 11, 23, 10, tzinfo=timezone.utc)


def events(n: int, prefix: str = "https://site") -> list[ProbeResult]:
    return [
        ProbeResult(
            url=f"{prefix}-{i % 7}/",
            timestamp=START + timedelta(milliseconds=i),
            http_status_code=200,
            response_time_ms=float(i % 1000),
        )
        for i in range(n)
    ]


def produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    for i, value in enumerate(values):
        producer.send(topic, key=str(i % 11).encode(), value=value)
    producer.flush()
    producer.close()


def count(db: str, sql: str = "SELECT count(*) AS n FROM url_probes") -> int:
    with open_store(db) as repository:
        return int(repository.query(sql)[0]["n"])


def committed(bootstrap: str, topic: str, group: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        return sum(consumer.committed(TopicPartition(topic, p)) or 0 for p in partitions)
    finally:
        consumer.close()


def start_flush(
    bootstrap: str, topic: str, db: str, group: str, log: Path, *extra: str
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "website_monitor", *flush_args(bootstrap, topic, db, group), *extra],
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        env=dict(os.environ),
    )


def drain(bootstrap: str, topic: str, db: str, group: str, log: Path) -> None:
    process = start_flush(bootstrap, topic, db, group, log, "--drain")
    assert process.wait(120) == 0, log.read_text()[-3000:]


@pytest.fixture
def group() -> str:
    return f"wm-test-{uuid.uuid4().hex[:8]}"


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_duplicates_nothing(
    kafka_bootstrap: str, topic: str, pg_url: str, group: str, tmp_path: Path
) -> None:
    n = 20_000
    produce(kafka_bootstrap, topic, [encode(e) for e in events(n)])
    log = tmp_path / "flush.log"
    rng = random.Random(1234)
    kills_mid_stream = 0
    for _ in range(10):
        before = count(pg_url)
        # Small batches: the flush must still be mid-stream at each of the ten kills.
        process = start_flush(kafka_bootstrap, topic, pg_url, group, log, "--batch-size", "10")
        wait_until(lambda: count(pg_url) > before, timeout=60, step=0.05)
        time.sleep(rng.uniform(0, 0.3))
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills_mid_stream += count(pg_url) < n
    assert kills_mid_stream >= 10, "every kill must land while messages are still flowing"
    drain(kafka_bootstrap, topic, pg_url, group, log)
    assert count(pg_url) == n
    assert count(pg_url, "SELECT count(DISTINCT event_id) AS n FROM url_probes") == n


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_graceful_stop_commits_database_then_offsets(
    kafka_bootstrap: str, topic: str, pg_url: str, group: str, tmp_path: Path, sig: signal.Signals
) -> None:
    n = 20_000
    produce(kafka_bootstrap, topic, [encode(e) for e in events(n)])
    log = tmp_path / "flush.log"
    process = start_flush(kafka_bootstrap, topic, pg_url, group, log, "--batch-size", "100")
    assert wait_until(lambda: count(pg_url) > 0, timeout=60, step=0.05)
    stopped_at = time.monotonic()
    process.send_signal(sig)
    assert process.wait(10) == 0, log.read_text()[-2000:]
    assert time.monotonic() - stopped_at < 5
    stored = count(pg_url)
    assert 0 < stored < n, "the stop should land mid-stream"
    assert committed(kafka_bootstrap, topic, group) == stored  # no gap, nothing uncommitted
    drain(kafka_bootstrap, topic, pg_url, group, log)
    assert count(pg_url) == n
    assert count(pg_url, "SELECT count(DISTINCT event_id) AS n FROM url_probes") == n


@pytest.mark.slow
def test_database_outage_is_retried_and_nothing_is_lost(
    kafka_bootstrap: str, topic: str, pg_url: str, group: str, tmp_path: Path
) -> None:
    proxy = TCPProxy(5432)
    db = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    log = tmp_path / "flush.log"
    produce(kafka_bootstrap, topic, [encode(e) for e in events(500, "https://before")])
    process = start_flush(kafka_bootstrap, topic, db, group, log, "--log-format", "json")
    try:
        assert wait_until(lambda: count(pg_url) == 500, timeout=60)
        proxy.cut()
        produce(kafka_bootstrap, topic, [encode(e) for e in events(700, "https://during")])
        time.sleep(30)
        assert count(pg_url) == 500
        assert committed(kafka_bootstrap, topic, group) == 500  # no offset for unwritten rows
        retries = [
            json.loads(line) for line in log.read_text().splitlines() if '"event": "retry"' in line
        ]
        assert len(retries) >= 4
        assert [r["attempt"] for r in retries[:3]] == [1, 2, 3]
        assert all(r["message"].startswith("store unavailable (attempt ") for r in retries)
        proxy.restore()
        assert wait_until(lambda: count(pg_url) == 1200, timeout=60)
        assert wait_until(lambda: committed(kafka_bootstrap, topic, group) == 1200, timeout=10)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
        proxy.close()
    assert count(pg_url, "SELECT count(DISTINCT event_id) AS n FROM url_probes") == 1200


@pytest.mark.slow
def test_probe_spools_while_the_broker_is_down_and_sends_the_spool_first(
    http_server: HTTPTestServer,
    pg_url: str,
    topic: str,
    group: str,
    own_broker: Broker,
    tmp_path: Path,
) -> None:
    port = int(own_broker.bootstrap.rsplit(":", 1)[1])
    runner = CliRunner()
    args = [
        "probe",
        f"{http_server.url}/a",
        f"{http_server.url}/b",
        "-b",
        own_broker.bootstrap,
        "-t",
        topic,
        "-q",
    ]
    own_broker.stop()
    down = runner.invoke(main, args)
    assert down.exit_code == 1
    assert down.output.startswith(f"Error: cannot reach Kafka at {own_broker.bootstrap}: ")
    assert "2 results spooled to " in down.output
    assert "(hint: they are sent by the next wm probe, or now by `wm spool send`)" in down.output
    status = json.loads(
        runner.invoke(main, ["spool", "status", "-b", own_broker.bootstrap, "-t", topic]).output
    )
    assert status["waiting"] == 2
    restarted = Broker.start_tansu(port)
    try:
        up = runner.invoke(main, args)
        assert up.exit_code == 0, up.output
        status = json.loads(
            runner.invoke(main, ["spool", "status", "-b", restarted.bootstrap, "-t", topic]).output
        )
        assert status["waiting"] == 0
        drain(restarted.bootstrap, topic, pg_url, group, tmp_path / "flush.log")
    finally:
        restarted.stop()
    assert count(pg_url) == 4  # two rounds of two URLs, the spooled round included


def test_spool_send_command(http_server: HTTPTestServer, tmp_path: Path, pg_url: str) -> None:
    """The spool also covers the direct write: a store that is down, then back."""
    proxy = TCPProxy(5432)
    db = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    runner = CliRunner()
    with open_store(pg_url):
        pass
    proxy.cut()
    down = runner.invoke(main, ["probe", http_server.url, "-d", db, "-q"])
    assert down.exit_code == 1
    assert "1 results spooled to " in down.output
    proxy.restore()
    sent = runner.invoke(main, ["spool", "send", "-d", db])
    assert sent.stdout == "sent 1 spooled results\n"
    assert runner.invoke(main, ["spool", "send", "-d", db]).stdout == "spool is empty\n"
    proxy.close()
    assert count(pg_url) == 1


@pytest.mark.slow
def test_flush_reconnects_after_a_broker_restart(
    pg_url: str, topic: str, group: str, own_broker: Broker, tmp_path: Path
) -> None:
    port = int(own_broker.bootstrap.rsplit(":", 1)[1])
    log = tmp_path / "flush.log"
    produce(own_broker.bootstrap, topic, [encode(e) for e in events(100, "https://first")])
    process = start_flush(own_broker.bootstrap, topic, pg_url, group, log)
    restarted = None
    try:
        assert wait_until(lambda: count(pg_url) == 100, timeout=60)
        own_broker.stop()
        time.sleep(3)
        restarted = Broker.start_tansu(port)
        # this broker keeps data in memory: the topic comes back empty, and new results flow
        produce(restarted.bootstrap, topic, [encode(e) for e in events(100, "https://second")])
        assert wait_until(lambda: count(pg_url) == 200, timeout=90), log.read_text()[-3000:]
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
        if restarted:
            restarted.stop()


@pytest.mark.slow
def test_ten_thousand_poison_messages_are_dead_lettered(
    kafka_bootstrap: str, topic: str, pg_url: str, group: str, tmp_path: Path
) -> None:
    rng = random.Random(99)
    good = [encode(e) for e in events(10_000)]
    valid = json.loads(good[0])
    makers = [
        lambda i: b"{not json " + str(i).encode(),
        lambda i: b"\xff\xfe" + os.urandom(8) + str(i).encode(),
        lambda i: json.dumps(
            {**valid, "event_id": str(uuid.uuid4()), "http_status_code": "200", "n": i}
        ).encode(),
        lambda i: json.dumps({k: v for k, v in valid.items() if k != "url"} | {"n": i}).encode(),
        lambda i: json.dumps(
            {**valid, "event_id": str(uuid.uuid4()), "url": "x" * 20_000, "n": i}
        ).encode(),
        lambda i: json.dumps({**valid, "event_id": str(uuid.uuid4()), "v": 2, "n": i}).encode(),
        lambda i: json.dumps(
            {**valid, "event_id": str(uuid.uuid4()), "response_time_ms": -5, "n": i}
        ).encode(),
        lambda i: json.dumps([i]).encode(),
    ]
    poison = [makers[i % len(makers)](i) for i in range(10_000)]
    mixed = good + poison
    rng.shuffle(mixed)
    produce(kafka_bootstrap, topic, mixed)
    log = tmp_path / "flush.log"
    process = start_flush(
        kafka_bootstrap, topic, pg_url, group, log, "--drain", "--log-format", "json"
    )
    assert process.wait(180) == 0, log.read_text()[-2000:]
    assert count(pg_url) == 10_000
    assert count(pg_url, "SELECT count(*) AS n FROM dead_letters") == 10_000
    with open_store(pg_url) as repository:
        letters = dead_letters(repository, limit=20_000)
    assert sorted(d.value or b"" for d in letters) == sorted(poison)
    assert all(d.reason for d in letters)
    logged = [
        json.loads(line)
        for line in log.read_text().splitlines()
        if '"event": "dead_letter"' in line
    ]
    # A few are logged one by one; the progress line counts every one (below).
    assert len(logged) == DEAD_LETTERS_LOGGED
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assigned = [entry for entry in lines if entry.get("event") == "rebalance"]
    assert assigned and assigned[0]["message"].startswith(f"partitions assigned: {topic}/")
    progress = [entry for entry in lines if entry.get("event") == "progress"]
    assert progress[-1]["message"].startswith("flushed 20000 messages (")
    assert progress[-1]["message"].endswith("10000 stored, 0 duplicates, 10000 dead-lettered")


def test_dlq_list_and_replay(sqlite_url: str) -> None:
    fixed = encode(events(1, "https://replayed")[0])
    legacy = json.dumps(
        {
            "url": "https://legacy",
            "timestamp": "2026-11-23 10:00:00",
            "http_status_code": 200,
            "response_time_ms": 7,
        }
    ).encode()
    with open_store(sqlite_url) as repository:
        store_events(
            repository,
            [],
            [
                DeadLetter(
                    topic="probes",
                    partition=0,
                    offset=1,
                    value=fixed,
                    reason="older wm could not read it",
                ),
                DeadLetter(
                    topic="probes",
                    partition=0,
                    offset=2,
                    value=b"\xff\x00",
                    reason="value is not valid UTF-8",
                ),
                DeadLetter(
                    topic="probes",
                    partition=1,
                    offset=3,
                    value=legacy,
                    reason="older wm could not read it",
                ),
            ],
        )
    runner = CliRunner()
    listed = json.loads(runner.invoke(main, ["dlq", "list", "-d", sqlite_url]).output)[
        "dead_letters"
    ]
    assert [(d["partition"], d["offset"], d["reason"]) for d in listed] == [
        (0, 1, "older wm could not read it"),
        (0, 2, "value is not valid UTF-8"),
        (1, 3, "older wm could not read it"),
    ]
    assert listed[1]["value_base64"] == "/wA="
    assert listed[0]["value"] == fixed.decode()
    report = json.loads(runner.invoke(main, ["dlq", "replay", "-d", sqlite_url]).output)
    assert report == {"replayed": 2, "still_failing": 1, "reasons": {"value is not valid UTF-8": 1}}
    with open_store(sqlite_url) as repository:
        assert sorted(r["url"] for r in repository.query("SELECT url FROM url_probes")) == [
            "https://legacy",
            "https://replayed-0/",
        ]
        assert [d.offset for d in dead_letters(repository)] == [2]
    again = json.loads(runner.invoke(main, ["dlq", "replay", "-d", sqlite_url]).output)
    assert again["replayed"] == 0 and again["still_failing"] == 1
