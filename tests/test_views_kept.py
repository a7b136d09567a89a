"""What the catch-ups keep for the views: the latest result per URL, series points, counters.

Each read must equal what the raw rows give, whatever has been rolled up: with
every row caught up, with rows not caught up yet, and with late rows for
periods already stored.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from website_monitor.probes import queries, rollups, series
from website_monitor.probes.codec import ProbeResult
from website_monitor.probes.queries import SeriesQuery, probe_series
from website_monitor.store import Repository, open_store
from website_monitor.transport.writer import store_events

NOW = datetime.now(timezone.utc).replace(microsecond=0)
URLS = ("https://a.example/", "https://b.example/", "https://c.example/" + "é" * 2000)


def generate(count: int, start: datetime, step_s: float = 97.0, seed: int = 1) -> list[ProbeResult]:
    rng = random.Random(seed)
    probes = []
    for i in range(count):
        url = URLS[i % len(URLS)]
        failed = rng.random() < 0.05
        probes.append(
            ProbeResult(
                url=url,
                timestamp=start + timedelta(seconds=i * step_s + rng.random()),
                http_status_code=None if failed else rng.choice((200, 200, 200, 503)),
                response_time_ms=None if failed else round(rng.lognormvariate(4, 0.7), 3),
                error="timeout" if failed else None,
                ttfb_ms=None if failed else round(rng.uniform(1, 50), 3),
            )
        )
    return probes


@pytest.fixture
def store(store_url: str) -> Repository:
    with open_store(store_url) as repository:
        yield repository  # type: ignore[misc]


def raw_series(store: Repository, width: int, since: datetime | None = None) -> dict[str, object]:
    """The series from the raw rows alone: what the stored points must equal."""
    points = {}
    with store.snapshot() as reader:
        rows = queries._raw_points(reader, (), since, None, width)
    for row in rows:
        points[(row["url"], int(row["bucket"]))] = (
            int(row["probes"]),
            queries.ms(row["p50_ms"]),
            queries.ms(row["p95_ms"]),
            queries.ms(row["p99_ms"]),
        )
    return points  # type: ignore[return-value]


def served_series(
    store: Repository, width: int, since: datetime | None = None
) -> dict[object, object]:
    document = probe_series(store, SeriesQuery(since=since, bucket=width))
    return {
        (s.url, int(datetime.fromisoformat(p.t).timestamp())): (
            p.probes,
            p.p50_ms,
            p.p95_ms,
            p.p99_ms,
        )
        for s in document.series
        for p in s.points
    }


def test_series_points_are_exact_whatever_is_stored(store: Repository) -> None:
    start = NOW - timedelta(days=3, hours=5)
    store_events(store, generate(2500, start))
    rollups.catch_up(store)
    stored = store.query("SELECT width, count(*) AS n FROM probe_series GROUP BY width")
    assert {int(r["width"]) for r in stored} == set(series.WIDTHS)
    for width in series.WIDTHS:
        assert served_series(store, width) == raw_series(store, width), width
        since = NOW - timedelta(days=1, minutes=7, seconds=13)  # not aligned on any width
        assert served_series(store, width, since) == raw_series(store, width, since), width

    # Late rows (a spool sent hours later) for periods already stored, not caught up yet...
    late = generate(60, start + timedelta(hours=2), step_s=13, seed=2)
    store_events(store, late)
    for width in series.WIDTHS:
        assert served_series(store, width) == raw_series(store, width), width
    # ...and once caught up: the stored points of their periods are computed again.
    rollups.catch_up(store)
    assert rollups.pending(store) == 0
    for width in series.WIDTHS:
        assert served_series(store, width) == raw_series(store, width), width


def test_latest_per_url_with_rows_not_rolled_up(store: Repository) -> None:
    start = NOW - timedelta(hours=6)
    first = generate(300, start)
    store_events(store, first)
    rollups.catch_up(store)
    newer = generate(5, NOW - timedelta(minutes=1), step_s=1, seed=3)
    older = generate(6, start - timedelta(days=1), seed=4)  # late: older than the latest
    store_events(store, newer + older)
    expected = {}
    for probe in first + newer + older:
        known = expected.get(probe.url)
        if known is None or probe.timestamp >= known.timestamp:
            expected[probe.url] = probe
    for _ in range(2):  # before and after the catch-up
        latest = {p.url: p for p in queries.latest_per_url(store)}
        assert set(latest) == set(URLS)
        for url, probe in expected.items():
            assert datetime.fromisoformat(latest[url].timestamp) == probe.timestamp
            assert latest[url].http_status_code == probe.http_status_code
        rollups.catch_up(store)


def test_counts_come_from_the_rollups_and_the_rows_not_rolled_up(store: Repository) -> None:
    store_events(store, generate(400, NOW - timedelta(days=2)))
    rollups.catch_up(store)
    store_events(store, generate(30, NOW - timedelta(hours=1), seed=5))
    assert queries.count_probes(store) == 430
    assert rollups.pending(store) == 30
