"""Windows by log time (out of order, lateness, gaps), the wall clock, and the hit event/store."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from website_monitor.codec import decode, encode
from website_monitor.errors import DecodeError
from website_monitor.logs.codec import Hit
from website_monitor.logs.follower import Chunk
from website_monitor.logs.formats import LogRecord
from website_monitor.logs.monitor import Monitor, TailOptions, hit_from_record
from website_monitor.logs.summary import WindowSummary
from website_monitor.logs.windows import Windows
from website_monitor.store import open_store
from website_monitor.transport.writer import store_events

T0 = 1_525_881_600.0  # a multiple of 10


def record(ts: float, path: str = "/api/x", status: int = 200, size: int = 10) -> LogRecord:
    return LogRecord(ts, "10.0.0.1", None, "GET", path, status, size)


def test_out_of_order_lines_within_the_lateness_count_in_their_window() -> None:
    windows = Windows(interval=10, lateness=5)
    wall = 100.0
    for ts in (T0 + 1, T0 + 12, T0 + 3, T0 + 14, T0 + 9):  # 16:00:03 arrives after 16:00:12
        assert windows.add(record(ts), ts, wall)
    # Event clock 16:00:14 - lateness 5 = 16:00:09: the first window is still open.
    assert list(windows.advance(wall)) == []
    windows.add(record(T0 + 16), T0 + 16, wall)  # clock 16:00:16 → watermark 16:00:11
    closed = list(windows.advance(wall))
    assert [(s.start - T0, s.hits) for s in closed] == [(0, 3)]
    # A line for the closed window is late: counted, not added.
    assert not windows.add(record(T0 + 2), T0 + 2, wall)
    rest = list(windows.close_all())
    assert [(s.start - T0, s.hits, s.late_lines) for s in rest] == [(10, 3, 1)]


def test_event_clock_moves_with_wall_time_when_traffic_stops() -> None:
    windows = Windows(interval=10, lateness=5)
    windows.add(record(T0 + 1), T0 + 1, 1000.0)
    assert list(windows.advance(1000.0 + 13)) == []  # clock 16:00:14, watermark 16:00:09
    closed = list(windows.advance(1000.0 + 14))  # watermark 16:00:10
    assert [s.hits for s in closed] == [1]
    # Then one empty window per interval of wall time.
    assert [s.hits for s in windows.advance(1000.0 + 24)] == [0]
    assert [s.hits for s in windows.advance(1000.0 + 44)] == [0, 0]


def test_long_gap_in_a_file_skips_empty_windows_after_the_alert_window() -> None:
    windows = Windows(interval=10, lateness=0, max_empty_run=3)
    windows.add(record(T0), T0, 0.0)
    windows.add(record(T0 + 3600), T0 + 3600, 0.0)
    closed = list(windows.advance(0.0))
    # The window with the first line, then 3 empty ones; the hour-long rest is skipped.
    assert [(s.start - T0, s.hits) for s in closed] == [(0, 1), (10, 0), (20, 0), (30, 0)]
    assert [(s.start - T0, s.hits) for s in windows.close_all()] == [(3600, 1)]


class Collect:
    def __init__(self) -> None:
        self.summaries: list[WindowSummary] = []

    def summary(self, summary: WindowSummary) -> None:
        self.summaries.append(summary)

    def alert(self, event: object) -> None: ...

    def bad_line(self, line: str) -> None: ...


def clf(seconds: float) -> str:
    import time

    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(seconds))
    return f'10.0.0.1 - - [{stamp}] "GET /a HTTP/1.1" 200 1'


def test_wall_clock_windows_by_arrival_time() -> None:
    collect = Collect()
    monitor = Monitor(TailOptions(clock="wall", interval=10), collect)
    # Lines with timestamps from years ago, arriving now: windowed by arrival.
    monitor.feed(Chunk("a", [clf(T0 + 500), clf(T0)]), now=T0 + 2_000_001)
    monitor.feed(Chunk("a", [clf(T0 + 7)]), now=T0 + 2_000_009)
    monitor.feed(Chunk("a", [clf(T0 + 3)]), now=T0 + 2_000_011)
    monitor.tick(T0 + 2_000_020)
    assert [(s.start - T0, s.hits) for s in collect.summaries] == [
        (2_000_000, 3),
        (2_000_010, 1),
    ]


def test_hit_codec_round_trip_and_strict_decoding() -> None:
    hit = hit_from_record(
        LogRecord(T0, "10.0.0.1", "alice", "GET", "/api/user?id=1", 503, 77, "-", "curl/8"),
        "web-1",
    )
    assert hit.section == "/api"
    assert hit.key() == b"web-1"
    assert decode(encode(hit)) == hit
    data = json.loads(encode(hit))
    for field, value, reason in [
        ("status", 42, "field 'status' is not an HTTP status"),
        ("bytes", -1, "field 'bytes' is not a size"),
        ("path", "", "field 'path' is missing"),
        ("timestamp", "yesterday", "field 'timestamp' is not an ISO 8601 time"),
    ]:
        with pytest.raises(DecodeError) as caught:
            decode(json.dumps({**data, field: value}).encode())
        assert caught.value.reason.startswith(reason)


def test_hits_are_stored_once_per_event_id(store_url: str) -> None:
    hits = [
        Hit(
            timestamp=datetime.fromtimestamp(T0 + i, timezone.utc),
            source="web-1",
            remote_host="10.0.0.1",
            user=None,
            method="GET",
            path=f"/s{i % 2}/x",
            section=f"/s{i % 2}",
            status=200,
            size=i,
        )
        for i in range(1200)  # more than one INSERT statement
    ]
    with open_store(store_url) as repository:
        assert store_events(repository, hits) == 1200
        assert store_events(repository, hits[:700]) == 0
        rows = repository.query("SELECT section, count(*) AS n FROM hits GROUP BY section")
    assert sorted((r["section"], r["n"]) for r in rows) == [("/s0", 600), ("/s1", 600)]


def test_hit_fields_are_made_safe_for_the_store(store_url: str) -> None:
    record = LogRecord(T0, "h\x00st", "u" * 1000, "GET", "/a\x00b", 200, 2**70)
    hit = hit_from_record(record, "web-1")
    assert "\x00" not in hit.remote_host + hit.path
    with open_store(store_url) as repository:
        assert store_events(repository, [hit]) == 1


def test_a_line_from_the_far_future_is_incorrect_not_a_clock_jump() -> None:
    collect = Collect()
    monitor = Monitor(TailOptions(), collect)
    now = T0 + 30
    monitor.feed(Chunk("a", [clf(T0 + 1), clf(T0 + 86_400 * 365), clf(T0 + 2)]), now=now)
    monitor.feed(Chunk("a", [clf(T0 + 3)]), now=now)
    monitor.finish()
    assert [(s.hits, s.bad_lines, s.late_lines) for s in collect.summaries] == [(3, 1, 0)]


def test_a_new_file_is_detected_again_after_rotation() -> None:
    collect = Collect()
    monitor = Monitor(TailOptions(), collect)
    now = T0 + 60
    monitor.feed(Chunk("a", [clf(T0 + 1), clf(T0 + 2)]), now=now)
    # Rotated: the new file is W3C, its columns in another order after a restart.
    w3c = [
        "#Fields: date time cs-uri-stem sc-status sc-bytes",
        "2018-05-09 16:00:03 /shop/a 200 5",
        "#Fields: sc-status date time cs-uri-stem",
        "404 2018-05-09 16:00:04 /shop/b",
    ]
    monitor.feed(Chunk("a", w3c, reset=True), now=now)
    monitor.feed(Chunk("a", [clf(T0 + 5)], reset=True), now=now)
    monitor.finish()
    [summary] = collect.summaries
    assert (summary.hits, summary.bad_lines) == (5, 0)
    assert summary.top_sections == [("/a", 3), ("/shop", 2)]
    assert summary.status_classes["4xx"] == 1


def accounted(summaries: list[WindowSummary]) -> tuple[int, int, int]:
    """(hits, late lines, incorrect lines) over all summaries."""
    return (
        sum(s.hits for s in summaries),
        sum(s.late_lines for s in summaries),
        sum(s.bad_lines for s in summaries),
    )


def test_every_parsed_line_is_kept_for_publishing_late_ones_too() -> None:
    """The store is not windowed: a line too late for its window is still a hit."""
    collect = Collect()
    monitor = Monitor(TailOptions(lateness=5), collect, collect_hits=True)
    now = T0 + 1000
    monitor.feed(Chunk("a", [clf(T0 + s) for s in range(40)]), now=now)
    monitor.tick(now)  # windows up to 16:00:30 close: the event clock is at 16:00:39
    late = [clf(T0 + 2), clf(T0 + 12)]
    monitor.feed(Chunk("a", late), now=now)
    monitor.feed(Chunk("a", [clf(T0 + 40)]), now=now)
    monitor.tick(now + 100)  # traffic stopped: every window closes, up to 16:02:10
    monitor.feed(Chunk("a", [clf(T0 + 3)]), now=now + 100)  # late, and no window is left
    monitor.finish()
    records = [record for record, _, _ in monitor.take_records()]
    assert len(records) == monitor.lines == 44
    assert sorted(r.timestamp - T0 for r in records) == sorted([*range(41), 2, 12, 3])
    assert accounted(collect.summaries) == (41, 3, 0)
    # The line late after the last window is in a summary of its own, not dropped.
    last = collect.summaries[-1]
    assert (last.start - T0, last.hits, last.late_lines) == (130, 0, 1)


def test_time_spent_reading_a_backlog_is_not_event_time() -> None:
    """A busy second read slowly (parsing, publishing) keeps its window open: the wall
    clock moves the event clock on only while no line arrives."""
    collect = Collect()
    monitor = Monitor(TailOptions(lateness=5), collect)
    second = [clf(T0 + 9)] * 1000
    wall = T0 + 1000.0
    for step in range(30):  # 30 chunks of the same second, read over 60 s of wall time
        monitor.feed(Chunk("a", second), now=wall + 2 * step)
        monitor.tick(wall + 2 * step)
    assert collect.summaries == []
    monitor.tick(wall + 58 + 6)  # then traffic stops: the window closes by wall time
    assert [(s.hits, s.late_lines) for s in collect.summaries] == [(30_000, 0)]


def test_incorrect_lines_count_in_the_window_of_the_line_before_them() -> None:
    collect = Collect()
    monitor = Monitor(TailOptions(lateness=0), collect)
    lines = ["junk at the top"]
    for window in range(4):
        for s in range(10):
            lines.append(clf(T0 + 10 * window + s))
            lines += [f"junk {window}"] * window  # window n has n incorrect lines per line
    monitor.feed(Chunk("a", lines[:25]), now=T0 + 10_000)
    monitor.feed(Chunk("b", ["junk in another file, before any of its lines"]), now=T0 + 10_000)
    monitor.feed(Chunk("a", lines[25:]), now=T0 + 10_000)
    monitor.finish()
    assert [(s.start - T0, s.hits, s.bad_lines) for s in collect.summaries] == [
        (0, 10, 1 + 1),  # the first line of "a" and of "b" had no line before them
        (10, 10, 10),
        (20, 10, 20),
        (30, 10, 30),
    ]


def test_incorrect_lines_with_the_wall_clock_count_when_they_arrive() -> None:
    collect = Collect()
    monitor = Monitor(TailOptions(clock="wall", interval=10), collect)
    monitor.feed(Chunk("a", [clf(T0), "junk"]), now=T0 + 1)
    monitor.feed(Chunk("a", ["junk", "junk"]), now=T0 + 11)
    monitor.feed(Chunk("a", [clf(T0)]), now=T0 + 21)
    monitor.finish()
    assert [(s.start - T0, s.hits, s.bad_lines) for s in collect.summaries] == [
        (0, 1, 1),
        (10, 0, 2),
        (20, 1, 0),
    ]


def test_pending_incorrect_lines_at_the_end_get_a_summary() -> None:
    windows = Windows(interval=10, lateness=0)
    windows.add(record(T0 + 1), T0 + 1, 0.0)
    assert [s.hits for s in windows.advance(100.0)][:1] == [1]
    windows.add_bad(T0 + 2)  # its window has closed
    windows.add_bad(None)
    assert [(s.hits, s.bad_lines) for s in windows.close_all()] == [(0, 2)]
    assert list(windows.close_all()) == []
