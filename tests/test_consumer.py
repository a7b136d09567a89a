"""The librdkafka consumer behind `wm flush`: settings, errors and logs, against a real broker."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import Broker, free_port, wait_until
from website_monitor import config
from website_monitor.errors import TransportError
from website_monitor.transport._consumer import GroupConsumer, _Reporter, consumer_config

PASSWORD = "sasl-hunter2"


@pytest.fixture
def kafka_lines() -> Iterator[list[logging.LogRecord]]:
    """Every record the `website_monitor.kafka` logger emits, at debug level."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("website_monitor.kafka")
    handler, level = Keep(level=logging.DEBUG), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def settings(bootstrap: str = "k1:9092,k2:9092", **values: object) -> config.Settings:
    return config.resolve({"bootstrap_servers": bootstrap, **values}, env={})


def test_config_maps_settings_to_librdkafka_keys(tmp_path: Path) -> None:
    files = {name: tmp_path / f"{name}.pem" for name in ("ca", "cert", "key")}
    for path in files.values():
        path.write_text("x")
    plain = consumer_config(settings(consumer_group_id="g1"), session_timeout_ms=6000)
    assert plain == {
        "bootstrap.servers": "k1:9092,k2:9092",
        "client.id": "website-monitor",
        "group.id": "g1",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 1200,
        "socket.connection.setup.timeout.ms": 10_000,
        "security.protocol": "PLAINTEXT",
    }
    tls = consumer_config(
        settings(
            ssl_cafile=str(files["ca"]),
            ssl_certfile=str(files["cert"]),
            ssl_keyfile=str(files["key"]),
        )
    )
    assert {k: v for k, v in tls.items() if k.startswith(("ssl", "security"))} == {
        "security.protocol": "SSL",
        "ssl.ca.location": str(files["ca"]),
        "ssl.certificate.location": str(files["cert"]),
        "ssl.key.location": str(files["key"]),
        "ssl.endpoint.identification.algorithm": "https",
    }
    sasl_ssl = consumer_config(
        settings(
            ssl=True, sasl_mechanism="scram-sha-512", sasl_username="wm", sasl_password=PASSWORD
        )
    )
    assert (
        sasl_ssl["security.protocol"],
        sasl_ssl["sasl.mechanism"],
        sasl_ssl["sasl.username"],
        sasl_ssl["sasl.password"],
        sasl_ssl["ssl.endpoint.identification.algorithm"],
    ) == ("SASL_SSL", "SCRAM-SHA-512", "wm", PASSWORD, "https")
    assert "ssl.ca.location" not in sasl_ssl  # --ssl alone: the system's CAs
    sasl_plain = consumer_config(settings(sasl_mechanism="plain", sasl_password=PASSWORD))
    assert sasl_plain["security.protocol"] == "SASL_PLAINTEXT"
    for shown in (repr(sasl_ssl), str(sasl_ssl), f"{sasl_plain}", repr([sasl_plain])):
        assert "hunter2" not in shown
        assert "'sasl.password': '***'" in shown


def test_consumer_repr_and_creation_errors_keep_the_password_out() -> None:
    closed = f"127.0.0.1:{free_port()}"
    consumer = GroupConsumer(
        settings(closed, sasl_mechanism="plain", sasl_username="wm", sasl_password=PASSWORD), "t"
    )
    try:
        assert "hunter2" not in repr(consumer)
        assert closed in repr(consumer)
    finally:
        consumer.close()


def test_reporter_masks_and_rate_limits(kafka_lines: list[logging.LogRecord]) -> None:
    reporter = _Reporter(PASSWORD, every=0.3)
    for _ in range(5):
        reporter.log(logging.WARNING, "%s [%s] %s", "BROKERFAIL", "rdkafka#consumer-1", "down")
    reporter.log(logging.WARNING, "%s [%s] %s", "AUTH", "c", f"bad credentials {PASSWORD}")
    time.sleep(0.35)
    reporter.log(logging.WARNING, "%s [%s] %s", "BROKERFAIL", "rdkafka#consumer-1", "down")
    messages = [r.getMessage() for r in kafka_lines]
    assert messages == [
        "librdkafka BROKERFAIL: down",
        "librdkafka AUTH: bad credentials ***",
        "librdkafka BROKERFAIL: down (4 more like this in the last 0s)",
    ]
    assert {getattr(r, "event", None) for r in kafka_lines} == {"kafka_client"}


