"""The largest values the codecs accept, added up: a response size or a station count near
2**63 is valid on its own, and a few of them must not make a sum fail (SQLite's sum()
raises "integer overflow" where PostgreSQL's gives a numeric): the rollups keep up and
`wm stats --hits`, `/api/hits` and `/metrics` answer."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import requests

from tests.traffic import cli_json
from tests.webserver import serving
from website_monitor.logs import rollups as hit_rollups
from website_monitor.logs.codec import Hit
from website_monitor.store import open_store
from website_monitor.telemetry.codec import TelemetryBucket
from website_monitor.transport.writer import store_events

LARGEST = 2**63 - 1


def test_the_largest_sizes_and_counts_add_up(store_url: str) -> None:
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0) - timedelta(minutes=3)
    hits = [
        Hit(now + timedelta(seconds=i), "web1", "10.0.0.1", None, "GET", "/big", "/big", 200,
            LARGEST)
        for i in range(3)
    ]  # fmt: skip
    buckets = [
        TelemetryBucket(name="busy", metric_type="station", bucket_start=now + timedelta(
            minutes=i), bucket_seconds=60, emitted_at=now, arrivals=LARGEST,
            departures=LARGEST, event_id=str(uuid.uuid4()))
        for i in range(2)
    ]  # fmt: skip
    with open_store(store_url) as repository:
        assert store_events(repository, [*hits, *buckets]) == 5
        assert hit_rollups.catch_up(repository) == 3
        assert hit_rollups.pending(repository) == 0
        store_events(repository, [Hit(now, "web1", "10.0.0.1", None, "GET", "/a", "/a", 200, 5)])
        assert hit_rollups.catch_up(repository) == 1  # what comes after is rolled up too
    expected = 3 * LARGEST
    for source in ("--exact", "--rollups"):
        sections = cli_json("stats", "--hits", source, "-d", store_url)["hits"]
        big = {s["section"]: s for s in sections}["/big"]
        assert big["hits"] == 3
        assert abs(big["bytes"] - expected) / expected < 1e-9, source
    with serving(store_url) as served:
        answer = served.get("/api/hits")
        assert answer.status_code == 200, answer.text
        assert {s["section"] for s in answer.json()["hits"]} == {"/a", "/big"}
        metrics = requests.get(served.base + "/metrics", timeout=10)
        assert metrics.status_code == 200, metrics.text
    arrivals = [
        line for line in metrics.text.splitlines()
        if line.startswith('wm_telemetry_arrivals_total{station="busy"}')
    ]  # fmt: skip
    assert len(arrivals) == 1 and float(arrivals[0].split()[-1]) == float(2 * LARGEST)
