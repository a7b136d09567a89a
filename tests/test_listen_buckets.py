"""Real UDP on 127.0.0.1 → listener → store: bucket statistics checked against `statistics`."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from datetime import datetime, timezone

import pytest

from tests.documents import as_plain
from tests.listen_helpers import BUCKET_START, SteppingClock, running_listener
from website_monitor.codec import decode, encode
from website_monitor.rollups.sketch import ACCURACY
from website_monitor.store import open_store
from website_monitor.telemetry import llpp, statsd
from website_monitor.telemetry.buckets import Aggregator
from website_monitor.telemetry.listener import describe_bad
from website_monitor.telemetry.queries import bucket_stats as _bucket_stats
from website_monitor.telemetry.sender import Sender, service_ns
from website_monitor.transport.writer import store_events

bucket_stats = as_plain(_bucket_stats)


def stored(store_url: str) -> list[dict[str, object]]:
    with open_store(store_url) as repository:
        return bucket_stats(repository)


def service_times(seed: int, count: int) -> list[float]:
    rng = random.Random(seed)
    # whole nanoseconds, as the wire carries them, shown in milliseconds
    return [rng.randrange(100_000, 900_000_000) / 1e6 for _ in range(count)]


def check_station(entry: dict[str, object], values: list[float], arrivals: int) -> None:
    assert entry["arrivals"] == arrivals
    assert entry["departures"] == len(values)
    assert entry["count"] == len(values)
    assert entry["min"] == min(values)
    assert entry["max"] == max(values)
    assert entry["first"] == values[0]
    assert entry["last"] == values[-1]
    assert entry["mean"] == pytest.approx(statistics.fmean(values), rel=1e-12)
    assert entry["variance"] == pytest.approx(statistics.pvariance(values), rel=1e-9)


def test_known_sequence_gives_exact_statistics(store_url: str) -> None:
    values = service_times(1, 200)
    other = service_times(2, 30)
    with (
        running_listener(store_url, flush_interval=3600) as listener,
        Sender(listener.address) as sender,
    ):
        for value in values:
            sender.arrival("checkout")
            sender.departure("checkout", value)
        sender.arrival("checkout")  # still in service
        sender.status("checkout", "ok")
        sender.status("checkout", "degraded: db slow")
        for value in other:
            sender.departure("search", value)
        sent = 2 * len(values) + 3 + len(other)
        listener.wait_received(sent)
        listener.flush_now()
        entries = {e["name"]: e for e in stored(store_url)}
    assert set(entries) == {"checkout", "search"}
    check_station(entries["checkout"], values, arrivals=len(values) + 1)
    check_station(entries["search"], other, arrivals=0)
    assert entries["checkout"]["status"] == "degraded: db slow"
    assert entries["search"]["status"] is None
    start = datetime.fromtimestamp(BUCKET_START, timezone.utc)
    assert entries["checkout"]["bucket_start"] == start.isoformat()
    assert entries["checkout"]["bucket_seconds"] == 600
    assert entries["checkout"]["current"] is False  # 2026-11-23T10:00 is in the past


def test_statsd_timers_counters_gauges(sqlite_url: str) -> None:
    timings = [float(v) for v in random.Random(3).choices(range(1, 500), k=101)]
    with (
        running_listener(sqlite_url, flush_interval=3600) as listener,
        Sender(listener.address) as sender,
    ):
        for value in timings:
            sender.send(f"api.latency:{value}|ms".encode())
        sender.send(b"hits:1|c|@0.1\nhits:2|c\nhits:1|c|@0.5")
        sender.send(b"queue:5|g\nqueue:9|g\nqueue:-2|g")
        listener.wait_received(len(timings) + 2)
        listener.flush_now()
    entries = {e["name"]: e for e in stored(sqlite_url)}
    timer = entries["api.latency"]
    assert timer["type"] == "timer"
    assert timer["count"] == len(timings)
    assert timer["mean"] == pytest.approx(statistics.fmean(timings), rel=1e-12)
    assert timer["variance"] == pytest.approx(statistics.pvariance(timings), rel=1e-9)
    cuts = statistics.quantiles(timings, n=100, method="inclusive")  # = percentile_cont
    # estimated from the log-scaled histogram: within its relative accuracy
    assert timer["p50"] == pytest.approx(cuts[49], rel=ACCURACY)
    assert timer["p95"] == pytest.approx(cuts[94], rel=ACCURACY)
    assert timer["p99"] == pytest.approx(cuts[98], rel=ACCURACY)
    assert entries["hits"]["type"] == "counter"
    assert entries["hits"]["total"] == pytest.approx(1 / 0.1 + 2 + 1 / 0.5)
    assert entries["hits"]["count"] == 3
    gauge = entries["queue"]
    assert (gauge["type"], gauge["value"], gauge["min"], gauge["max"]) == ("gauge", -2.0, -2.0, 9.0)


def test_restart_in_the_middle_of_a_bucket_merges_into_it(store_url: str) -> None:
    values = service_times(4, 120)
    first, second = values[:70], values[70:]
    clock = SteppingClock(BUCKET_START + 30)
    with (
        running_listener(store_url, clock=clock, flush_interval=0.05) as listener,
        Sender(listener.address) as sender,
    ):
        sender.status("pay", "starting")
        for value in first:
            sender.arrival("pay")
            sender.departure("pay", value)
        listener.wait_received(1 + 2 * len(first))
    # stopped: the open bucket was flushed; a new listener (a new instance) continues it
    midway = stored(store_url)
    assert [(e["name"], e["count"]) for e in midway] == [("pay", len(first))]
    with (
        running_listener(store_url, clock=clock, flush_interval=3600) as listener,
        Sender(listener.address) as sender,
    ):
        for value in second:
            sender.departure("pay", value)
        sender.status("pay", "restarted")
        listener.wait_received(len(second) + 1)
    (entry,) = stored(store_url)
    check_station(entry, values, arrivals=len(first))
    assert entry["status"] == "restarted"


def test_buckets_split_on_time_boundaries(sqlite_url: str) -> None:
    clock = SteppingClock(BUCKET_START + 60 - 0.005)  # a 60 s bucket ends 5 readings later
    values = [float(v) for v in range(1, 11)]
    with (
        running_listener(sqlite_url, clock=clock, bucket_seconds=60) as listener,
        Sender(listener.address) as sender,
    ):
        for value in values:
            sender.departure("s", value)
        listener.wait_received(len(values))
    entries = stored(sqlite_url)
    assert [e["count"] for e in entries] == [5, 5]
    assert [e["mean"] for e in entries] == [
        statistics.fmean(values[:5]),
        statistics.fmean(values[5:]),
    ]
    assert entries[1]["bucket_start"] == entries[0]["bucket_end"]


def test_redelivered_deltas_are_not_counted_twice(store_url: str) -> None:
    aggregator = Aggregator(600)
    values = service_times(5, 10)
    for i, value in enumerate(values):
        aggregator.add(llpp.Departure("s", service_ns(value)), BUCKET_START + i)
    first = aggregator.flush(BUCKET_START + 100)
    aggregator.add(llpp.Arrival("s"), BUCKET_START + 200)
    second = aggregator.flush(BUCKET_START + 300)
    with open_store(store_url) as repository:
        assert store_events(repository, first) == 1
        again = [decode(encode(event)) for event in first]  # as Kafka would redeliver it
        assert store_events(repository, again) == 0
        assert store_events(repository, second + first) == 1
        (entry,) = bucket_stats(repository)
    check_station(entry, values, arrivals=1)


def test_bad_datagrams_are_counted_per_reason_and_never_stop_the_listener(
    sqlite_url: str,
) -> None:
    bad = [
        (b"llppxxxx\x01\x00a", llpp.WRONG_MAGIC),
        (b"\x00\x01\x02", llpp.WRONG_MAGIC),
        (b"llpprrvl\x05\x00ab", llpp.TRUNCATED),
        (b"llpprrvl\x01\x00abc", llpp.LENGTH_MISMATCH),
        (b"llppstts\x01\x01a\xff", llpp.INVALID_UTF8),
        (b"llpprrvl\x00\x00", llpp.EMPTY_STATION),
        (b"x" * 2000, llpp.TOO_LARGE),
        (b"no colon here", "statsd_syntax"),
        (b"a:1|zz", "statsd_type"),
        (b"a:one|c", "statsd_value"),
        (b"a:1|c|@2", "statsd_rate"),
        (b"\xc3(:1|c", "invalid_utf8"),
    ]
    rng = random.Random(6)
    sequence = [item for item in bad for _ in range(rng.randint(1, 4))]
    rng.shuffle(sequence)
    with (
        running_listener(sqlite_url, flush_interval=3600, report_interval=0.05) as listener,
        Sender(listener.address) as sender,
    ):
        for data, _ in sequence:
            sender.send(data)
            sender.arrival("alive")
        listener.wait_received(2 * len(sequence))
        listener.flush_now()
        assert listener.stats.bad == Counter(reason for _, reason in sequence)
        reports = listener.reports  # type: ignore[attr-defined]
    (entry,) = stored(sqlite_url)
    assert entry["arrivals"] == len(sequence)
    assert reports, "no periodic report"
    line = describe_bad(reports[-1].bad)
    for _, reason in sequence:
        assert f"{reason}={Counter(r for _, r in sequence)[reason]}" in line


def test_stop_handles_everything_sent_before_it(sqlite_url: str) -> None:
    values = service_times(7, 150)
    with (
        running_listener(sqlite_url, flush_interval=3600) as listener,
        Sender(listener.address) as sender,
    ):
        for value in values:
            sender.departure("late", value)
        # no waiting: stop() must still take what the socket buffers
    assert listener.stats.received == len(values)
    (entry,) = stored(sqlite_url)
    check_station(entry, values, arrivals=0)


def test_distinct_names_past_the_series_limit_are_counted_not_kept(sqlite_url: str) -> None:
    with (
        running_listener(sqlite_url, flush_interval=3600, max_series=3) as listener,
        Sender(listener.address) as sender,
    ):
        for name in ("a", "b", "c", "d", "e"):
            sender.arrival(name)
        sender.send(b"f:1|c\nf:2|c")
        sender.arrival("a")  # a known name is still aggregated
        listener.wait_received(7)
        listener.flush_now()
        assert listener.stats.bad == Counter({"too_many_series": 4})
    assert {(e["name"], e.get("arrivals")) for e in stored(sqlite_url)} == {
        ("a", 2),
        ("b", 1),
        ("c", 1),
    }


def test_timer_percentiles_cover_every_value_within_the_sketch_accuracy() -> None:
    aggregator = Aggregator(600)
    rng = random.Random(8)
    values = [rng.lognormvariate(3, 2) for _ in range(20_000)] + [0.0] * 50
    for value in values:
        aggregator.add(statsd.Metric("t", value, "ms"), BUCKET_START)
    (bucket,) = aggregator.buckets.values()
    assert bucket.histogram is not None and bucket.histogram.total == len(values)
    (event,) = aggregator.flush(BUCKET_START + 1)
    assert event.samples == len(values)  # the statistics cover every value
    assert event.sum_value == pytest.approx(sum(values), rel=1e-12)
    cuts = statistics.quantiles(values, n=100, method="inclusive")  # = percentile_cont
    for label, cut in (("p50", cuts[49]), ("p95", cuts[94]), ("p99", cuts[98])):
        assert getattr(event, label) == pytest.approx(cut, rel=ACCURACY)


class FlakyPublisher:
    """Fails its first `failures` publishes, then stores."""

    def __init__(self, store_url: str, failures: int) -> None:
        self.repository = open_store(store_url)
        self.failures = failures
        self.attempts = 0

    def publish(self, events: list[object]) -> int:
        from website_monitor.errors import DeliveryError

        self.attempts += 1
        if self.attempts <= self.failures:
            raise DeliveryError("store down", undelivered=events)
        return store_events(self.repository, events)  # type: ignore[arg-type]


def test_unpublished_deltas_are_retried_at_the_next_flush(store_url: str) -> None:
    from website_monitor.telemetry.listener import Listener

    publisher = FlakyPublisher(store_url, failures=2)
    listener = Listener(
        publisher, bind="127.0.0.1:0", clock=SteppingClock(BUCKET_START), flush_interval=3600
    )
    values = service_times(9, 30)
    with listener, Sender(listener.address) as sender:
        for i, value in enumerate(values):
            sender.departure("retry", value)
            if i % 10 == 9:
                listener.wait_received(i + 1)
                listener.flush_now()
    # two failed flushes, the third publishes everything; nothing is left for the final one
    assert publisher.attempts == 3
    assert listener.stats.publish_failures == 2
    (entry,) = stored(store_url)
    check_station(entry, values, arrivals=0)
    publisher.repository.close()


def test_buckets_of_different_widths_never_merge_and_late_percentiles_do_not_win(
    store_url: str,
) -> None:
    from datetime import datetime, timezone

    from tests.documents import as_plain
    from website_monitor.store import open_store
    from website_monitor.telemetry.codec import TelemetryBucket
    from website_monitor.telemetry.queries import bucket_stats as _bucket_stats

    bucket_stats = as_plain(_bucket_stats)
    from website_monitor.transport.writer import store_events

    start = datetime(2026, 11, 23, 10, tzinfo=timezone.utc)
    emitted = datetime(2026, 11, 23, 10, 5, tzinfo=timezone.utc)

    def delta(seconds: int, last_at: float, p50: float) -> TelemetryBucket:
        return TelemetryBucket(
            name="api",
            metric_type="timer",
            bucket_start=start,
            bucket_seconds=seconds,
            emitted_at=emitted,
            samples=1,
            sum_value=p50,
            sumsq_value=p50 * p50,
            min_value=p50,
            max_value=p50,
            first_value=p50,
            first_at=last_at,
            last_value=p50,
            last_at=last_at,
            p50=p50,
            p95=p50,
            p99=p50,
        )

    newer = delta(600, last_at=1_795_435_500.0, p50=20.0)
    late = delta(600, last_at=1_795_435_200.0, p50=10.0)  # older samples, arrives last
    hourly = delta(3600, last_at=1_795_435_500.0, p50=99.0)
    with open_store(store_url) as repository:
        store_events(repository, [newer])
        store_events(repository, [late])
        store_events(repository, [hourly])
        rows = bucket_stats(repository, names=["api"])
    by_width = {row["bucket_seconds"]: row for row in rows}
    assert sorted(by_width) == [600, 3600]
    assert (by_width[600]["count"], by_width[600]["mean"]) == (2, 15.0)
    assert by_width[600]["p50"] == 20.0  # the newer samples' percentile stays
    assert (by_width[3600]["count"], by_width[3600]["p50"]) == (1, 99.0)
