"""High-traffic alert logic on synthetic traffic with a fake clock."""

from __future__ import annotations

import calendar
import time

from website_monitor.logs.alerts import HighTrafficAlert
from website_monitor.logs.follower import Chunk
from website_monitor.logs.monitor import Monitor, TailOptions
from website_monitor.logs.output import TextReporter

T0 = calendar.timegm((2018, 5, 9, 16, 0, 0))
INTERVAL = 10
WINDOW = 120


def stamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def reference_rates(per_window: list[int]) -> list[float]:
    """Average hits/s over the last 120 s after each 10 s window, computed naively."""
    span = WINDOW // INTERVAL
    return [sum(per_window[max(0, i - span + 1) : i + 1]) / WINDOW for i in range(len(per_window))]


def ramp() -> list[int]:
    """Hits per 10 s window: 2/s for a minute, up to 20/s, back down to 1/s."""
    rates = [2] * 6 + [5, 10, 15, 20, 20, 20, 20, 20, 20, 15, 10, 5] + [1] * 20
    return [rate * INTERVAL for rate in rates]


def test_ramp_up_and_down_triggers_and_recovers_at_exact_times() -> None:
    alert = HighTrafficAlert(threshold=10, window=WINDOW, hysteresis=0.1)
    traffic = ramp()
    expected = reference_rates(traffic)
    events = []
    for i, hits in enumerate(traffic):
        end = T0 + (i + 1) * INTERVAL
        event = alert.observe(end, hits)
        assert alert.rate() == expected[i]
        if event:
            events.append(event)
    first_trigger = next(i for i, r in enumerate(expected) if r >= 10)
    first_recovery = next(i for i, r in enumerate(expected) if i > first_trigger and r < 9)
    assert [e.state for e in events] == ["triggered", "recovered"]
    triggered, recovered = events
    assert triggered.time == T0 + (first_trigger + 1) * INTERVAL
    assert recovered.time == T0 + (first_recovery + 1) * INTERVAL
    assert recovered.peak == max(expected)
    assert recovered.started_at == triggered.time
    assert triggered.messages == [
        f"High traffic generated an alert - hits = {expected[first_trigger]:.2f}, "
        f"triggered at {stamp(triggered.time)}"
    ]
    assert recovered.messages == [
        f"High traffic alert recovered at {stamp(recovered.time)}",
        "End of high traffic alert",
    ]


def test_constant_rate_exactly_at_threshold_triggers_once_the_window_is_full() -> None:
    alert = HighTrafficAlert(threshold=10, window=WINDOW, hysteresis=0.1)
    states = [alert.observe(T0 + (i + 1) * INTERVAL, 10 * INTERVAL) for i in range(30)]
    fired = [(i, e.state) for i, e in enumerate(states) if e]
    # After k windows the average is 10*k/12: it reaches 10 with the 12th window.
    assert fired == [(WINDOW // INTERVAL - 1, "triggered")]


def hovering() -> list[int]:
    """Two minutes at exactly 10 hits/s, then windows alternating 9 and 11 hits/s."""
    return [10 * INTERVAL] * 12 + [(9 if i % 2 == 0 else 11) * INTERVAL for i in range(60)]


def test_no_flapping_around_the_threshold() -> None:
    alert = HighTrafficAlert(threshold=10, window=WINDOW, hysteresis=0.1)
    events = [alert.observe(T0 + (i + 1) * INTERVAL, hits) for i, hits in enumerate(hovering())]
    assert [e.state for e in events if e] == ["triggered"]
    assert min(reference_rates(hovering())[12:]) < 10  # the average did dip below the threshold


def test_without_hysteresis_the_same_traffic_flaps() -> None:
    alert = HighTrafficAlert(threshold=10, window=WINDOW, hysteresis=0.0)
    events = [alert.observe(T0 + (i + 1) * INTERVAL, hits) for i, hits in enumerate(hovering())]
    states = [e.state for e in events if e]
    assert len(states) > 10
    assert states[:3] == ["triggered", "recovered", "triggered"]


def test_only_one_alert_at_a_time_and_history_of_two_incidents() -> None:
    alert = HighTrafficAlert(threshold=5, window=60, hysteresis=0.2)
    traffic = [100] * 10 + [0] * 10 + [200] * 10 + [0] * 10
    events = [alert.observe(T0 + (i + 1) * 10, hits) for i, hits in enumerate(traffic)]
    states = [e.state for e in events if e]
    assert states == ["triggered", "recovered", "triggered", "recovered"]
    peaks = [e.peak for e in events if e and e.state == "recovered"]
    assert peaks == [600 / 60, 1200 / 60]


def clf(seconds: float, path: str = "/api/user", status: int = 200) -> str:
    text = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(seconds))
    return f'10.0.0.{int(seconds) % 7} - - [{text}] "GET {path} HTTP/1.1" {status} 100'


def test_monitor_on_log_lines_prints_exact_alert_and_recovery_lines() -> None:
    """Lines through the whole engine (log clock, lateness), with a fake wall clock."""
    rates = [2] * 3 + [30] * 6 + [0] * 12
    lines = []
    for w, rate in enumerate(rates):
        for k in range(rate * INTERVAL):
            lines.append(clf(T0 + w * INTERVAL + k / rate))
    out: list[str] = []
    monitor = Monitor(
        TailOptions(interval=INTERVAL, alert_window=WINDOW, threshold=10, lateness=5),
        TextReporter(out.append),
    )
    # Lines arrive in batches as their second passes; the fake wall clock follows them.
    wall = float(T0 + 3)  # the wall clock a little ahead of the log
    by_second: dict[int, list[str]] = {}
    for line in lines:
        by_second.setdefault(int(_ts(line)), []).append(line)
    for second in range(T0, T0 + len(rates) * INTERVAL):
        monitor.feed(Chunk("log", by_second.get(second, [])), wall + second - T0)
        monitor.tick(wall + second - T0 + 0.5)
    monitor.tick(wall + len(rates) * INTERVAL + 6)
    expected_rates = reference_rates([r * INTERVAL for r in rates])
    trigger = next(i for i, r in enumerate(expected_rates) if r >= 10)
    recovery = next(i for i, r in enumerate(expected_rates) if i > trigger and r < 9)
    alert_lines = [line for line in out if "alert" in line]
    assert alert_lines == [
        f"High traffic generated an alert - hits = {expected_rates[trigger]:.2f}, "
        f"triggered at {stamp(T0 + (trigger + 1) * INTERVAL)}",
        f"High traffic alert recovered at {stamp(T0 + (recovery + 1) * INTERVAL)}",
        "End of high traffic alert",
    ]
    headlines = [line for line in out if "requests received" in line]
    assert len(headlines) == len(rates)
    assert headlines[3] == (
        f"{30 * INTERVAL} requests received during the last 10 seconds, "
        f"most hits on section /api with {30 * INTERVAL}"
    )
    assert headlines[-1] == "0 requests received during the last 10 seconds"


def _ts(line: str) -> float:
    from website_monitor.logs.formats import parse_ncsa

    record = parse_ncsa(line)
    assert record is not None
    return record.timestamp
