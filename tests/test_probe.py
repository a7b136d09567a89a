"""HTTP checks against a local server with known delays and statuses."""

from __future__ import annotations

import json
import re
import threading
import time

from click.testing import CliRunner

from tests.services import HTTPTestServer, free_port
from website_monitor.cli import main
from website_monitor.probe import CheckOptions, Prober, collect_urls, run_rounds
from website_monitor.store import open_store
from website_monitor.transport.direct import StoreWriter


def test_status_time_and_phases(http_server: HTTPTestServer) -> None:
    with Prober(CheckOptions(timeout=5)) as prober:
        first = prober.check(f"{http_server.url}/delay/120")
        second = prober.check(f"{http_server.url}/status/503")
    assert first.http_status_code == 200
    assert first.response_time_ms is not None and 120 <= first.response_time_ms < 400
    assert first.ttfb_ms is not None and 115 <= first.ttfb_ms <= first.response_time_ms
    assert first.dns_ms is not None and first.connect_ms is not None
    assert first.tls_ms is None  # plain HTTP
    assert first.ok is True
    # the second request reuses the connection: no DNS, connect or TLS happened
    assert second.http_status_code == 503
    assert second.dns_ms is None and second.connect_ms is None
    assert second.ok is False and second.error is None


def test_expectations(http_server: HTTPTestServer) -> None:
    options = CheckOptions(timeout=5, expect_status=404, expect_regex=re.compile(r"hel+o"))
    with Prober(options) as prober:
        hello = prober.check(f"{http_server.url}/body?text=hello&status=404")
        other = prober.check(f"{http_server.url}/body?text=bye&status=404")
        wrong = prober.check(f"{http_server.url}/body?text=hello")
    assert (hello.content_match, hello.ok) == (True, True)
    assert (other.content_match, other.ok) == (False, False)
    assert (wrong.content_match, wrong.ok) == (True, False)


def test_failures_are_results(http_server: HTTPTestServer) -> None:
    closed = f"http://127.0.0.1:{free_port()}/"
    with Prober(CheckOptions(timeout=0.3)) as prober:
        refused = prober.check(closed)
        slow = prober.check(f"{http_server.url}/delay/2000")
        unknown = prober.check("http://does-not-exist.invalid/")
    assert (refused.error, refused.http_status_code, refused.response_time_ms) == (
        "refused",
        None,
        None,
    )
    assert refused.error_detail == "Connection refused"
    assert slow.error == "timeout"
    assert unknown.error == "dns"
    assert unknown.error_detail == "cannot resolve host 'does-not-exist.invalid'"


def test_concurrency_is_bounded_and_timings_stay_honest(http_server: HTTPTestServer) -> None:
    urls = [f"{http_server.url}/delay/200?n={i}" for i in range(20)]
    with Prober(CheckOptions(timeout=5), concurrency=10) as prober:
        started = time.perf_counter()
        results = prober.run(urls)
        elapsed = time.perf_counter() - started
    assert [r.url for r in results] == urls
    assert 0.4 <= elapsed < 3.0  # two waves of ten; twenty sequential requests take 4 s
    times = sorted(r.response_time_ms or 0 for r in results)
    assert 200 <= times[len(times) // 2] < 300


def test_collect_urls_reads_file_and_deduplicates(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "urls.txt"
    path.write_text("# sites\nhttp://a.test/\n\nhttp://b.test/\nhttp://a.test/\n")
    assert collect_urls(["http://c.test/"], str(path)) == [
        "http://c.test/",
        "http://a.test/",
        "http://b.test/",
    ]


def test_every_repeats_until_stopped(http_server: HTTPTestServer, sqlite_url: str) -> None:
    stop = threading.Event()
    rounds: list[int] = []

    def on_round(outcome) -> None:  # type: ignore[no-untyped-def]
        rounds.append(len(outcome.results))
        if len(rounds) == 3:
            stop.set()

    writer = StoreWriter(open_store(sqlite_url))
    with Prober(CheckOptions()) as prober:
        started = time.monotonic()
        failed = run_rounds(
            prober, writer, [http_server.url], every=0.2, stop=stop, on_round=on_round
        )
        elapsed = time.monotonic() - started
    assert failed == 0
    assert rounds == [1, 1, 1]
    assert 0.35 <= elapsed < 2.0
    assert writer.repository.count_probes() == 3
    writer.close()


def test_cli_prints_and_stores(http_server: HTTPTestServer, sqlite_url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "probe",
            f"{http_server.url}/status/201",
            "-u",
            f"{http_server.url}/delay/50",
            "-d",
            sqlite_url,
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["http_status_code"] for line in lines] == [201, 200]
    stats = json.loads(runner.invoke(main, ["stats", "-d", sqlite_url]).output)["stats"]
    assert [s["probes"] for s in stats] == [1, 1]


def test_cli_urls_from_environment(
    http_server: HTTPTestServer, sqlite_url: str, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("WM_URL", f"{http_server.url}/a,{http_server.url}/b {http_server.url}/c")
    result = CliRunner().invoke(main, ["probe", "-d", sqlite_url, "-q"])
    assert result.exit_code == 0 and result.output == ""
    assert http_server.hits == 3


def test_store_failure_exits_non_zero(http_server: HTTPTestServer, pg_url: str) -> None:
    """A result that cannot be stored is reported and the exit code says so."""
    import psycopg2

    with open_store(pg_url):
        pass
    conn = psycopg2.connect(pg_url)
    with conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE url_probes ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
    conn.close()
    result = CliRunner().invoke(main, ["probe", http_server.url, "-d", pg_url, "-q"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: 1 results were not stored: PostgreSQL error: ")
    assert "refuse_all" in result.output


def test_every_stops_cleanly_on_sigterm(
    http_server: HTTPTestServer, sqlite_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import os
    import signal
    import subprocess
    import sys

    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "website_monitor",
            "probe",
            http_server.url,
            "--every",
            "300ms",
            "-d",
            sqlite_url,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    deadline = time.monotonic() + 20
    while http_server.hits < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    rounds = out.decode().count(http_server.url)
    assert rounds >= 3
    with open_store(sqlite_url) as repository:
        assert repository.count_probes() == rounds
