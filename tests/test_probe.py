"""HTTP checks against a local server with known delays and statuses."""

from __future__ import annotations

import gc
import json
import re
import socket
import ssl
import statistics
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner

from tests.services import (
    HTTPTestServer,
    TLSProxy,
    free_port,
    http_server_process,
    wait_until,
)
from website_monitor.cli import main
from website_monitor.deadletters.store import dead_letters
from website_monitor.probes.check import (
    MAX_REDIRECTS,
    CheckOptions,
    Prober,
    collect_urls,
    run_rounds,
)
from website_monitor.probes.queries import count_probes
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
    assert slow.error_detail == "no complete response within 0.3s"
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


def test_timings_stay_correct_under_concurrency() -> None:
    """Twenty checks in flight on one loop: each records its own time, not a queue's.

    The server runs in its own process (an in-process one would compete for the
    interpreter lock and show up as latency) and a first round opens the
    connections, so what is measured is the prober's bookkeeping, not connection
    setup on a thread-per-connection server.
    """
    with http_server_process() as base:
        urls = [f"{base}/delay/50?n={i}" for i in range(40)]
        with Prober(CheckOptions(timeout=10), concurrency=20) as prober:
            prober.run(urls[:20])
            results = prober.run(urls)
    assert [r.url for r in results] == urls
    times = [r.response_time_ms for r in results]
    assert all(t is not None and t >= 50 for t in times), times
    assert statistics.median(t or 0 for t in times) < 50 + 15


def test_rounds_reuse_connections(http_server: HTTPTestServer) -> None:
    urls = [f"{http_server.url}/status/202?n={i}" for i in range(4)]
    with Prober(CheckOptions(timeout=5), concurrency=2) as prober:
        first = prober.run(urls)
        second = prober.run(urls)
    assert [r.http_status_code for r in first + second] == [202] * 8
    opened = [r for r in first if r.connect_ms is not None]
    assert 1 <= len(opened) <= 2  # at most one connection per check in flight
    assert all(r.dns_ms is not None and r.tls_ms is None for r in opened)
    for result in second:
        assert (result.dns_ms, result.connect_ms, result.tls_ms) == (None, None, None)
        assert result.ttfb_ms is not None and result.response_time_ms is not None


@pytest.fixture
def tls_site(http_server: HTTPTestServer, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """https://localhost:PORT in front of the test server, and the file of the CA it trusts."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    proxy = TLSProxy(int(http_server.url.rsplit(":", 1)[1]), context)
    try:
        yield f"https://localhost:{proxy.port}", str(ca_file)
    finally:
        proxy.close()


def test_phases_on_a_tls_server(tls_site: tuple[str, str], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url, ca_file = tls_site
    monkeypatch.setenv("SSL_CERT_FILE", ca_file)
    with Prober(CheckOptions(timeout=5)) as prober:
        first = prober.check(f"{url}/delay/30")
        second = prober.check(f"{url}/status/200")
    assert (first.http_status_code, first.ok, first.error) == (200, True, None)
    assert first.dns_ms is not None and first.connect_ms is not None
    assert first.tls_ms is not None and first.tls_ms > 0
    assert first.ttfb_ms is not None and 30 <= first.ttfb_ms <= first.response_time_ms  # type: ignore[operator]
    # the handshake is part of the total time, and not counted as connect time
    setup = first.dns_ms + first.connect_ms + first.tls_ms
    assert first.response_time_ms is not None and first.response_time_ms >= setup + 30
    assert (second.http_status_code, second.dns_ms, second.connect_ms, second.tls_ms) == (
        200,
        None,
        None,
        None,
    )


def test_untrusted_certificate_is_a_tls_error(tls_site: tuple[str, str], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    url, _ = tls_site
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with Prober(CheckOptions(timeout=5)) as prober:
        result = prober.check(url)
    assert (result.error, result.http_status_code, result.ok) == ("tls", None, False)
    assert result.error_detail is not None
    assert result.error_detail.startswith("certificate verify failed")
    assert result.connect_ms is not None and result.tls_ms is None


def test_redirects_are_followed_up_to_a_limit(http_server: HTTPTestServer) -> None:
    with Prober(CheckOptions(timeout=5)) as prober:
        followed = prober.check(f"{http_server.url}/redirect/{MAX_REDIRECTS}")
        too_many = prober.check(f"{http_server.url}/redirect/{MAX_REDIRECTS + 1}")
        loop = prober.check(f"{http_server.url}/loop")
        elsewhere = prober.check(f"{http_server.url}/?location=ftp://files.invalid/x")
    assert (followed.http_status_code, followed.ok) == (200, True)
    assert (too_many.error, too_many.error_detail) == ("redirects", "more than 30 redirects")
    assert loop.error == "redirects"
    assert elsewhere.error == "invalid"


@pytest.fixture
def hangup_server() -> Iterator[str]:
    """A server that reads the request and closes the connection without an answer."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)

    threading.Thread(target=serve, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    finally:
        listener.close()


def test_hang_up_is_a_connection_error(hangup_server: str) -> None:
    with Prober(CheckOptions(timeout=5)) as prober:
        result = prober.check(hangup_server)
    assert (result.error, result.http_status_code) == ("connection", None)
    assert result.error_detail
    assert "\n" not in result.error_detail


def test_body_is_decoded_with_the_response_charset(http_server: HTTPTestServer) -> None:
    options = CheckOptions(timeout=5, expect_regex=re.compile("caf\u00e9"))
    with Prober(options) as prober:
        result = prober.check(f"{http_server.url}/body?text=caf%C3%A9")
    assert (result.content_match, result.ok) == (True, True)


def test_close_leaves_nothing_behind(http_server: HTTPTestServer) -> None:
    threads = set(threading.enumerate())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prober = Prober(CheckOptions(timeout=5), concurrency=4)
        prober.run([f"{http_server.url}/?n={i}" for i in range(8)])
        prober.check("http://does-not-exist.invalid/")  # a lookup runs on a helper thread
        prober.close()
        prober.close()  # idempotent
        del prober
        gc.collect()
    assert [str(w.message) for w in caught] == []
    # The test server's handler threads end once they see the closed connections;
    # a thread of the prober's would never end.
    assert wait_until(lambda: set(threading.enumerate()) <= threads, 10, 0.05)


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
    assert count_probes(writer.repository) == 3
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
    error = next(line for line in result.output.splitlines() if line.startswith("Error:"))
    assert error.startswith(
        "Error: 1 of 1 results were refused by the store and kept in dead_letters:"
        " rejected by the store: PostgreSQL refused the data: "
    )
    assert "refuse_all" in error
    assert "(hint: `wm dlq list` shows them" in error
    with open_store(pg_url) as repository:  # kept, not spooled: the next run starts clean
        [letter] = dead_letters(repository)
    assert letter.topic == "(direct)" and "refuse_all" in letter.reason
    assert b'"kind":"probe"' in (letter.value or b"")
    again = CliRunner().invoke(main, ["probe", http_server.url, "-d", pg_url, "-q"])
    assert again.exit_code == 1 and "1 of 1 results" in again.output


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
        assert count_probes(repository) == rounds
