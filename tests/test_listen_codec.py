"""llpp and StatsD decoding: round trips, every rejection reason, fuzzing."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from website_monitor import codec as events
from website_monitor.errors import DecodeError
from website_monitor.telemetry import llpp, statsd
from website_monitor.telemetry.llpp import Arrival, DatagramError, Departure, Status
from website_monitor.telemetry.statsd import Metric, StatsdError

stations = st.text(min_size=1, max_size=60).filter(lambda s: 0 < len(s.encode()) <= 255)


@given(station=stations)
def test_arrival_round_trip(station: str) -> None:
    assert llpp.decode(llpp.encode_arrival(station)) == Arrival(station)


@given(station=stations, service_ns=st.integers(0, 2**64 - 1))
def test_departure_round_trip(station: str, service_ns: int) -> None:
    decoded = llpp.decode(llpp.encode_departure(station, service_ns))
    assert decoded == Departure(station, service_ns)
    assert isinstance(decoded, Departure)
    assert decoded.service_ms == service_ns / 1e6


@given(station=stations, text=st.text(max_size=80).filter(lambda t: len(t.encode()) <= 255))
def test_status_round_trip(station: str, text: str) -> None:
    assert llpp.decode(llpp.encode_status(station, text)) == Status(station, text)


def test_wire_format_is_the_documented_header() -> None:
    data = llpp.encode_departure("web-1", 12_000_000)
    assert data == b"llppdprt" + bytes([5, 8]) + b"web-1" + struct.pack("!Q", 12_000_000)
    assert llpp.encode_arrival("a") == b"llpprrvl\x01\x00a"
    assert llpp.encode_status("a", "ok") == b"llppstts\x01\x02aok"


def header(magic: bytes, name: int, content: int) -> bytes:
    return struct.pack("!8sBB", magic, name, content)


BAD = [
    (b"x" * 1025, llpp.TOO_LARGE),
    (b"llpp" + bytes(1100), llpp.TOO_LARGE),
    (b"llppstt", llpp.TRUNCATED),
    (b"llpprrvl\x01", llpp.TRUNCATED),
    (header(b"llppstts", 5, 3) + b"web", llpp.TRUNCATED),
    (header(b"llppdprt", 1, 8) + b"a" + b"\x00" * 7, llpp.TRUNCATED),
    (header(b"llppxxxx", 1, 0) + b"a", llpp.WRONG_MAGIC),
    (b"garbage\x00", llpp.WRONG_MAGIC),
    (b"", llpp.TRUNCATED),
    (header(b"LLPPRRVL", 1, 0) + b"a", llpp.WRONG_MAGIC),
    (header(b"llpprrvl", 1, 0) + b"ab", llpp.LENGTH_MISMATCH),
    (header(b"llpprrvl", 1, 2) + b"aok", llpp.LENGTH_MISMATCH),
    (header(b"llppdprt", 1, 4) + b"a" + b"\x00" * 4, llpp.LENGTH_MISMATCH),
    (header(b"llppstts", 2, 0) + b"\xff\xfe", llpp.INVALID_UTF8),
    (header(b"llppstts", 1, 2) + b"a\xc3\x28", llpp.INVALID_UTF8),
    (header(b"llpprrvl", 0, 0), llpp.EMPTY_STATION),
]


@pytest.mark.parametrize(("data", "reason"), BAD)
def test_every_bad_datagram_has_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(DatagramError) as caught:
        llpp.decode(data)
    assert caught.value.reason == reason
    assert reason in llpp.REASONS


def test_largest_valid_datagram_and_encoder_limits() -> None:
    data = llpp.encode_status("s" * 255, "t" * 255)
    assert len(data) == 10 + 255 + 255
    assert llpp.decode(data) == Status("s" * 255, "t" * 255)
    with pytest.raises(DatagramError, match="station name"):
        llpp.encode_arrival("s" * 256)
    with pytest.raises(DatagramError, match="content"):
        llpp.encode_status("s", "é" * 128)
    with pytest.raises(DatagramError):
        llpp.encode_arrival("")
    with pytest.raises(DatagramError):
        llpp.encode_departure("s", -1)


def test_binary_and_text_datagrams_are_told_apart() -> None:
    assert llpp.is_llpp(llpp.encode_arrival("a"))
    assert llpp.is_llpp(header(b"xxxxxxxx", 1, 0) + b"a")
    assert not llpp.is_llpp(b"api.latency:12|ms\nhits:1|c\r\n")
    assert not llpp.is_llpp("é:1|c".encode())


# --- StatsD ---------------------------------------------------------------------------


def test_statsd_lines() -> None:
    data = b"api.latency:12.5|ms\nhits:3|c|@0.25\nqueue:-4|g\n\nrps:7|c\r\n"
    assert statsd.decode(data) == [
        Metric("api.latency", 12.5, "ms"),
        Metric("hits", 3.0, "c", 0.25),
        Metric("queue", -4.0, "g"),
        Metric("rps", 7.0, "c"),
    ]
    assert [m.kind for m in statsd.decode(data)] == ["timer", "counter", "gauge", "counter"]


@given(
    name=st.text(
        alphabet=st.characters(
            blacklist_categories=["Cc", "Cs", "Zs", "Zl", "Zp", "Cf", "Co", "Cn"]
        ),
        min_size=1,
        max_size=40,
    ).filter(lambda n: ":" not in n and "|" not in n),
    value=st.floats(0, 1e12, allow_nan=False),
    kind=st.sampled_from(["ms", "c", "g"]),
    rate=st.floats(0.001, 1.0),
)
def test_statsd_round_trip(name: str, value: float, kind: str, rate: float) -> None:
    metric = Metric(name, value, kind, 1.0 if kind == "g" else rate)
    assert statsd.decode(statsd.encode(metric)) == [metric]


STATSD_BAD = [
    (b"no-colon", statsd.SYNTAX),
    (b"a:1", statsd.SYNTAX),
    (b"a:1|c|@0.5|x", statsd.SYNTAX),
    (b"", statsd.SYNTAX),
    (b"\n\n", statsd.SYNTAX),
    (b":1|c", statsd.BAD_NAME),
    (b" a:1|c", statsd.BAD_NAME),
    (b"a:x|c", statsd.BAD_VALUE),
    (b"a:nan|ms", statsd.BAD_VALUE),
    (b"a:inf|g", statsd.BAD_VALUE),
    (b"a:|c", statsd.BAD_VALUE),
    (b"a:-1|ms", statsd.BAD_VALUE),
    (b"a:1|h", statsd.BAD_TYPE),
    (b"a:1|s", statsd.BAD_TYPE),
    (b"a:1|c|0.5", statsd.BAD_RATE),
    (b"a:1|c|@0", statsd.BAD_RATE),
    (b"a:1|c|@1.5", statsd.BAD_RATE),
    (b"a:1|c|@x", statsd.BAD_RATE),
    (b"a:1|g|@0.5", statsd.BAD_RATE),
    (b"a:1|c\xff", statsd.INVALID_UTF8),
    (b"a:1|c\n" * 200, statsd.TOO_LARGE),
]


@pytest.mark.parametrize(("data", "reason"), STATSD_BAD)
def test_every_bad_statsd_line_has_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(StatsdError) as caught:
        statsd.decode(data)
    assert caught.value.reason == reason
    assert reason in statsd.REASONS


def test_a_bad_line_spoils_no_other() -> None:
    metrics, errors = statsd.decode_lenient(b"a:1|c\nbroken\nb:2|ms\nc:1|zz")
    assert metrics == [Metric("a", 1.0, "c"), Metric("b", 2.0, "ms")]
    assert [e.reason for e in errors] == [statsd.SYNTAX, statsd.BAD_TYPE]


# --- fuzzing: decoders raise their own error or nothing ---------------------------------

llpp_like = st.one_of(
    st.binary(max_size=1100),
    st.builds(
        lambda magic, n, c, rest: struct.pack("!8sBB", magic, n, c) + rest,
        st.sampled_from([*llpp.MAGICS, b"llppxxxx"]),
        st.integers(0, 255),
        st.integers(0, 255),
        st.binary(max_size=520),
    ),
)


@settings(max_examples=400)
@given(data=llpp_like)
def test_llpp_decoder_fuzz(data: bytes) -> None:
    try:
        message = llpp.decode(data)
    except DatagramError as exc:
        assert exc.reason in llpp.REASONS
    else:
        assert llpp.encode_message(message) == data


@settings(max_examples=400)
@given(data=st.one_of(st.binary(max_size=1100), st.text(max_size=300).map(str.encode)))
def test_statsd_decoder_fuzz(data: bytes) -> None:
    try:
        statsd.decode(data)
    except StatsdError as exc:
        assert exc.reason in statsd.REASONS
    metrics, errors = statsd.decode_lenient(data)
    assert all(e.reason in statsd.REASONS for e in errors)
    assert metrics or errors


# --- the bucket event's codec ---------------------------------------------------------


def test_telemetry_event_round_trip_and_strict_decoding() -> None:
    from datetime import datetime, timezone

    from website_monitor.telemetry.codec import TelemetryBucket

    bucket = TelemetryBucket(
        name="web-1",
        metric_type="station",
        bucket_start=datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc),
        bucket_seconds=600,
        emitted_at=datetime(2026, 11, 23, 10, 0, 5, tzinfo=timezone.utc),
        arrivals=3,
        departures=2,
        samples=2,
        sum_value=30.0,
        sumsq_value=500.0,
        min_value=10.0,
        max_value=20.0,
        first_value=10.0,
        first_at=1.0,
        last_value=20.0,
        last_at=2.0,
        status="ok",
        status_at=1.5,
    )
    assert events.decode(events.encode(bucket)) == bucket
    assert bucket.key() == b"web-1"
    good = bucket.to_dict()
    for field, value in [
        ("name", ""),
        ("name", 5),
        ("metric_type", "histogram"),
        ("bucket_seconds", 0),
        ("bucket_seconds", True),
        ("arrivals", -1),
        ("arrivals", 1.5),
        ("sum_value", "1"),
        ("min_value", "x"),
        ("bucket_start", "yesterday"),
        ("bucket_start", "2026-11-23T10:00:00"),
        ("event_id", "not-a-uuid"),
        ("event_id", None),
        ("status", 7),
    ]:
        bad = {**good, field: value}
        with pytest.raises(DecodeError):
            events.decode(_json(bad))


def _json(data: dict[str, object]) -> bytes:
    import json

    return json.dumps(data).encode()


# --- a fuzzed listener never stops ----------------------------------------------------


def test_fuzzed_listener_keeps_running(sqlite_url: str) -> None:
    from tests.documents import as_plain
    from tests.listen_helpers import running_listener
    from website_monitor.telemetry.listener import INTERNAL_ERROR
    from website_monitor.telemetry.queries import bucket_stats as _bucket_stats

    bucket_stats = as_plain(_bucket_stats)
    from website_monitor.telemetry.sender import Sender

    with (
        running_listener(sqlite_url, flush_interval=0.02) as listener,
        Sender(listener.address) as sender,
    ):
        sent = 0

        @settings(max_examples=300, deadline=None)
        @given(data=st.one_of(llpp_like, st.binary(max_size=1500)))
        def fuzz(data: bytes) -> None:
            nonlocal sent
            sender.send(data)
            sent += 1

        fuzz()
        sender.arrival("still-alive")
        listener.wait_received(sent + 1)
        listener.flush_now()
        assert listener.stats.handled == sent + 1
        assert listener.stats.bad[INTERNAL_ERROR] == 0
        assert listener._worker is not None and listener._worker.is_alive()
        assert listener._receiver is not None and listener._receiver.is_alive()
        from website_monitor.store import open_store

        with open_store(sqlite_url) as repository:
            names = {entry["name"] for entry in bucket_stats(repository)}
        assert "still-alive" in names
