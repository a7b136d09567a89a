"""`wm tail`, `wm alerts` and `wm stats --hits` from the command line, on real files and stores."""

from __future__ import annotations

import http.server
import json
import signal
import statistics
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from tests.services import wm_process
from website_monitor.cli import main
from website_monitor.logs.alerts import AlertEvent
from website_monitor.logs.follower import POLL_BUDGET
from website_monitor.logs.output import LiveReporter
from website_monitor.logs.summary import WindowStats
from website_monitor.store import open_store

BASE = 1_525_881_600  # 2018-05-09T16:00:00Z


def run(*args: str, input: str | None = None, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def clf(second: float, path: str, status: int = 200, size: int = 100, user: str = "-") -> str:
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(BASE + second))
    host = f"10.0.0.{int(second) % 3}"
    return f'{host} - {user} [{stamp}] "GET {path} HTTP/1.1" {status} {size}'


SMALL = [
    '127.0.0.1 - james [09/May/2018:16:00:01 +0000] "GET /report HTTP/1.0" 200 123',
    '127.0.0.1 - jill [09/May/2018:16:00:02 +0000] "GET /api/user HTTP/1.0" 200 234',
    "this is not an access log line",
    '127.0.0.1 - frank [09/May/2018:16:00:05 +0000] "POST /api/user HTTP/1.0" 503 34',
    '10.0.0.9 - mary [09/May/2018:16:00:03 +0000] "GET /api/item/7 HTTP/1.0" 404 12',
    '127.0.0.1 - - [09/May/2018:16:00:12 +0000] "GET /report/a HTTP/1.0" 302 -',
]


