"""The telemetry commands through the CLI: wm send, wm stations, wm stats --telemetry, wm listen."""

from __future__ import annotations

import json
import socket
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.listen_helpers import (
    BUCKET_START,
    clear_of_bucket_boundary,
    start_listen,
    stop_listen,
)
from website_monitor.cli import main
from website_monitor.rollups.sketch import ACCURACY
from website_monitor.store import open_store
from website_monitor.telemetry import health, llpp
from website_monitor.telemetry.buckets import Aggregator
from website_monitor.telemetry.metrics import listen_metrics
from website_monitor.telemetry.sender import Sender, service_ns
from website_monitor.transport.writer import store_events


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def run(*args: str) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.output


# --- wm send ----------------------------------------------------------------------------


@pytest.fixture
def udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock  # type: ignore[misc]
    sock.close()


def test_send_delivers_llpp_datagrams(udp_socket: socket.socket) -> None:
    to = f"127.0.0.1:{udp_socket.getsockname()[1]}"
    run("send", "--to", to, "--station", "checkout", "departure", "--service-ms", "12.5")
    assert llpp.decode(udp_socket.recv(2048)) == llpp.Departure("checkout", 12_500_000)
    run("send", "--to", to, "-s", "checkout", "status", "degraded: db slow")
    assert llpp.decode(udp_socket.recv(2048)) == llpp.Status("checkout", "degraded: db slow")
    run("send", "--to", to, "-s", "checkout", "arrival", "--count", "3")
    for _ in range(3):
        assert llpp.decode(udp_socket.recv(2048)) == llpp.Arrival("checkout")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["departure"], "Error: a departure needs --service-ms"),
        (["arrival", "--service-ms", "3"], "Error: --service-ms applies to departures only"),
        (["status"], "Error: a status needs its TEXT"),
        (["arrival", "hello"], "Error: unexpected TEXT 'hello': only a status takes one"),
        (["leave"], "Error: Invalid value for '{arrival|departure|status}'"),
    ],
)
def test_send_usage_errors(args: list[str], message: str) -> None:
    result = invoke("send", "--station", "s", *args)
    assert result.exit_code == 2
    assert message in result.output


def test_send_needs_a_station() -> None:
    result = invoke("send", "arrival")
    assert result.exit_code == 2
    assert "Missing option '-s' / '--station'" in result.output


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["--station", "s", "departure", "--service-ms", "-1"],
            "Error: length_mismatch: invalid service time -1.0 ms "
            "(hint: give a finite, non-negative number of milliseconds)",
        ),
        (
            ["--station", "", "arrival"],
            "Error: empty_station: the station name is empty (hint: give a station name)",
        ),
        (
            ["--station", "s" * 256, "arrival"],
            "Error: length_mismatch: the station name is 256 bytes in UTF-8, at most 255 "
            "(hint: use a shorter station name)",
        ),
        (
            ["--station", "s", "arrival", "--to", "localhost"],
            "Error: invalid address 'localhost' "
            "(hint: use host:port, e.g. 127.0.0.1:8125 or [::1]:8125)",
        ),
    ],
)
def test_send_errors_are_one_line(args: list[str], line: str) -> None:
    result = invoke("send", *args)
    assert result.exit_code == 1
    assert result.output == line + "\n"


# --- wm stations / wm stats --telemetry ------------------------------------------------


def store_buckets(store_url: str, at: float, values: list[float], station: str = "web") -> None:
    aggregator = Aggregator(600)
    for i, value in enumerate(values):
        aggregator.add(llpp.Arrival(station), at + i)
        aggregator.add(llpp.Departure(station, service_ns(value)), at + i)
    aggregator.add(llpp.Status(station, "ok"), at)
    with open_store(store_url) as repository:
        store_events(repository, aggregator.flush(at + 1000))


