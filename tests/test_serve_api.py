"""`wm serve` over real HTTP against a real store on both backends."""

from __future__ import annotations

import contextlib
import json
import socket
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from click.testing import CliRunner
from openapi_spec_validator import validate
from prometheus_client.parser import text_string_to_metric_families

from tests.services import TCPProxy, free_port, terminate_cleanly, wm_process
from tests.webserver import URLS, Served, sample_probes, serving, wait_until_answering, write
from website_monitor.cli import main
from website_monitor.config import parse_time
from website_monitor.deadletters.store import DeadLetter
from website_monitor.probes.codec import ProbeResult
from website_monitor.probes.counters import BOUNDS_MS, PHASES
from website_monitor.store import open_store
from website_monitor.store._sql import percentile_cont
from website_monitor.transport.writer import store_events
from website_monitor.web.app import decode_cursor, encode_cursor, registered_sections
from website_monitor.web.server import ServeError, is_loopback, parse_bind


@pytest.fixture
def probes() -> list[ProbeResult]:
    """Sample results of the last ten minutes, made when the test starts."""
    return sample_probes()


@pytest.fixture
def served(store_url: str, probes: list[ProbeResult]) -> Iterator[Served]:
    write(store_url, probes)
    with serving(store_url) as server:
        yield server


def cli_stats(store_url: str, *args: str) -> object:
    result = CliRunner().invoke(main, ["stats", "-d", store_url, *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.parametrize(
    "params",
    [
        [],
        [("url", URLS[1])],
        [("since", "5m")],
        [("by", "status")],
        [("url", URLS[0]), ("url", URLS[1]), ("until", "2m"), ("by", "status")],
    ],
)
def test_stats_is_what_wm_stats_prints(served: Served, params: list[tuple[str, str]]) -> None:
    # An age ("5m") is read when each request arrives: the same instant for both, or a probe
    # near the edge may fall on either side of it.
    now = datetime.now(timezone.utc)
    params = [
        (name, parse_time(value, now).isoformat() if name in ("since", "until") else value)
        for name, value in params
    ]
    response = served.get("/api/stats", params=params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    flags = [arg for name, value in params for arg in (f"--{name}", value)]
    assert response.json() == cli_stats(served.store_url, *flags)
    assert response.json()["stats"], "the sample data must give entries"


def test_a_query_holding_the_longest_url_is_answered(served: Served) -> None:
    """A URL of 8,192 characters, percent-encoded in `?url=` (48 KiB of request line) and
    arriving in pieces, as over a slow network: the app answers it."""
    import socket
    import time
    import urllib.parse

    from website_monitor.probes.codec import MAX_URL_LENGTH

    url = "https://example.org/" + "é" * (MAX_URL_LENGTH - 20)
    query = urllib.parse.urlencode({"url": url})
    where = urllib.parse.urlsplit(served.base).netloc
    request = f"GET /api/stats?{query} HTTP/1.1\r\nHost: {where}\r\nConnection: close\r\n\r\n"
    host, port = where.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        data = request.encode()
        for start in range(0, len(data), 20_000):
            conn.sendall(data[start : start + 20_000])
            time.sleep(0.05)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer[:200]
    assert json.loads(body)["stats"] == []


def _expected_series(probes: list[ProbeResult], bucket: int) -> dict[str, list[dict[str, object]]]:
    groups: dict[tuple[str, int], list[ProbeResult]] = defaultdict(list)
    for p in probes:
        groups[(p.url, int(p.timestamp.timestamp()) // bucket * bucket)].append(p)
    out: dict[str, list[dict[str, object]]] = defaultdict(list)
    for (url, start), members in sorted(groups.items()):
        times = [p.response_time_ms for p in members if p.response_time_ms is not None]
        point: dict[str, object] = {
            "t": datetime.fromtimestamp(start, timezone.utc).isoformat(),
            "probes": len(members),
        }
        for name, fraction in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
            value = percentile_cont(times, fraction)
            point[name] = None if value is None else pytest.approx(value, abs=1e-3)
        point["availability"] = pytest.approx(sum(bool(p.ok) for p in members) / len(members))
        out[url].append(point)
    return out


@pytest.mark.parametrize("bucket", [60, 180])
def test_series_has_percentiles_and_availability_per_bucket(
    served: Served, bucket: int, probes: list[ProbeResult]
) -> None:
    body = served.get("/api/probes/series", params={"bucket": f"{bucket}s"}).json()
    assert body["bucket_seconds"] == bucket
    expected = _expected_series(probes, bucket)
    assert [s["url"] for s in body["series"]] == sorted(expected)
    for entry in body["series"]:
        assert entry["points"] == expected[entry["url"]]


def test_series_filters_and_picks_a_bucket(served: Served, probes: list[ProbeResult]) -> None:
    # An absolute time: an age ("4m") would move between the request and the count below.
    cutoff = datetime.now(timezone.utc) - timedelta(minutes=4)
    params = {"url": URLS[0], "since": cutoff.isoformat()}
    body = served.get("/api/probes/series", params=params).json()
    assert [s["url"] for s in body["series"]] == [URLS[0]]
    recent = [p for p in probes if p.url == URLS[0] and p.timestamp >= cutoff]
    assert sum(p["probes"] for p in body["series"][0]["points"]) == len(recent)
    assert body["bucket_seconds"] == 10  # four minutes of data: 10 s buckets stay under 360 points


def test_metrics(served: Served, probes: list[ProbeResult]) -> None:
    with open_store(served.store_url) as repository:
        store_events(
            repository,
            [],
            [DeadLetter("probes", 0, n, b"not json", "value is not valid JSON") for n in (7, 8)],
        )
    response = served.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}

    latest = {
        url: max((p for p in probes if p.url == url), key=lambda p: p.timestamp) for url in URLS
    }
    success = {s.labels["url"]: s.value for s in families["wm_probe_success"].samples}
    assert success == {url: 1.0 if p.ok else 0.0 for url, p in latest.items()}
    assert set(success.values()) == {0.0, 1.0}, "the sample data ends with one failing URL"

    samples = families["wm_probe_duration_seconds"].samples
    for url in URLS:
        for phase, column in PHASES:
            values = [getattr(p, column) for p in probes if p.url == url]
            values = [v for v in values if v is not None]
            mine = [
                s for s in samples if s.labels.get("url") == url and s.labels.get("phase") == phase
            ]
            if not values:
                assert mine == []
                continue
            by_name = defaultdict(dict)
            for s in mine:
                by_name[s.name][s.labels.get("le")] = s.value
            assert by_name["wm_probe_duration_seconds_count"][None] == len(values)
            assert by_name["wm_probe_duration_seconds_sum"][None] == pytest.approx(
                sum(values) / 1000
            )
            for bound in BOUNDS_MS:
                expected = sum(v <= bound for v in values)
                assert by_name["wm_probe_duration_seconds_bucket"][repr(bound / 1000)] == expected
            assert by_name["wm_probe_duration_seconds_bucket"]["+Inf"] == len(values)

    assert families["wm_dead_letters"].samples[0].value == 2
    assert families["wm_schema_pending_migrations"].samples[0].value == 0
    stored = {s.labels["url"]: s.value for s in families["wm_probes"].samples}
    assert stored == {url: sum(p.url == url for p in probes) for url in URLS}


def test_openapi_is_valid_and_covers_the_routes(served: Served) -> None:
    document = served.get("/api/openapi.json").json()
    validate(document)
    for section in registered_sections():  # every route a section adds is described
        for route in section.routes:
            assert route.path in document["paths"], route.path
    for path in (
        "/api/stats",
        "/api/probes/series",
        "/api/probes/latest",
        "/api/events",
        "/api/store",
        "/api/deadletters",
        "/metrics",
    ):
        assert path in document["paths"]
        assert served.get(path, stream=True).status_code == 200


def test_store_status_and_latest(served: Served, probes: list[ProbeResult]) -> None:
    store = served.get("/api/store").json()
    assert store["probes"] == len(probes)
    assert store["schema"]["pending"] == 0
    latest = served.get("/api/probes/latest").json()["latest"]
    assert [p["url"] for p in latest] == sorted(URLS)
    for entry in latest:
        newest = max((p for p in probes if p.url == entry["url"]), key=lambda p: p.timestamp)
        assert entry["http_status_code"] == newest.http_status_code
        assert entry["response_time_ms"] == newest.response_time_ms
        assert datetime.fromisoformat(entry["timestamp"]) == newest.timestamp


class EventReader:
    """Server-sent events from one streaming response, read through one line iterator."""

    def __init__(self, response: requests.Response) -> None:
        self.lines = response.iter_lines(chunk_size=1, decode_unicode=True)

    def until(self, want: str, timeout: float) -> dict[str, object]:
        """Events until one named `want` arrives (the stream's read timeout bounds each wait)."""
        seen: list[dict[str, object]] = []
        event: dict[str, object] = {}
        deadline = time.monotonic() + timeout
        for raw in self.lines:
            if raw == "":
                if event:
                    seen.append(event)
                    if event.get("event") == want:
                        return event
                event = {}
            else:
                name, _, value = raw.partition(": ")
                if name == "data":
                    event["data"] = json.loads(value)
                elif name in ("event", "id"):
                    event[name] = value
            if time.monotonic() > deadline:
                break
        raise AssertionError(f"no {want!r} event within {timeout}s; saw {seen}")


def test_events_push_a_new_row(served: Served) -> None:
    with served.get("/api/events", stream=True) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = EventReader(response)
        hello = events.until("hello", 5)
        written_at = time.monotonic()
        fresh = ProbeResult("https://gamma.example/new", datetime.now(timezone.utc), 201, 42.5)
        write(served.store_url, [fresh])
        event = events.until("probe", 5)
        assert time.monotonic() - written_at < 5
    data = event["data"]
    assert isinstance(data, dict)
    assert (data["url"], data["http_status_code"], data["response_time_ms"]) == (
        fresh.url,
        201,
        42.5,
    )
    with open_store(served.store_url) as repository:
        ids = [row["id"] for row in repository.query("SELECT id FROM url_probes ORDER BY id")]
    assert data["id"] == ids[-1]  # the cursors are row ids (PostgreSQL's may have gaps)
    assert f"probe:{ids[-2]}" in str(hello["id"])
    assert f"probe:{ids[-1]}" in str(event["id"])

    # Reconnecting with Last-Event-ID resumes after it: nothing is missed in between.
    missed = ProbeResult("https://gamma.example/missed", datetime.now(timezone.utc), 200, 7.0)
    write(served.store_url, [missed])
    with served.get(
        "/api/events", stream=True, headers={"Last-Event-ID": str(event["id"])}
    ) as response:
        events = EventReader(response)
        resumed = events.until("probe", 5)
        assert resumed["data"]["url"] == missed.url  # type: ignore[index]
        # Dead letters have their own stream on the same connection.
        with open_store(served.store_url) as repository:
            store_events(
                repository, [], [DeadLetter("probes", 3, 99, b"\xff", "value is not valid UTF-8")]
            )
        letter = events.until("dead_letter", 5)["data"]
    assert isinstance(letter, dict)
    assert (letter["partition"], letter["offset"], letter["reason"]) == (
        3,
        99,
        "value is not valid UTF-8",
    )


def test_token_is_required_on_the_api(sqlite_url: str, probes: list[ProbeResult]) -> None:
    write(sqlite_url, probes)
    with serving(sqlite_url, token="s3cret-token") as served:
        for path in ("/api/stats", "/api/probes/series", "/api/events", "/metrics"):
            anonymous = requests.get(served.base + path, timeout=5)
            assert anonymous.status_code == 401
            assert anonymous.json()["error"].startswith("Error: missing or wrong bearer token")
            wrong = requests.get(
                served.base + path, headers={"Authorization": "Bearer nope"}, timeout=5
            )
            assert wrong.status_code == 401
        assert served.get("/api/stats").status_code == 200
        assert served.get("/metrics").status_code == 200
        with requests.get(
            served.base + "/api/events",
            params={"access_token": "s3cret-token"},
            stream=True,
            timeout=5,
        ) as response:
            assert response.status_code == 200
        assert requests.get(served.base + "/", timeout=5).status_code == 200
        document = served.get("/api/openapi.json").json()
        assert document["security"] == [{"bearer": []}]


def test_errors_are_json_error_lines(sqlite_url: str, probes: list[ProbeResult]) -> None:
    write(sqlite_url, probes)
    with serving(sqlite_url) as served:
        bad = served.get("/api/stats", params={"since": "yesterday-ish"})
        assert bad.status_code == 400
        assert bad.json()["error"].startswith("Error: query parameter since: invalid time")
        assert "(hint: " in bad.json()["error"]
        assert served.get("/api/stats", params={"by": "colour"}).status_code == 400
        assert served.get("/api/nope").json() == {"error": "Error: Not Found"}
        with open_store(sqlite_url) as repository:
            repository.execute("DROP TABLE url_probes")
        broken = served.get("/api/stats")
        assert broken.status_code == 500
        assert broken.headers["content-type"] == "application/json"
        assert broken.json()["error"].startswith("Error: SQLite query failed: no such table")
        assert "Traceback" not in broken.text


def test_wm_serve_runs_until_sigterm(sqlite_url: str, probes: list[ProbeResult]) -> None:
    write(sqlite_url, probes)
    port = free_port()
    with wm_process(
        "serve", "-d", sqlite_url, env={"WM_SERVE_BIND": f"127.0.0.1:{port}"}
    ) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(base)
        assert requests.get(base + "/api/stats", timeout=5).json() == cli_stats(sqlite_url)
        # An open live stream must not hold the shutdown up.
        with requests.get(base + "/api/events", stream=True, timeout=5) as stream:
            assert stream.status_code == 200
            stderr = terminate_cleanly(process)
    assert f"http://127.0.0.1:{port}/" in stderr


def test_port_in_use_is_one_error_line(sqlite_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with wm_process("serve", "-d", sqlite_url, "--bind", f"127.0.0.1:{port}") as process:
            stdout, stderr = process.communicate(timeout=20)
    assert process.returncode == 1
    assert stdout == ""
    assert stderr.strip().splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: address already in use"
        " (hint: stop what is using that port or pick another with --bind HOST:PORT)"
    ]


def test_serve_settings_from_the_config_file_and_what_overrides_them(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def in_use(port: int) -> str:
        return (
            f"Error: cannot listen on 127.0.0.1:{port}: address already in use"
            " (hint: stop what is using that port or pick another with --bind HOST:PORT)\n"
        )

    with contextlib.ExitStack() as stack:
        ports = []
        for _ in range(3):
            taken = stack.enter_context(socket.socket())
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            ports.append(taken.getsockname()[1])
        file_port, env_port, flag_port = ports
        config = tmp_path / "wm.toml"
        config.write_text(f'[serve]\nbind = "127.0.0.1:{file_port}"\n')
        runner = CliRunner()
        result = runner.invoke(main, ["serve", "-d", sqlite_url, "--config", str(config)])
        assert (result.exit_code, result.output) == (1, in_use(file_port))
        monkeypatch.setenv("WM_CONFIG", str(config))
        monkeypatch.setenv("WM_SERVE_BIND", f"127.0.0.1:{env_port}")
        result = runner.invoke(main, ["serve", "-d", sqlite_url])
        assert (result.exit_code, result.output) == (1, in_use(env_port))
        result = runner.invoke(
            main, ["serve", "-d", sqlite_url, "--bind", f"127.0.0.1:{flag_port}"]
        )
        assert (result.exit_code, result.output) == (1, in_use(flag_port))


def test_wm_serve_takes_its_token_from_the_config_file(
    sqlite_url: str, probes: list[ProbeResult], tmp_path: Path
) -> None:
    write(sqlite_url, probes)
    port = free_port()
    config = tmp_path / "wm.toml"
    config.write_text(f'[serve]\nbind = "127.0.0.1:{port}"\ntoken = "file-token"\n')
    with wm_process("serve", "-d", sqlite_url, env={"WM_CONFIG": str(config)}) as process:
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(base, token="file-token")
        assert requests.get(base + "/api/stats", timeout=5).status_code == 401
        authorized = {"Authorization": "Bearer file-token"}
        assert requests.get(base + "/api/stats", headers=authorized, timeout=5).status_code == 200
        stderr = terminate_cleanly(process)
    assert "file-token" not in stderr


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("max_body = 10", "Error: --max-body must be at least 1024\n"),
        ("max_lines = 0", "Error: --max-lines must be at least 1\n"),
        (
            "poll_interval = 100",
            "Error: --poll-interval of wm serve must be between 0.1 and 60 seconds\n",
        ),
        (
            "poll_interval = 'soon'",
            "Error: {path}:serve.poll_interval: invalid duration 'soon' (hint: use a number with"
            " a unit, e.g. 500ms, 30s, 5m, 1h, 7d)\n",
        ),
        (
            "tokn = 'x'",
            "Error: unknown setting 'serve.tokn' in {path} (hint: did you mean 'token'?)\n",
        ),
        (
            "colour = 'x'",
            "Error: unknown setting 'serve.colour' in {path} (hint: known keys in [serve]: ",
        ),
    ],
)
def test_serve_config_file_errors(sqlite_url: str, tmp_path: Path, text: str, line: str) -> None:
    config = tmp_path / "wm.toml"
    config.write_text(f"[serve]\n{text}\n")
    result = CliRunner().invoke(main, ["serve", "-d", sqlite_url, "--config", str(config)])
    assert result.exit_code == 1
    assert result.output.startswith(line.format(path=config))


def test_bad_bind_address(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["serve", "-d", sqlite_url, "--bind", "localhost"])
    assert result.exit_code == 1
    assert "Error: invalid bind address 'localhost' (hint: use HOST:PORT" in result.output


def test_store_outage_answers_503_and_recovers(pg_url: str, probes: list[ProbeResult]) -> None:
    write(pg_url, probes)
    parts = urlsplit(pg_url)
    proxy = TCPProxy(parts.port or 5432)
    through_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    try:
        with (
            serving(through_proxy) as served,
            served.get("/api/events", stream=True) as stream,
        ):
            events = EventReader(stream)
            events.until("hello", 5)
            proxy.cut()
            down = served.get("/api/stats")
            assert down.status_code == 503
            assert down.json()["error"].startswith("Error: ")
            assert "PostgreSQL" in down.json()["error"]
            assert "(hint: " in down.json()["error"]
            assert events.until("store", 5)["data"]["ok"] is False  # type: ignore[index]
            proxy.restore()
            wait_until_answering(served.base)
            assert events.until("store", 5)["data"] == {"ok": True}
            assert served.get("/api/stats").json() == cli_stats(pg_url)
    finally:
        proxy.close()


def test_bind_addresses_and_cursors() -> None:
    assert parse_bind("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_bind("[::1]:9") == ("::1", 9)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1")
    for bad in ("8080", "host:", "host:99999", ":80"):
        with pytest.raises(ServeError):
            parse_bind(bad)
    cursors = {"probe": 41, "dead_letter": 0}
    assert decode_cursor(encode_cursor(cursors)) == cursors
    assert decode_cursor("garbage,probe:x,probe:7") == {"probe": 7}
