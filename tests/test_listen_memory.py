"""`wm listen`'s memory under a flood of series and samples, over real UDP: timer
percentiles come from bounded histograms, so an open bucket stays under SERIES_BYTES."""

from __future__ import annotations

import random
import time
import tracemalloc

import pytest

from tests.listen_helpers import running_listener
from website_monitor.rollups import sketch
from website_monitor.telemetry import llpp
from website_monitor.telemetry.buckets import SERIES_BYTES, Aggregator
from website_monitor.telemetry.histogram import MAX_BINS, TimerHistogram
from website_monitor.telemetry.listener import Listener
from website_monitor.telemetry.sender import Sender
from website_monitor.telemetry.statsd import Metric


def statsd_datagrams(lines: list[str]) -> list[bytes]:
    """Lines packed into datagrams of at most 1024 bytes."""
    out: list[bytes] = []
    current = ""
    for line in lines:
        if current and len(current) + 1 + len(line) > llpp.MAX_DATAGRAM:
            out.append(current.encode())
            current = ""
        current = f"{current}\n{line}" if current else line
    out.append(current.encode())
    return out


def test_a_flood_of_timer_series_stays_under_the_memory_bound(sqlite_url: str) -> None:
    series, samples, refused = 300, 1000, 100
    rng = random.Random(11)
    names = [f"svc.{i:03d}.{'x' * 20}" for i in range(series + refused)]
    lines = [
        # values over 12 decades: more than MAX_BINS bins, so the histograms fold
        f"{name}:{10 ** rng.uniform(-4, 8):.6g}|ms"
        for _ in range(samples)
        for name in names[:series]
    ]
    lines += [f"{name}:1|ms" for name in names[series:]]  # past max_series: refused
    datagrams = statsd_datagrams(lines)
    tracemalloc.start()
    try:
        with (
            running_listener(sqlite_url, flush_interval=3600, max_series=series) as listener,
            Sender(listener.address) as sender,
        ):
            baseline = tracemalloc.get_traced_memory()[0]
            for i, datagram in enumerate(datagrams):
                sender.send(datagram)
                if i % 200 == 199:  # paced: nothing may be dropped on the way
                    wait_handled(listener, i + 1)
            wait_handled(listener, len(datagrams))
            used = tracemalloc.get_traced_memory()[0] - baseline
            buckets = listener.aggregator.buckets
            assert len(buckets) == series
            assert listener.stats.bad == {"too_many_series": refused}
            widest = max(len(b.histogram.counts) for b in buckets.values() if b.histogram)
    finally:
        tracemalloc.stop()
    assert widest == MAX_BINS
    assert used <= series * SERIES_BYTES, f"{used / series:,.0f} bytes per series"


def wait_handled(listener: Listener, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    stats = listener.stats
    while stats.handled < count or listener._pending:
        if time.monotonic() > deadline:
            raise TimeoutError(f"handled {stats.handled} of {count} datagrams")
        time.sleep(0.005)


def test_histogram_percentiles_are_the_sketchs_and_high_ones_survive_folding() -> None:
    rng = random.Random(12)
    values = [rng.lognormvariate(2, 1) for _ in range(5000)]
    histogram = TimerHistogram()
    for value in values:
        histogram.add(value)
    for fraction in (0.0, 0.5, 0.95, 0.99, 1.0):
        (estimate,) = histogram.percentiles([fraction])
        assert estimate == sketch.percentile(histogram.bins(), fraction, min(values), max(values))
    # a few tiny values far below the rest: their bins are folded, the high end stays exact
    for value in (1e-9, 2e-9, 3e-9):
        histogram.add(value)
        values.append(value)
    assert len(histogram.counts) == MAX_BINS
    exact = sorted(values)
    p50, p99 = histogram.percentiles([0.5, 0.99])
    assert p50 == pytest.approx(exact[(len(exact) - 1) // 2], rel=sketch.ACCURACY)
    cut = 0.99 * (len(exact) - 1)
    low = exact[int(cut)]
    expected = low + (exact[int(cut) + 1] - low) * (cut - int(cut))
    assert p99 == pytest.approx(expected, rel=sketch.ACCURACY)


def test_aggregator_memory_does_not_grow_with_samples() -> None:
    aggregator = Aggregator(600)
    rng = random.Random(13)
    for _ in range(2000):
        aggregator.add_metric(Metric("t", 10 ** rng.uniform(0, 3), "ms"), 1_795_428_060.0)
    (bucket,) = aggregator.buckets.values()
    assert bucket.histogram is not None
    size = bucket.histogram.nbytes()
    for _ in range(50_000):
        aggregator.add_metric(Metric("t", 10 ** rng.uniform(0, 3), "ms"), 1_795_428_060.0)
    assert bucket.histogram.nbytes() <= size + 4 * 8  # a few more bins at the edges at most