def test_stations_json_on_both_backends(store_url: str) -> None:
    open_store(store_url).close()  # an empty store
    assert json.loads(run("stations", "-d", store_url)) == {"stations": []}
    old = [3.5, 7.25, 1.0]
    recent = [10.0, 12.5, 20.0, 11.0]
    store_buckets(store_url, BUCKET_START + 5, old)
    clear_of_bucket_boundary()
    now = time.time()
    store_buckets(store_url, now - now % 600, recent)
    store_buckets(store_url, BUCKET_START + 5, [1.0], station="db")

    entries = json.loads(run("stations", "-d", store_url))["stations"]
    assert [(e["name"], e["bucket_start"]) for e in entries] == [
        ("db", datetime.fromtimestamp(BUCKET_START, timezone.utc).isoformat()),
        ("web", datetime.fromtimestamp(BUCKET_START, timezone.utc).isoformat()),
        ("web", datetime.fromtimestamp(now - now % 600, timezone.utc).isoformat()),
    ]
    past, current = entries[1], entries[2]
    for entry, values in ((past, old), (current, recent)):
        assert entry["count"] == entry["departures"] == entry["arrivals"] == len(values)
        assert entry["mean"] == pytest.approx(statistics.fmean(values))
        assert entry["variance"] == pytest.approx(statistics.pvariance(values))
        assert (entry["min"], entry["max"]) == (min(values), max(values))
        assert entry["status"] == "ok"
    assert (past["current"], current["current"]) == (False, True)

    since = json.loads(run("stations", "-d", store_url, "--since", "1h"))["stations"]
    assert since == [current]
    assert json.loads(run("stations", "-d", store_url, "--station", "db"))["stations"] == [
        entries[0]
    ]
    assert json.loads(run("stats", "--telemetry", "-d", store_url, "--since", "1h")) == {
        "stations": [current]
    }


def test_stations_bad_since_is_one_error_line(sqlite_url: str) -> None:
    result = invoke("stations", "-d", sqlite_url, "--since", "yesterday")
    assert result.exit_code == 1
    assert result.output.startswith("Error: invalid time 'yesterday' (hint:")


# --- wm listen --------------------------------------------------------------------------


def test_listen_on_a_busy_port_is_one_error_line(udp_socket: socket.socket) -> None:
    port = udp_socket.getsockname()[1]
    result = invoke("listen", "--bind", f"127.0.0.1:{port}")
    assert result.exit_code == 1
    expected = (
        f"Error: cannot listen on 127.0.0.1:{port} (udp): address already in use "
        "(hint: another process uses this port; stop it or choose another with --bind)\n"
    )
    assert result.output == expected
    from_env = CliRunner(env={"WM_LISTEN_BIND": f"127.0.0.1:{port}"}).invoke(main, ["listen"])
    assert (from_env.exit_code, from_env.output) == (1, expected)


def busy_port_line(address: str) -> str:
    return (
        f"Error: cannot listen on {address} (udp): address already in use "
        "(hint: another process uses this port; stop it or choose another with --bind)\n"
    )


def test_listen_settings_from_the_config_file_and_what_overrides_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy = []
    for _ in range(3):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        busy.append(sock)
    file_bind, env_bind, flag_bind = (f"127.0.0.1:{s.getsockname()[1]}" for s in busy)
    config = tmp_path / "wm.toml"
    config.write_text(f'[listen]\nbind = "{file_bind}"\nflush_interval = "5s"\n')
    try:
        result = invoke("listen", "--config", str(config))
        assert (result.exit_code, result.output) == (1, busy_port_line(file_bind))
        monkeypatch.setenv("WM_CONFIG", str(config))
        monkeypatch.setenv("WM_LISTEN_BIND", env_bind)
        result = invoke("listen")
        assert (result.exit_code, result.output) == (1, busy_port_line(env_bind))
        result = invoke("listen", "--bind", flag_bind)
        assert (result.exit_code, result.output) == (1, busy_port_line(flag_bind))
    finally:
        for sock in busy:
            sock.close()


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (
            'bucket = "1.5s"',
            "Error: --bucket '1.5s' is not a whole number of seconds (at least 1s)\n",
        ),
        ('report_interval = "0s"', "Error: --report-interval must be positive\n"),
        ('flush_interval = "soon"', "Error: {path}:listen.flush_interval: invalid duration 'soon'"),
        ("bind = ':8125'", "Error: address ':8125' names no host"),
        ("bucket_size = '10m'", "Error: unknown setting 'listen.bucket_size' in {path}"),
    ],
)
def test_listen_config_file_errors(tmp_path: Path, text: str, line: str) -> None:
    config = tmp_path / "wm.toml"
    config.write_text(f"[listen]\n{text}\n")
    result = invoke("listen", "--config", str(config))
    assert result.exit_code == 1
    assert result.output.startswith(line.format(path=config))


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--bind", ":8125"], "Error: address ':8125' names no host"),
        (["--bind", "127.0.0.1:99999"], "Error: port 99999 is out of range"),
        (["--bucket", "1.5s"], "Error: --bucket '1.5s' is not a whole number of seconds"),
        (["--flush-interval", "soon"], "Error: --flush-interval: invalid duration 'soon'"),
    ],
)
def test_listen_option_errors(args: list[str], line: str) -> None:
    result = invoke("listen", *args)
    assert result.exit_code == 1
    assert result.output.startswith(line)
    assert "Traceback" not in result.output