def test_exact_output_of_a_small_file(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("\n".join(SMALL) + "\n")
    out = run("tail", str(log), "--from-start", "--exit-at-eof")
    assert out.splitlines() == [
        "Incorrect log line format: this is not an access log line",
        "4 requests received during the last 10 seconds, most hits on section /api with 3",
        "  2018-05-09T16:00:00Z - 2018-05-09T16:00:10Z: 0.40 hits/s, 403 bytes, 4 users, "
        "2 hosts, 2xx 2 3xx 0 4xx 1 5xx 1 | sections /api 3, /report 1 "
        "| endpoints /api/user 2, /api/item/7 1, /report 1 | 1 incorrect lines",
        "1 requests received during the last 10 seconds, most hits on section /report with 1",
        "  2018-05-09T16:00:10Z - 2018-05-09T16:00:20Z: 0.10 hits/s, 0 bytes, 0 users, "
        "1 hosts, 2xx 0 3xx 1 4xx 0 5xx 0 | sections /report 1 | endpoints /report/a 1",
    ]


def test_standard_input_and_json(tmp_path: Path) -> None:
    out = run("tail", "-", "--json", "--interval", "5s", input="\n".join(SMALL) + "\n")
    objects = [json.loads(line) for line in out.splitlines()]
    assert [(o["type"], o["start"], o["hits"]) for o in objects] == [
        ("summary", "2018-05-09T16:00:00Z", 3),
        ("summary", "2018-05-09T16:00:05Z", 1),
        ("summary", "2018-05-09T16:00:10Z", 1),
    ]
    assert objects[0]["status_classes"] == {"2xx": 2, "3xx": 0, "4xx": 1, "5xx": 0}
    assert objects[0]["bad_lines"] == 1
    assert objects[1]["top_sections"] == [{"section": "/api", "hits": 1}]


def test_several_files_and_w3c(tmp_path: Path) -> None:
    w3c = tmp_path / "iis.log"
    w3c.write_text(
        "#Version: 1.0\n#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes\n"
        "2018-05-09 16:00:04 10.1.1.1 GET /shop/cart 200 50\n"
        "2018-05-09 16:00:06 10.1.1.2 GET /shop/pay 500 70\n"
    )
    ncsa = tmp_path / "access.log"
    ncsa.write_text("\n".join(SMALL) + "\n")
    out = run("tail", str(w3c), str(ncsa), "--from-start", "--exit-at-eof", "--json")
    first = json.loads(out.splitlines()[0])
    assert first["hits"] == 6
    assert first["top_sections"][:2] == [
        {"section": "/api", "hits": 3},
        {"section": "/shop", "hits": 2},
    ]
    assert first["status_classes"]["5xx"] == 2


def traffic(tmp_path: Path) -> tuple[Path, list[tuple[float, str, int, int]]]:
    """Five minutes of traffic with a burst: (second, path, status, size) per request."""
    rows = []
    for second in range(300):
        rate = 30 if 40 <= second < 100 else 2
        for k in range(rate):
            path = ("/api/user", "/api/item", "/static/app.js", "/")[(second + k) % 4]
            status = 503 if (second * 7 + k) % 11 == 0 else 200
            size = (second * 37 + k * 101) % 5000
            rows.append((second + k / rate, path, status, size))
    log = tmp_path / "access.log"
    log.write_text("".join(clf(s, p, st, sz) + "\n" for s, p, st, sz in rows))
    return log, rows


def test_publish_to_the_store_then_stats_and_alerts(store_url: str, tmp_path: Path) -> None:
    log, rows = traffic(tmp_path)
    out = run(
        "tail", str(log), "--from-start", "--exit-at-eof", "--json", "--publish",
        "--threshold", "10", "--source", "web-1", "-d", store_url,
    )  # fmt: skip
    objects = [json.loads(line) for line in out.splitlines()]
    alerts = [o for o in objects if o["type"] == "alert"]
    assert [a["state"] for a in alerts] == ["triggered", "recovered"]
    assert sum(o["hits"] for o in objects if o["type"] == "summary") == len(rows)

    stats = json.loads(run("stats", "--hits", "-d", store_url))["hits"]
    by_section: dict[str, list[tuple[int, int]]] = {}
    for _, path, status, size in rows:
        section = "/" + path.split("/")[1]
        by_section.setdefault(section, []).append((status, size))
    assert [entry["section"] for entry in stats] == sorted(by_section)
    for entry in stats:
        requests = by_section[entry["section"]]
        sizes = [size for _, size in requests]
        errors = sum(1 for status, _ in requests if status >= 500)
        cuts = statistics.quantiles(sizes, n=100, method="inclusive")
        assert entry["hits"] == len(requests)
        assert entry["errors"] == errors
        assert entry["error_rate"] == pytest.approx(errors / len(requests), abs=1e-6)
        assert entry["bytes"] == sum(sizes)
        assert entry["bytes_p50"] == pytest.approx(cuts[49], abs=1e-3)
        assert entry["bytes_p95"] == pytest.approx(cuts[94], abs=1e-3)
        assert entry["bytes_p99"] == pytest.approx(cuts[98], abs=1e-3)

    incidents = json.loads(run("alerts", "-d", store_url))["alerts"]
    assert len(incidents) == 1
    incident = incidents[0]
    assert incident["source"] == "web-1"
    assert incident["started_at"] == alerts[0]["time"]
    assert incident["ended_at"] == alerts[1]["time"]
    assert incident["peak"] == pytest.approx(alerts[1]["peak"], abs=1e-3)
    assert incident["threshold"] == 10.0

    # Running again stores nothing new: a hit's id is its place in the file.
    run(
        "tail", str(log), "--from-start", "--exit-at-eof", "--publish", "--no-record-alerts",
        "--source", "web-1", "-d", store_url,
    )  # fmt: skip
    with open_store(store_url) as repository:
        count = repository.query("SELECT count(*) AS n FROM hits")[0]["n"]
    assert count == len(rows)


@pytest.mark.parametrize("named_by", ["flag", "environment"])
def test_publish_hits_through_kafka_and_flush(
    kafka_bootstrap: str,
    topic: str,
    pg_url: str,
    tmp_path: Path,
    named_by: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log, rows = traffic(tmp_path)
    monkeypatch.setenv("WM_STREAM_TOPIC", "probes-not-hits")  # the probes' topic: not used
    if named_by == "environment":
        monkeypatch.setenv("WM_TAIL_TOPIC", topic)
    chosen = ("-t", topic) if named_by == "flag" else ()
    run(
        "tail", str(log), "--from-start", "--exit-at-eof", "--publish", "--json",
        "-b", kafka_bootstrap, *chosen, "--no-record-alerts",
    )  # fmt: skip
    monkeypatch.delenv("WM_STREAM_TOPIC")
    run(
        "flush", "--drain", "-b", kafka_bootstrap, "-t", topic, "-d", pg_url,
        "-c", f"group-{topic}", "--session-timeout-ms", "6000", "--idle-timeout", "2s",
    )  # fmt: skip
    stats = json.loads(run("stats", "--hits", "-d", pg_url))["hits"]
    expected = Counter("/" + path.split("/")[1] for _, path, _, _ in rows)
    assert {entry["section"]: entry["hits"] for entry in stats} == dict(expected)


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, object]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_alert_command_and_webhook(tmp_path: Path) -> None:
    log, _ = traffic(tmp_path)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    record = tmp_path / "alerts.txt"
    try:
        run(
            "tail", str(log), "--from-start", "--exit-at-eof", "--threshold", "10",
            "--alert-webhook", f"http://127.0.0.1:{server.server_address[1]}/hook",
            "--alert-command", f"sh -c 'echo \"$WM_ALERT_STATE $WM_ALERT_MESSAGE\" >> {record}'",
        )  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
    lines = record.read_text().splitlines()
    assert [line.split(" ", 1)[0] for line in lines] == ["triggered", "recovered"]
    assert lines[0].startswith("triggered High traffic generated an alert - hits = ")
    assert lines[1].startswith("recovered High traffic alert recovered at ")
    assert sorted(str(p["state"]) for p in _Hook.received) == ["recovered", "triggered"]


def test_errors_are_one_line(tmp_path: Path) -> None:
    out = run("tail", code=1)
    assert (
        out.strip()
        == "Error: no log file given (hint: wm tail /var/log/access.log, or - for stdin)"
    )
    out = run("tail", str(tmp_path / "x.log"), "--interval", "soon", code=1)
    assert out.startswith("Error: invalid duration 'soon' (hint:")
    out = run("tail", str(tmp_path / "x.log"), "--threshold", "0", code=1)
    assert out.strip() == "Error: --threshold must be positive"
    out = run("tail", str(tmp_path / "x.log"), "--alert-webhook", "ftp://x", code=1)
    assert out.startswith("Error: --alert-webhook 'ftp://x' is not an http(s) URL")


def window_starts(out: str) -> list[str]:
    return [json.loads(line)["start"][11:19] for line in out.splitlines()]


def test_settings_from_the_config_file_and_what_overrides_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "logs, old" / "access 1.log"  # a list item stays one path
    log.parent.mkdir()
    log.write_text("\n".join(SMALL) + "\n")
    config = tmp_path / "wm.toml"
    config.write_text(
        "[tail]\n"
        f"files = [{json.dumps(str(log))}]\n"
        'from_start = true\nexit_at_eof = true\njson = true\ninterval = "5s"\n'
    )
    assert window_starts(run("tail", "--config", str(config))) == [
        "16:00:00", "16:00:05", "16:00:10",
    ]  # fmt: skip
    monkeypatch.setenv("WM_CONFIG", str(config))
    monkeypatch.setenv("WM_TAIL_INTERVAL", "10s")
    assert window_starts(run("tail")) == ["16:00:00", "16:00:10"]  # environment beats file
    assert window_starts(run("tail", "--interval", "20s")) == ["16:00:00"]  # flag beats both
    # a switch set in the file is turned off by its --no- form
    text = run("tail", "--no-json").splitlines()
    assert (
        "4 requests received during the last 10 seconds, most hits on section /api with 3" in text
    )


def test_flat_keys_and_bad_values_in_the_config_file(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("\n".join(SMALL) + "\n")
    config = tmp_path / "wm.toml"
    config.write_text('tail_interval = "5s"\ntail_json = true\n')
    out = run("tail", str(log), "--from-start", "--exit-at-eof", "--config", str(config))
    assert window_starts(out) == ["16:00:00", "16:00:05", "16:00:10"]
    config.write_text('[tail]\ninterval = "soon"\n')
    out = run("tail", str(log), "--config", str(config), code=1)
    assert out.startswith(f"Error: {config}:tail.interval: invalid duration 'soon' (hint:")
    config.write_text("[tail]\nthreshold = 0\n")
    out = run("tail", str(log), "--config", str(config), code=1)
    assert out == "Error: --threshold must be positive\n"
    config.write_text("[tail]\nintervall = '5s'\n")
    out = run("tail", str(log), "--config", str(config), code=1)
    assert out == (
        f"Error: unknown setting 'tail.intervall' in {config} (hint: did you mean 'interval'?)\n"
    )


def test_nothing_to_read_with_exit_at_eof_is_one_error_line(tmp_path: Path) -> None:
    missing, other = tmp_path / "none.log", tmp_path / "other.log"
    result = CliRunner().invoke(main, ["tail", str(missing), "--from-start", "--exit-at-eof"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: cannot read {missing}: No such file or directory (hint: check the path;"
        " without --exit-at-eof wm tail waits for the file to appear)\n"
    )
    result = CliRunner().invoke(main, ["tail", str(missing), str(other), "--exit-at-eof"])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        f"Error: cannot read {missing}: No such file or directory; {other}: No such file"
    )
    # One file that exists is something to read: the missing one is skipped, not waited for.
    other.write_text("\n".join(SMALL) + "\n")
    result = CliRunner().invoke(
        main, ["tail", str(missing), str(other), "--from-start", "--exit-at-eof", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert sum(json.loads(line)["hits"] for line in result.stdout.splitlines()) == 5
    assert f"cannot read {missing} (No such file or directory); skipped" in result.stderr


def test_a_missing_file_is_waited_for_when_following(tmp_path: Path) -> None:
    log = tmp_path / "later.log"
    with wm_process("tail", str(log), "--json", "--poll-interval", "20ms") as process:
        assert process.stderr is not None
        warning = process.stderr.readline()  # it started, found no file, and waits
        assert f"cannot read {log} (No such file or directory); waiting for it" in warning
        time.sleep(0.5)
        assert process.poll() is None, process.communicate()
        lines = [clf(second, "/api/x") for second in range(25)]
        log.write_text("\n".join(lines) + "\n")  # everything in a file created later is new
        time.sleep(1.5)
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert [json.loads(line)["hits"] for line in out.splitlines()] == [10, 10, 5]


def combined(second: float, path: str) -> str:
    agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"
    return f'{clf(second, path)} "https://example.org/" "{agent}"'


def late_and_bad_log(path: Path) -> tuple[int, int, int]:
    """Three busy minutes (more than one poll reads at once, so windows close between
    reads) with stragglers stamped 30 s early, a last few lines from the first minute,
    and junk lines.
    Returns (parsed lines, stragglers among them, incorrect lines)."""
    lines: list[str] = []
    stragglers = junk = 0
    for second in range(180):
        for k in range(250):
            lines.append(combined(second + k / 250, ("/api/a", "/static/b", "/")[k % 3]))
        if second % 7 == 3 and second >= 40:
            lines.append(combined(second - 30, "/late"))
            stragglers += 1
        if second % 11 == 0:
            lines.append(f"junk {second}")
            junk += 1
    for k in range(4):
        lines.append(combined(10 + k, "/late/at/the/end"))
        stragglers += 1
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > POLL_BUDGET
    return len(lines) - junk, stragglers, junk


def test_publish_stores_every_parsed_line_and_summaries_account_for_all(
    store_url: str, tmp_path: Path
) -> None:
    """The store is not windowed: late lines are stored too, and reported as late (also
    those still pending at the end), so hits + late lines = lines parsed."""
    log = tmp_path / "access.log"
    parsed, stragglers, junk = late_and_bad_log(log)
    out = run(
        "tail", str(log), "--from-start", "--exit-at-eof", "--json", "--publish",
        "--no-record-alerts", "-d", store_url,
    )  # fmt: skip
    summaries = [json.loads(line) for line in out.splitlines()]
    summaries = [s for s in summaries if s["type"] == "summary"]
    late = sum(s["late_lines"] for s in summaries)
    assert 4 <= late <= stragglers  # at least those at the end
    assert sum(s["hits"] for s in summaries) + late == parsed
    assert sum(s["bad_lines"] for s in summaries) == junk
    with open_store(store_url) as repository:
        paths = repository.query("SELECT path, count(*) AS n FROM hits GROUP BY path")
    stored = sum(row["n"] for row in paths)
    stored_stragglers = sum(row["n"] for row in paths if row["path"].startswith("/late"))
    assert (stored, stored_stragglers) == (parsed, stragglers)


def test_incorrect_lines_count_in_the_window_they_were_written_in(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    lines = []
    for window in range(6):
        for second in range(10):
            lines.append(clf(10 * window + second, "/a"))
            if second < window:
                lines.append(f"junk in window {window}")
    log.write_text("\n".join(lines) + "\n")
    out = run("tail", str(log), "--from-start", "--exit-at-eof", "--json")
    summaries = [json.loads(line) for line in out.splitlines()]
    assert [(s["hits"], s["bad_lines"]) for s in summaries] == [(10, w) for w in range(6)]


def test_incorrect_lines_are_rate_limited_and_counted(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    bad = [f"junk {i}" for i in range(40)]
    log.write_text("\n".join([SMALL[0], *bad]) + "\n")
    out = run("tail", str(log), "--from-start", "--exit-at-eof").splitlines()
    assert out[:5] == [f"Incorrect log line format: junk {i}" for i in range(5)]
    assert "| 40 incorrect lines" in out[6]
    assert len(out) == 7


def test_empty_alert_history() -> None:
    assert json.loads(run("alerts")) == {"alerts": []}
    assert json.loads(run("stats", "--hits")) == {"hits": []}


def test_live_panel_renders_summary_and_alert() -> None:
    console = Console(record=True, force_terminal=True, width=120)
    stats = WindowStats()
    from website_monitor.logs.formats import parse_ncsa

    for line in SMALL:
        record = parse_ncsa(line)
        if record:
            stats.add(record)
    with LiveReporter(console, paths=["access.log"]) as reporter:
        reporter.summary(stats.summary(BASE, BASE + 10))
        reporter.alert(AlertEvent("triggered", BASE + 10, 12.5, 10, BASE + 10, 12.5))
    text = console.export_text()
    assert (
        "5 requests received during the last 10 seconds, most hits on section /api with 3" in text
    )
    assert (
        "High traffic generated an alert - hits = 12.50, triggered at 2018-05-09T16:00:10Z" in text
    )
    assert "ALERT since 2018-05-09T16:00:10Z" in text


def test_unreachable_store_for_publish_is_one_error_line(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_text("\n".join(SMALL) + "\n")
    out = run(
        "tail", str(log), "--from-start", "--exit-at-eof", "--publish",
        "-d", "postgresql://postgres@127.0.0.1:1/none", code=1,
    )  # fmt: skip
    lines = out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "Error: cannot connect to PostgreSQL at postgresql://postgres@127.0.0.1:1/none"
    )
    assert "Traceback" not in out
