"""tcp:// and dns:// checks against servers the tests start on loopback, through the pipeline."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from dnslib import AAAA, QTYPE, RCODE, RR, TXT, A, DNSRecord
from dnslib.server import BaseResolver, DNSHandler, DNSLogger, DNSServer

from tests.services import free_port
from website_monitor.cli import main
from website_monitor.errors import ConfigError
from website_monitor.probes.check import CheckOptions, Prober, collect_urls
from website_monitor.probes.conditions import parse_all


class BannerServer:
    """A TCP listener that greets with a banner, answers PING with PONG, or stays silent."""

    def __init__(self, banner: bytes = b"220 ready\r\n") -> None:
        self.banner = banner
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self._threads: list[threading.Thread] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                if self.banner:
                    conn.sendall(self.banner)
                conn.settimeout(5)
                while data := conn.recv(1024):
                    if b"PING" in data:
                        conn.sendall(b"PONG\r\n")
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for thread in self._threads:
            thread.join(5)


@pytest.fixture
def banner_server() -> Iterator[BannerServer]:
    server = BannerServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def silent_server() -> Iterator[BannerServer]:
    server = BannerServer(banner=b"")
    try:
        yield server
    finally:
        server.close()


def test_tcp_connect(banner_server: BannerServer) -> None:
    url = f"tcp://127.0.0.1:{banner_server.port}"
    with Prober(CheckOptions(timeout=5, location="lab")) as prober:
        result = prober.check(url)
    assert (result.url, result.ok, result.error, result.http_status_code) == (url, True, None, None)
    assert result.dns_ms == 0.0  # an IP address: nothing resolved
    assert result.connect_ms is not None and result.response_time_ms is not None
    assert result.response_time_ms >= result.connect_ms
    assert result.ttfb_ms is None  # nothing was read
    assert result.location == "lab"


def test_tcp_banner_and_exchange(banner_server: BannerServer) -> None:
    base = f"tcp://localhost:{banner_server.port}"
    with Prober(CheckOptions(timeout=5)) as prober:
        banner = prober.check(f"{base}?expect=220%20ready")
        pong = prober.check(f"{base}?send=PING%0D%0A&expect=PONG")
    with Prober(CheckOptions(timeout=0.5)) as prober:
        # the server keeps the connection open: judged on what it sent in the time given
        wrong = prober.check(f"{base}?expect=SSH-2.0")
    assert (banner.ok, banner.error) == (True, None)
    assert banner.dns_ms is not None and banner.dns_ms > 0  # a name was resolved
    assert banner.ttfb_ms is not None and banner.ttfb_ms <= banner.response_time_ms  # type: ignore[operator]
    assert (pong.ok, pong.error) == (True, None)
    assert (wrong.ok, wrong.error) == (False, "condition")
    assert wrong.failed_condition == 'body contains "SSH-2.0"'
    assert wrong.error_detail == 'body does not contain "SSH-2.0"'


def test_tcp_failures_are_results(silent_server: BannerServer) -> None:
    closed = f"tcp://127.0.0.1:{free_port()}"
    with Prober(CheckOptions(timeout=0.3)) as prober:
        refused = prober.check(closed)
        silent = prober.check(f"tcp://127.0.0.1:{silent_server.port}?expect=hello")
        unknown = prober.check("tcp://does-not-exist.invalid:25")
    assert (refused.error, refused.ok, refused.response_time_ms) == ("refused", False, None)
    assert (silent.error, silent.error_detail) == ("timeout", "no answer within 0.3s")
    assert silent.connect_ms is not None  # it connected, then waited for the banner
    assert unknown.error == "dns"


def test_tcp_conditions(banner_server: BannerServer) -> None:
    conditions = parse_all(['body ~ "^220 "', "connect < 10s", "status == 200"])
    with Prober(CheckOptions(timeout=5, conditions=conditions)) as prober:
        result = prober.check(f"tcp://127.0.0.1:{banner_server.port}?expect=ready")
    # `status` does not apply to a TCP check: skipped, not failed
    assert (result.ok, result.failed_condition) == (True, None)


# --- DNS ---------------------------------------------------------------------------------------

ZONE = {
    ("svc.test.", "A"): ["10.1.2.3", "10.1.2.4"],
    ("svc.test.", "TXT"): ["v=spf1 -all"],
    ("v6.test.", "AAAA"): ["2001:db8::1"],
}


class ZoneResolver(BaseResolver):  # type: ignore[misc]
    def __init__(self) -> None:
        self.queries = 0

    def resolve(self, request: DNSRecord, handler: DNSHandler) -> DNSRecord:
        self.queries += 1
        reply = request.reply()
        name, kind = str(request.q.qname), QTYPE[request.q.qtype]
        if not any(known == name for known, _ in ZONE):
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for value in ZONE.get((name, kind), []):
            data = {"A": A, "AAAA": AAAA, "TXT": TXT}[kind](value)
            reply.add_answer(RR(name, getattr(QTYPE, kind), rdata=data, ttl=60))
        return reply


class Quiet(DNSLogger):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__("-request,-reply,-truncated,-error,-recv,-send,-data")


@pytest.fixture
def dns_server() -> Iterator[tuple[str, ZoneResolver]]:
    resolver = ZoneResolver()
    server = DNSServer(resolver, address="127.0.0.1", port=0, logger=Quiet())
    server.start_thread()
    port = server.server.server_address[1]
    try:
        yield f"127.0.0.1:{port}", resolver
    finally:
        server.stop()
        server.server.server_close()


def test_dns_answers(dns_server: tuple[str, ZoneResolver]) -> None:
    server, resolver = dns_server
    urls = {
        "a": f"dns://svc.test?server={server}",
        "expected": f"dns://svc.test?type=A&server={server}&expect=10.1.2.4",
        "both": f"dns://svc.test?server={server}&expect=10.1.2.3&expect=10.1.2.4",
        "wrong": f"dns://svc.test?server={server}&expect=10.9.9.9",
        "txt": f"dns://svc.test?type=TXT&server={server}&expect=v%3Dspf1%20-all",
        "aaaa": f"dns://v6.test?type=AAAA&server={server}&expect=2001:DB8:0::1",
        "none": f"dns://svc.test?type=AAAA&server={server}",
        "missing": f"dns://nowhere.test?server={server}",
    }
    with Prober(CheckOptions(timeout=5)) as prober:
        got = {name: prober.check(url) for name, url in urls.items()}
    for name in ("a", "expected", "both", "txt", "aaaa"):
        result = got[name]
        assert (name, result.ok, result.error) == (name, True, None), result
        assert result.url == urls[name]
        assert result.response_time_ms is not None and result.dns_ms == result.response_time_ms
        assert result.http_status_code is None and result.connect_ms is None
    wrong = got["wrong"]
    assert (wrong.ok, wrong.error) == (False, "condition")
    assert wrong.failed_condition == 'answers contains "10.9.9.9"'
    assert wrong.error_detail is not None and "10.1.2.3" in wrong.error_detail
    assert (got["none"].error, got["none"].error_detail) == ("dns", "no AAAA record for svc.test")
    assert got["missing"].error == "dns" and "NXDOMAIN" in (got["missing"].error_detail or "")
    assert resolver.queries >= len(urls)


def test_dns_conditions(dns_server: tuple[str, ZoneResolver]) -> None:
    server, _ = dns_server
    conditions = parse_all(["answers contains '10.1.2.3'", "total < 5s", 'body ~ "10\\.1\\."'])
    with Prober(CheckOptions(timeout=5, conditions=conditions)) as prober:
        result = prober.check(f"dns://svc.test?server={server}")
    assert (result.ok, result.failed_condition) == (True, None)


def test_dns_server_that_does_not_answer() -> None:
    quiet = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    quiet.bind(("127.0.0.1", 0))
    try:
        port = quiet.getsockname()[1]
        with Prober(CheckOptions(timeout=0.5)) as prober:
            result = prober.check(f"dns://svc.test?server=127.0.0.1:{port}")
    finally:
        quiet.close()
    assert (result.error, result.ok) == ("timeout", False)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("tcp://host", "no port"),
        ("tcp://host:25/path", "invalid URL"),
        ("tcp://host:25?sned=x", "unknown parameter 'sned'"),
        ("tcp://host:25?expect=", "empty expect="),
        ("dns://example.org?type=B", "unsupported DNS type 'B'"),
        ("dns://example.org?x=1", "unknown parameter 'x'"),
        ("dns://example.org:53", "invalid URL"),
        ("dns://example.org?type=A&type=MX", "more than once"),
        ("ftp://example.org/", "invalid URL"),
    ],
)
def test_bad_check_urls_fail_at_start(url: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        collect_urls([url], None)
    assert message in caught.value.message, caught.value.message


def test_through_the_pipeline(
    banner_server: BannerServer, dns_server: tuple[str, ZoneResolver], store_url: str
) -> None:
    """wm probe stores TCP and DNS results under the URL as given; wm stats reports them."""
    server, _ = dns_server
    urls = [
        f"tcp://127.0.0.1:{banner_server.port}?expect=220",
        f"dns://svc.test?server={server}&expect=10.1.2.3",
        f"dns://svc.test?server={server}&expect=10.9.9.9",
    ]
    for _ in range(2):
        result = CliRunner().invoke(
            main, ["probe", *urls, "-d", store_url, "--location", "eu-1", "-q"]
        )
        assert result.exit_code == 0, result.output
    stats = CliRunner().invoke(main, ["stats", "-d", store_url, "--by", "location"])
    assert stats.exit_code == 0, stats.output
    entries = {e["url"]: e for e in json.loads(stats.stdout)["stats"]}
    assert sorted(entries) == sorted(urls)
    for url in urls:
        assert entries[url]["location"] == "eu-1"
        assert entries[url]["probes"] == 2
    assert entries[urls[0]]["availability"] == 1.0
    assert entries[urls[1]]["availability"] == 1.0
    assert (entries[urls[2]]["availability"], entries[urls[2]]["errors"]) == (0.0, 2)


def test_a_store_from_before_the_new_columns_is_upgraded(store_url: str) -> None:
    """Rows stored before the checks migration keep NULL in its columns; new rows fill them."""
    from datetime import datetime, timezone

    from website_monitor import features
    from website_monitor.probes.schema import CHECKS
    from website_monitor.store import migrate, open_store

    # Every migration released before the checks one (later ones build on its columns).
    before = [
        (
            feature.name,
            list(feature.migrations[: feature.migrations.index(CHECKS)])
            if CHECKS in feature.migrations
            else list(feature.migrations),
        )
        for feature in features.FEATURES
    ]
    after_checks = sum(
        len(f.migrations) - f.migrations.index(CHECKS)
        for f in features.FEATURES
        if CHECKS in f.migrations
    )
    old_columns = (
        "event_id, url, timestamp, http_status_code, response_time_ms, error, error_detail,"
        " content_match, ok, dns_ms, connect_ms, tls_ms, ttfb_ms"
    )
    with open_store(store_url, migrate=False) as repository, repository.transaction() as tx:
        migrate.apply(tx, before)
        mark = tx.dialect.marks(13)
        tx.execute(
            f"INSERT INTO url_probes ({old_columns}) VALUES ({mark})",
            (
                "6f1c1f7e-3b7a-4f57-9a59-3c1f0f3d9b10",
                "https://old.example/",
                datetime.now(timezone.utc),
                200,
                12.5,
                None,
                None,
                None,
                True,
                None,
                None,
                None,
                None,
            ),
        )
    result = CliRunner().invoke(main, ["db", "status", "-d", store_url])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["pending"] == after_checks  # 0009_checks and those after
    with open_store(store_url) as repository:  # applies them
        assert repository.schema_status().pending == 0
    probe = CliRunner().invoke(
        main,
        [
            "probe",
            "dns://nowhere.invalid?server=127.0.0.1:9",
            "-d",
            store_url,
            "-q",
            "--timeout",
            "0.3",
            "--location",
            "lab",
        ],
    )
    assert probe.exit_code == 0, probe.output
    stats = CliRunner().invoke(main, ["stats", "-d", store_url, "--by", "location"])
    assert stats.exit_code == 0, stats.output
    entries = {(e["url"], e["location"]) for e in json.loads(stats.stdout)["stats"]}
    assert entries == {
        ("https://old.example/", None),
        ("dns://nowhere.invalid?server=127.0.0.1:9", "lab"),
    }