def test_listen_writes_the_store_and_stops_cleanly_on_sigterm(sqlite_url: str) -> None:
    values = [4.0, 8.0, 15.0, 16.0, 23.0, 42.0]
    clear_of_bucket_boundary()
    process, address = start_listen("-d", sqlite_url, "--flush-interval", "1h")
    with Sender(address) as sender:
        for value in values:
            sender.departure("orders", value)
        sender.send(b"llppxxxx\x01\x00a")
    err = stop_listen(process)  # the open bucket is flushed on the way out
    assert "1 bad: wrong_magic=1" in err
    (entry,) = json.loads(run("stations", "-d", sqlite_url))["stations"]
    assert entry["count"] == len(values)
    assert entry["variance"] == pytest.approx(statistics.pvariance(values))


def test_listen_publishes_to_kafka_and_flush_stores(
    kafka_bootstrap: str, topic: str, pg_url: str
) -> None:
    values = [float(v) for v in range(1, 41)]
    timings = [2.0, 4.0, 9.0]
    clear_of_bucket_boundary()
    process, address = start_listen("-b", kafka_bootstrap, "-t", topic, "--flush-interval", "0.3s")
    with Sender(address) as sender:
        for value in values[:20]:
            sender.arrival("kafka-station")
            sender.departure("kafka-station", value)
        time.sleep(2.0)  # several 0.3 s flushes in between: at least two deltas for one bucket
        for value in values[20:]:
            sender.departure("kafka-station", value)
        for value in timings:
            sender.metric("api.latency", value, "ms")
    stop_listen(process)
    run(
        "flush",
        "--drain",
        "-b",
        kafka_bootstrap,
        "-t",
        topic,
        "-d",
        pg_url,
        "-c",
        f"group-{topic}",
        "--session-timeout-ms",
        "6000",
        "--idle-timeout",
        "2s",
    )
    entries = {e["name"]: e for e in json.loads(run("stations", "-d", pg_url))["stations"]}
    station = entries["kafka-station"]
    assert station["arrivals"] == 20
    assert station["count"] == len(values)
    assert station["mean"] == pytest.approx(statistics.fmean(values))
    assert station["variance"] == pytest.approx(statistics.pvariance(values))
    assert (station["first"], station["last"]) == (values[0], values[-1])
    timer = entries["api.latency"]
    assert timer["p50"] == pytest.approx(statistics.median(timings), rel=ACCURACY)
    with open_store(pg_url) as repository:
        flushed = repository.query("SELECT applied_events FROM telemetry_buckets")
        # the listener's own counters came through Kafka too, and /metrics exports them
        exported = {
            sample.name: sample.value
            for family in listen_metrics(repository)
            for sample in family.samples
            if not sample.labels
        }
    assert max(row["applied_events"].count(";") for row in flushed) >= 2
    sent = 20 * 2 + 20 + len(timings)
    assert exported["wm_listen_datagrams_total"] == sent
    assert exported["wm_listen_kernel_drops_total"] == 0
    assert not any(name.startswith(health.PREFIX) for name in entries)


@pytest.mark.parametrize("name", ["listen", "send", "stations"])
def test_every_option_has_an_environment_variable(name: str) -> None:
    import click

    command = main.commands[name]
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert param.envvar, f"wm {name} {param.opts[0]} has no environment variable"
            assert param.show_envvar, f"wm {name} {param.opts[0]} hides its environment variable"
