"""Percentiles follow PostgreSQL's percentile_cont on both backends."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from tests.documents import as_plain
from website_monitor.probes import stats
from website_monitor.probes.codec import ProbeResult
from website_monitor.probes.stats import StatsQuery
from website_monitor.store import open_store
from website_monitor.store._sql import percentile_cont
from website_monitor.transport.writer import store_events

probe_stats = as_plain(stats.probe_stats)

START = datetime(2026, 11, 23, 10, tzinfo=timezone.utc)


def probes(url: str, times: list[float | None], start: datetime = START) -> list[ProbeResult]:
    return [
        ProbeResult(
            url=url,
            timestamp=start + timedelta(seconds=i),
            http_status_code=200 if ms is not None else None,
            response_time_ms=ms,
            error=None if ms is not None else "timeout",
        )
        for i, ms in enumerate(times)
    ]


def test_percentile_cont_math() -> None:
    assert percentile_cont([1000, 2000, 3000], 0.5) == 2000
    assert percentile_cont([1000, 2000, 3000], 0.95) == pytest.approx(2900)
    assert percentile_cont([1000, 2000, 3000], 0.99) == pytest.approx(2980)
    assert percentile_cont([7], 0.99) == 7
    assert percentile_cont([], 0.5) is None


def test_issue_example_on_both_backends(store_url: str) -> None:
    with open_store(store_url) as repository:
        store_events(repository, probes("https://example.org", [3000, 1000, 2000]))
        [entry] = probe_stats(repository, StatsQuery())
    assert entry == {
        "url": "https://example.org",
        "probes": 3,
        "p50_ms": 2000.0,
        "p95_ms": 2900.0,
        "p99_ms": 2980.0,
        "errors": 0,
        "availability": 1.0,
    }


def test_backends_agree_with_postgres_percentile_cont(sqlite_url: str, pg_url: str) -> None:
    rng = random.Random(7)
    data = probes("https://a", [round(rng.lognormvariate(5, 1), 3) for _ in range(500)])
    data += probes("https://b", [rng.uniform(1, 50) for _ in range(37)] + [None, None])
    results = []
    for url in (sqlite_url, pg_url):
        with open_store(url) as repository:
            store_events(repository, data)
            results.append(probe_stats(repository, StatsQuery()))
    assert results[0] == results[1]
    [_a, b] = results[0]
    assert b["probes"] == 39
    assert b["errors"] == 2
    assert b["availability"] == pytest.approx(37 / 39, abs=1e-6)


def test_filters_and_grouping(store_url: str) -> None:
    with open_store(store_url) as repository:
        store_events(repository, probes("https://a", [10, 20, 30, 40]))
        store_events(repository, probes("https://b", [5]))
        store_events(
            repository,
            [
                ProbeResult(
                    url="https://a", timestamp=START, http_status_code=503, response_time_ms=99.0
                )
            ],
        )
        only_a = probe_stats(repository, StatsQuery(urls=["https://a"]))
        assert [e["url"] for e in only_a] == ["https://a"]
        assert only_a[0]["probes"] == 5
        later = probe_stats(repository, StatsQuery(since=START + timedelta(seconds=2)))
        assert {e["url"]: e["probes"] for e in later} == {"https://a": 2}
        earlier = probe_stats(repository, StatsQuery(until=START + timedelta(seconds=1)))
        assert {e["url"]: e["probes"] for e in earlier} == {"https://a": 2, "https://b": 1}
        grouped = probe_stats(repository, StatsQuery(urls=["https://a"], by="status"))
        assert [(e["http_status_code"], e["probes"]) for e in grouped] == [(200, 4), (503, 1)]
        assert grouped[1]["availability"] == 0.0


def test_empty_store(store_url: str) -> None:
    with open_store(store_url) as repository:
        assert probe_stats(repository, StatsQuery()) == []