def test_failed_authentication_raises_a_transport_error_without_the_password(
    kafka_bootstrap: str, topic: str, kafka_lines: list[logging.LogRecord]
) -> None:
    """A fatal error from librdkafka: SASL against a listener that does not speak it."""
    consumer = GroupConsumer(
        settings(
            kafka_bootstrap,
            sasl_mechanism="plain",
            sasl_username="wm",
            sasl_password=PASSWORD,
            consumer_group_id=f"g-{topic}",
        ),
        topic,
        session_timeout_ms=6000,
    )
    try:
        deadline = time.monotonic() + 30
        with pytest.raises(TransportError) as raised:
            while time.monotonic() < deadline:
                consumer.poll(timeout_ms=200, max_records=10)
    finally:
        consumer.close()
    assert raised.value.message.startswith(f"Kafka at {kafka_bootstrap} failed: ")
    assert "SASL" in raised.value.message
    assert raised.value.hint and "SASL" in raised.value.hint
    logged = [r.getMessage() for r in kafka_lines]
    assert logged, "librdkafka's lines go through website_monitor.kafka"
    assert not any("hunter2" in line for line in [*logged, str(raised.value)])


@pytest.mark.slow
def test_flush_logs_a_broker_outage_as_json_and_stops_cleanly(
    own_broker: Broker, pg_url: str, topic: str, tmp_path: Path
) -> None:
    """librdkafka's lines are JSON through our logger; a broker going away is not a crash."""
    log = tmp_path / "flush.log"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "website_monitor",
            "flush",
            "-b",
            own_broker.bootstrap,
            "-t",
            topic,
            "-d",
            pg_url,
            "-c",
            f"g-{uuid.uuid4().hex[:8]}",
            "--session-timeout-ms",
            "6000",
            "--log-format",
            "json",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        env={**os.environ, "WM_STREAM_SASL_PASSWORD": PASSWORD},
    )

    def lines() -> list[dict[str, object]]:
        return [json.loads(line) for line in log.read_text().splitlines()]

    try:
        assert wait_until(lambda: any(e.get("event") == "rebalance" for e in lines()), 60, 0.2), (
            log.read_text()
        )
        own_broker.stop()
        assert wait_until(
            lambda: any(e.get("event") == "kafka_client" for e in lines()), 30, 0.2
        ), log.read_text()
        time.sleep(3)
        assert process.poll() is None, "the flush goes on while the broker is away"
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0, log.read_text()
        assert time.monotonic() - stopped_at < 5
    finally:
        if process.poll() is None:
            process.kill()
    entries = lines()  # every line is JSON: nothing of librdkafka's went to raw stderr
    client = [e for e in entries if e.get("event") == "kafka_client"]
    assert all(e["logger"] == "website_monitor.kafka" for e in client)
    assert any(e.get("code") in {"_TRANSPORT", "_ALL_BROKERS_DOWN"} for e in client)
    assert len(client) <= 6, "the same failure is logged once per 30 s, not per attempt"
    assert "hunter2" not in log.read_text()


def test_flush_against_a_closed_port_fails_with_one_error_line(tmp_path: Path) -> None:
    closed = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "website_monitor",
            "flush",
            "-b",
            closed,
            "-d",
            f"sqlite:///{tmp_path / 'wm.db'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "WM_STREAM_SASL_PASSWORD": PASSWORD},
    )
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert output.startswith(f"Error: cannot reach Kafka at {closed}: ")
    assert output.endswith("(hint: check -b/--bootstrap-server and that the broker is running)\n")
    assert output.count("\n") == 1
    assert "Traceback" not in output and "hunter2" not in output
