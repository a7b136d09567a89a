"""`wm serve`'s hits, alerts and stations views and the log ingest, over real HTTP against
a real store on both backends, compared with what the CLI prints for the same store."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests import traffic
from tests.test_serve_api import EventReader
from tests.webserver import Served, sample_probes, serving, write
from website_monitor.store import open_store


@pytest.fixture
def log_hits(tmp_path: Path) -> tuple[Path, list[dict[str, Any]]]:
    log = tmp_path / "access.log"
    return log, traffic.access_log(log)


@pytest.fixture
def served(store_url: str, log_hits: tuple[Path, list[dict[str, Any]]]) -> Iterator[Served]:
    traffic.tail_follow(store_url, log_hits[0])
    traffic.telemetry(store_url)
    write(store_url, sample_probes())
    with serving(store_url) as server:
        yield server


def post_logs(served: Served, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {served.token}"} if served.token else {}
    headers.update(kwargs.pop("headers", {}))
    return requests.post(served.base + "/api/logs", headers=headers, timeout=10, **kwargs)


def test_views_are_what_the_cli_prints(served: Served) -> None:
    url = served.store_url
    # Absolute times: an age ("5m") would move between the API's answer and the CLI's.
    now = datetime.now(timezone.utc)

    def ago(minutes: float) -> str:
        return (now - timedelta(minutes=minutes)).isoformat()

    for params in ([], [("since", ago(5))], [("since", ago(8)), ("until", ago(3))]):
        flags = [arg for name, value in params for arg in (f"--{name}", value)]
        body = served.get("/api/hits", params=params).json()
        assert body == traffic.cli_json("stats", "--hits", "-d", url, *flags)
        assert body["hits"], params

    alerts = served.get("/api/alerts").json()
    assert alerts == traffic.cli_json("alerts", "-d", url)
    # The sample log has one burst that ended and one still going at its end.
    assert [a["ended_at"] is None for a in alerts["alerts"]] == [False, True]
    assert served.get("/api/alerts", params={"source": "elsewhere"}).json() == {"alerts": []}
    assert served.get("/api/alerts", params={"source": traffic.SOURCE}).json() == alerts

    for params in ([], [("since", ago(3))], [("station", "search")]):
        flags = [arg for name, value in params for arg in (f"--{name}", value)]
        body = served.get("/api/stations", params=params).json()
        assert body == traffic.cli_json("stations", "-d", url, *flags)
        assert body["stations"], params
    names = {
        b["name"]
        for b in served.get("/api/stations", params={"station": "search"}).json()["stations"]
    }
    assert names == {"search"}


@pytest.mark.parametrize("bucket", [10, 60])
def test_hit_series_per_bucket_with_the_threshold(
    served: Served, log_hits: tuple[Path, list[dict[str, Any]]], bucket: int
) -> None:
    body = served.get("/api/hits/series", params={"bucket": f"{bucket}s"}).json()
    assert body["bucket_seconds"] == bucket
    counts = Counter(int(h["t"].timestamp()) // bucket * bucket for h in log_hits[1])
    [series] = body["series"]
    assert series["source"] == traffic.SOURCE
    assert series["threshold"] == traffic.THRESHOLD
    assert series["points"] == [
        {
            "t": datetime.fromtimestamp(start, timezone.utc).isoformat(),
            "hits": n,
            "hits_per_second": round(n / bucket, 6),
        }
        for start, n in sorted(counts.items())
    ]


def test_metrics_for_hits_alerts_and_telemetry(
    served: Served, log_hits: tuple[Path, list[dict[str, Any]]]
) -> None:
    families = {f.name: f for f in text_string_to_metric_families(served.get("/metrics").text)}

    def samples(name: str, label: str) -> dict[str, float]:
        wanted = (name, name + "_total")
        return {s.labels[label]: s.value for s in families[name].samples if s.name in wanted}

    assert samples("wm_hits", "source") == {traffic.SOURCE: len(log_hits[1])}
    assert samples("wm_alerts_active", "source") == {traffic.SOURCE: 1.0}
    assert samples("wm_alerts", "source") == {traffic.SOURCE: 2.0}
    stations = traffic.cli_json("stations", "-d", served.store_url)["stations"]
    assert samples("wm_telemetry_buckets", "type") == {"station": float(len(stations))}
    for name in traffic.STATIONS:
        mine = [b for b in stations if b["name"] == name]
        assert samples("wm_telemetry_arrivals", "station")[name] == sum(b["arrivals"] for b in mine)
        assert samples("wm_telemetry_departures", "station")[name] == sum(
            b["departures"] for b in mine
        )
    now = datetime.now(timezone.utc)
    newest_hit = max(h["t"] for h in log_hits[1])
    age = families["wm_hits_newest_age_seconds"].samples[0].value
    assert (now - newest_hit).total_seconds() - 5 <= age <= (now - newest_hit).total_seconds() + 1
    newest_probe = max(p.timestamp for p in sample_probes(now))
    age = families["wm_probe_newest_age_seconds"].samples[0].value
    assert 0 <= age <= (now - newest_probe).total_seconds() + 10
    updated = families["wm_telemetry_last_update_timestamp_seconds"].samples[0].value
    assert now.timestamp() - 120 < updated <= now.timestamp() + 1


def test_ingest_answers_every_line_and_stores_the_good_ones(served: Served) -> None:
    now = datetime.now(timezone.utc) - timedelta(seconds=30)
    good = [traffic.clf(now, "/ingested/a", 200, 10), traffic.clf(now, "/ingested/b", 500, 20)]
    lines = [
        good[0],
        "not a log line",
        "",
        good[1],
        traffic.clf(now + timedelta(hours=3), "/future", 200, 1),
        "two\nlines",
        traffic.clf(datetime(1969, 12, 31, 23, 59, tzinfo=timezone.utc), "/old", 200, 1),
    ]
    before = served.get("/api/hits").json()
    response = post_logs(served, json={"source": "host1", "lines": lines})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "accepted": 2,
        "stored": 2,
        "rejected": [
            {"line": 1, "reason": "not a valid clf access-log line"},
            {"line": 4, "reason": "timestamp more than an hour ahead of the server clock"},
            {"line": 5, "reason": "more than one line"},
            {"line": 6, "reason": "timestamp before 1970"},
        ],
        "ignored": [{"line": 2, "reason": "blank line"}],
    }
    after = served.get("/api/hits").json()
    assert after == traffic.cli_json("stats", "--hits", "-d", served.store_url)
    ingested = next(s for s in after["hits"] if s["section"] == "/ingested")
    assert (ingested["hits"], ingested["errors"], ingested["bytes"]) == (2, 1, 30)
    assert "/ingested" not in {s["section"] for s in before["hits"]}
    sources = {s["source"] for s in served.get("/api/hits/series").json()["series"]}
    assert sources == {traffic.SOURCE, "host1"}

    # text/plain with ?source=; a retried batch stores nothing twice; a W3C batch.
    text = "\n".join(good).encode() + b"\n\xff\xfe bad bytes\n"
    first = post_logs(
        served,
        params={"source": "host2", "batch": "b-1"},
        data=text,
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    assert first.json() == {
        "accepted": 2,
        "stored": 2,
        "rejected": [{"line": 2, "reason": "not valid UTF-8"}],
        "ignored": [],
    }
    again = post_logs(
        served, params={"source": "host2", "batch": "b-1"}, data=text,
        headers={"Content-Type": "text/plain"},
    )  # fmt: skip
    assert again.json()["accepted"] == 2 and again.json()["stored"] == 0
    w3c = [
        "#Version: 1.0",
        "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-bytes",
        f"{now:%Y-%m-%d %H:%M:%S} 10.1.1.1 GET /w3c/x 404 77",
        "2026-13-01 00:00:00 10.1.1.1 GET /w3c/x 404 77",
    ]
    answer = post_logs(served, json={"source": "iis", "lines": w3c, "format": "w3c"}).json()
    assert answer == {
        "accepted": 1,
        "stored": 1,
        "rejected": [{"line": 3, "reason": "not a valid w3c access-log line"}],
        "ignored": [{"line": 0, "reason": "W3C directive"}, {"line": 1, "reason": "W3C directive"}],
    }
    with open_store(served.store_url) as repository:
        rows = repository.query("SELECT source, count(*) AS n FROM hits GROUP BY source")
    assert {r["source"]: int(r["n"]) for r in rows}["host2"] == 2


def test_ingest_limits_and_bad_requests(sqlite_url: str) -> None:
    with serving(sqlite_url, token="ingest-token", max_body=4096, max_lines=5) as served:
        line = traffic.clf(datetime.now(timezone.utc), "/x", 200, 1)
        anonymous = requests.post(
            served.base + "/api/logs", json={"source": "h", "lines": [line]}, timeout=10
        )
        assert anonymous.status_code == 401
        assert post_logs(served, json={"source": "h", "lines": [line]}).json()["stored"] == 1

        big = post_logs(served, json={"source": "h", "lines": [line] * 200})
        assert big.status_code == 413
        assert big.json()["error"].startswith("Error: request body of ")
        chunked = post_logs(
            served,
            data=iter([b"x" * 3000, b"y" * 3000]),
            params={"source": "h"},
            headers={"Content-Type": "text/plain"},
        )
        assert chunked.status_code == 413
        assert chunked.json() == {"error": "Error: request body is over the limit of 4096 bytes"}
        many = post_logs(served, json={"source": "h", "lines": [line] * 6})
        assert many.status_code == 413
        assert many.json() == {"error": "Error: 6 lines is over the limit of 5 per request"}

        for body, message in (
            ({"lines": [line]}, "Error: source is missing"),
            ({"source": "h", "lines": "x"}, "Error: lines must be a list of strings"),
            ({"source": "h", "lines": [1]}, "Error: lines must be a list of strings"),
            ({"source": "h", "lines": [], "format": "xml"}, "Error: unknown log format 'xml'"),
        ):
            answer = post_logs(served, json=body)
            assert answer.status_code == 400
            assert answer.json()["error"].startswith(message)
        assert (
            post_logs(served, data="{", headers={"Content-Type": "application/json"}).status_code
            == 400
        )
        assert post_logs(served, data="x", headers={"Content-Type": "image/png"}).status_code == 415
        assert served.get("/api/logs").status_code == 405

        # A web page elsewhere cannot make a browser post lines (text/plain needs no preflight).
        foreign = post_logs(
            served,
            params={"source": "h"},
            data=line,
            headers={"Content-Type": "text/plain", "Origin": "https://evil.example"},
        )
        assert foreign.status_code == 403
        assert foreign.json()["error"].startswith(
            "Error: cross-origin POST from https://evil.example refused"
        )
        own = post_logs(
            served,
            params={"source": "h"},
            data=line,
            headers={"Content-Type": "text/plain", "Origin": served.base},
        )
        assert own.status_code == 200


def test_live_events_for_hits_alerts_and_buckets(store_url: str, tmp_path: Path) -> None:
    with (
        serving(store_url, poll_interval=0.2) as served,
        served.get("/api/events", stream=True) as stream,
    ):
        events = EventReader(stream)
        events.until("hello", 5)
        line = traffic.clf(datetime.now(timezone.utc), "/live", 200, 5)
        post_logs(served, json={"source": "live1", "lines": [line, line]})
        hits = events.until("hits", 5)["data"]
        assert hits["hits"] == 2  # type: ignore[index]
        assert hits["sources"]["live1"]["hits"] == 2  # type: ignore[index]

        traffic.telemetry(store_url)
        bucket = events.until("bucket", 5)["data"]
        assert bucket["name"] in traffic.STATIONS  # type: ignore[index]

        log = tmp_path / "burst.log"
        traffic.access_log(log)
        traffic.tail_follow(store_url, log, source="live2")
        # The stream may first hold the change of the log's first alert, opened and
        # resolved while the tail read the burst: the open one arrives after it.
        deadline = time.monotonic() + 10
        open_sources: list[str] = []
        while open_sources != ["live2"] and time.monotonic() < deadline:
            alerts = events.until("alerts", max(deadline - time.monotonic(), 0.1))["data"]
            open_sources = [a["source"] for a in alerts["open"]]  # type: ignore[index]
        assert open_sources == ["live2"]


def test_openapi_describes_the_new_routes(served: Served) -> None:
    document = served.get("/api/openapi.json").json()
    for path in ("/api/hits", "/api/hits/series", "/api/alerts", "/api/stations"):
        assert "get" in document["paths"][path]
    assert "post" in document["paths"]["/api/logs"]
    described = document["paths"]["/api/events"]["get"]["description"]
    for event in ("`hits`", "`alerts`", "`bucket`"):
        assert event in described


def test_serve_flags_for_the_ingest_limits(sqlite_url: str) -> None:
    from tests.services import free_port, terminate_cleanly, wm_process
    from tests.webserver import wait_until_answering

    port = free_port()
    with wm_process(
        "serve", "-d", sqlite_url, "--bind", f"127.0.0.1:{port}", "--max-lines", "2",
        "--max-body", "2048",
    ) as process:  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        wait_until_answering(base)
        line = traffic.clf(datetime.now(timezone.utc), "/x", 200, 1)
        answer = requests.post(
            base + "/api/logs", json={"source": "h", "lines": [line] * 3}, timeout=10
        )
        assert answer.status_code == 413
        answer = requests.post(
            base + "/api/logs", json={"source": "h", "lines": ["y" * 3000]}, timeout=10
        )
        assert answer.status_code == 413
        terminate_cleanly(process)
