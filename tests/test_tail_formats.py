"""Access-log formats: examples of each, auto-detection, and robustness on any input."""

from __future__ import annotations

import calendar
import time
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from website_monitor.logs.follower import Chunk
from website_monitor.logs.formats import (
    LineParser,
    LogRecord,
    detect_format,
    parse_clf_time,
    parse_ncsa,
    section_of,
)
from website_monitor.logs.monitor import Monitor, TailOptions


def epoch(text: str) -> float:
    return datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z").timestamp()


CLF = '127.0.0.1 - james [09/May/2018:16:00:39 +0000] "GET /report HTTP/1.0" 200 123'
COMBINED = (
    '10.1.2.3 - - [09/May/2018:18:00:41 +0200] "POST /api/user?id=7 HTTP/1.1" 503 - '
    '"https://example.org/start" "Mozilla/5.0 (X11; Linux x86_64)"'
)
W3C = [
    "#Software: Microsoft Internet Information Services 10.0",
    "#Version: 1.0",
    "#Date: 2018-05-09 16:00:00",
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) cs(Referer) sc-status sc-substatus sc-win32-status sc-bytes time-taken",
    "2018-05-09 16:00:39 10.0.0.1 GET /api/user id=3 443 alice 192.168.1.20 "
    "Mozilla/5.0+(Windows) https://example.org/ 200 0 0 5120 15",
]


def test_common_log_format() -> None:
    record = parse_ncsa(CLF)
    assert record == LogRecord(
        timestamp=epoch("09/May/2018:16:00:39 +0000"),
        remote_host="127.0.0.1",
        user="james",
        method="GET",
        path="/report",
        status=200,
        bytes=123,
    )


def test_combined_log_format_with_offset_and_dash_size() -> None:
    record = parse_ncsa(COMBINED)
    assert record is not None
    assert record.timestamp == epoch("09/May/2018:18:00:41 +0200")
    assert record.timestamp == epoch("09/May/2018:16:00:41 +0000")
    assert (record.user, record.method, record.path) == (None, "POST", "/api/user?id=7")
    assert (record.status, record.bytes) == (503, 0)
    assert record.referer == "https://example.org/start"
    assert record.user_agent == "Mozilla/5.0 (X11; Linux x86_64)"


def test_strict_formats_reject_the_other() -> None:
    assert parse_ncsa(CLF, combined=True) is None
    assert parse_ncsa(COMBINED, combined=False) is None
    assert parse_ncsa(CLF, combined=False) is not None


def test_w3c_extended_with_fields_header() -> None:
    parser = LineParser("w3c")
    assert [parser.parse(line) for line in W3C[:4]] == [None] * 4
    assert all(parser.is_directive(line) for line in W3C[:4])
    record = parser.parse(W3C[4])
    assert record == LogRecord(
        timestamp=float(calendar.timegm((2018, 5, 9, 16, 0, 39))),
        remote_host="192.168.1.20",
        user="alice",
        method="GET",
        path="/api/user?id=3",
        status=200,
        bytes=5120,
        referer="https://example.org/",
        user_agent="Mozilla/5.0 (Windows)",
    )
    # A data line that does not match the declared columns is not a record.
    assert parser.parse("2018-05-09 16:00:39 10.0.0.1 GET") is None


def test_auto_detection() -> None:
    assert detect_format([CLF]) == "clf"
    assert detect_format([COMBINED, CLF]) == "combined"
    assert detect_format(W3C) == "w3c"
    assert detect_format(["garbage", CLF]) == "clf"
    assert detect_format(["garbage"]) is None
    parser = LineParser("auto")
    assert parser.parse("nonsense") is None
    assert parser.parse(CLF) is not None and parser.detected == "clf"
    assert parser.parse(COMBINED) is not None  # auto NCSA accepts both kinds
    parser.reset()
    assert [parser.parse(line) for line in W3C][-1] is not None
    assert parser.detected == "w3c"


@pytest.mark.parametrize(
    ("path", "section"),
    [
        ("/api/user", "/api"),
        ("/api", "/api"),
        ("/", "/"),
        ("/report?x=1", "/report"),
        ("/a/b/c", "/a"),
        ("http://example.org/pages/create", "/pages"),
        ("*", "*"),
    ],
)
def test_sections(path: str, section: str) -> None:
    assert section_of(path) == section


@pytest.mark.parametrize(
    "line",
    [
        "",
        "-",
        '127.0.0.1 - - [31/Feb/2018:16:00:39 +0000] "GET / HTTP/1.0" 200 1',
        '127.0.0.1 - - [09/Foo/2018:16:00:39 +0000] "GET / HTTP/1.0" 200 1',
        '127.0.0.1 - - [09/May/2018:24:00:39 +0000] "GET / HTTP/1.0" 200 1',
        '127.0.0.1 - - [09/May/2018:16:00:39 +9900] "GET / HTTP/1.0" 200 1',
        '127.0.0.1 - - [09/May/2018:16:00:39 +0000] "GET / HTTP/1.0" 2000 1',
        '127.0.0.1 - - [09/May/2018:16:00:39 +0000] "GET / HTTP/1.0" 200 -1',
        '127.0.0.1 - - [09/May/2018:16:00:39 +0000] "GET / HTTP/1.0" 200',
        '127.0.0.1 - - [09/May/2018:16:00:39 +0000] "GET / HTTP/1.0 200 1',
        '127.0.0.1 - - 09/May/2018:16:00:39 +0000 "GET / HTTP/1.0" 200 1',
    ],
)
def test_malformed_lines_are_rejected(line: str) -> None:
    assert parse_ncsa(line) is None


def test_timestamp_parser_agrees_with_strptime() -> None:
    for text in (
        "01/Jan/1970:00:00:00 +0000",
        "29/Feb/2020:23:59:59 -0730",
        "31/Dec/2099:12:00:00 +1400",
    ):
        assert parse_clf_time(text) == epoch(text)


class Collect:
    def __init__(self) -> None:
        self.shown: list[str] = []

    def summary(self, summary: object) -> None: ...

    def alert(self, event: object) -> None: ...

    def bad_line(self, line: str) -> None:
        self.shown.append(line)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text(),
            st.binary().map(lambda b: b.decode("utf-8", errors="replace")),
            st.sampled_from([CLF, COMBINED, *W3C]),
            st.builds(lambda a, b: a + b, st.sampled_from([CLF, COMBINED, W3C[4]]), st.text()),
        ),
        max_size=20,
    ),
    st.sampled_from(["auto", "clf", "combined", "w3c"]),
)
def test_any_line_either_parses_or_is_counted_bad(lines: list[str], fmt: str) -> None:
    """Nothing raises; each line is a hit, a bad line, or blank / a # directive."""
    reporter = Collect()
    monitor = Monitor(TailOptions(fmt=fmt, bad_lines_shown=1_000_000), reporter)
    for line in lines:
        line = line.replace("\n", " ").replace("\r", " ")
        hits, bad = monitor.lines, monitor.bad
        monitor.feed(Chunk("test", [line]), now=time.time())
        outcome = (monitor.lines - hits, monitor.bad - bad)
        if outcome == (0, 0):
            assert not line.strip() or line.startswith("#")
        else:
            assert outcome in ((1, 0), (0, 1))
    assert monitor.bad == len(reporter.shown)
    monitor.tick(1e12)
    monitor.finish()
