"""The message codec: strict decoding, the original format, and a property test."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from website_monitor.errors import DecodeError
from website_monitor.events import (
    ProbeResult,
    decode,
    decode_probe,
    encode,
    legacy_event_id,
    message_key,
)

WHEN = datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=timezone.utc)


def probe(**overrides: object) -> ProbeResult:
    fields: dict[str, object] = {
        "url": "https://example.org/",
        "timestamp": WHEN,
        "http_status_code": 200,
        "response_time_ms": 123.4,
    }
    fields.update(overrides)
    return ProbeResult(**fields)  # type: ignore[arg-type]


def test_round_trip() -> None:
    event = probe(dns_ms=1.5, connect_ms=2.0, tls_ms=3.25, ttfb_ms=40.0, content_match=True)
    assert decode(encode(event)) == event


def test_message_shape() -> None:
    data = json.loads(encode(probe()))
    assert data["kind"] == "probe"
    assert data["v"] == 1
    assert data["timestamp"] == "2026-11-23T10:00:00.123456+00:00"
    assert uuid.UUID(data["event_id"])
    assert message_key(probe()) == b"https://example.org/"
    for field in (
        "url",
        "http_status_code",
        "response_time_ms",
        "error",
        "content_match",
        "dns_ms",
        "connect_ms",
        "tls_ms",
        "ttfb_ms",
    ):
        assert field in data


def test_failed_request_round_trip() -> None:
    event = probe(http_status_code=None, response_time_ms=None, error="timeout")
    decoded = decode_probe(encode(event))
    assert decoded.http_status_code is None
    assert decoded.error == "timeout"
    assert decoded.ok is False


def test_original_format_is_accepted() -> None:
    raw = json.dumps(
        {
            "url": "https://example.com",
            "timestamp": "2026-11-23 10:00:00.123456",
            "http_status_code": 200,
            "response_time_ms": 592,
        }
    ).encode()
    fallback = legacy_event_id("probes", 0, 42)
    event = decode_probe(raw, fallback_id=fallback)
    assert event.timestamp == WHEN
    assert event.response_time_ms == 592.0
    assert event.event_id == fallback == legacy_event_id("probes", 0, 42)
    assert event.ok is True


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\xff\xfe", "value is not valid UTF-8"),
        (b"{not json", "value is not valid JSON"),
        (b"[1, 2]", "value is not a JSON object"),
        (b'{"kind": "weather"}', "unknown event kind 'weather'"),
        (b'{"v": 2, "url": "x"}', "unsupported schema version 2"),
        (
            b'{"timestamp": "2026-11-23T10:00:00Z", "http_status_code": 200, "response_time_ms": 1}',
            "field 'url' is missing or not a non-empty string",
        ),
        (
            b'{"url": "u", "timestamp": 5, "http_status_code": 200, "response_time_ms": 1}',
            "field 'timestamp' is missing or not a string",
        ),
        (
            b'{"url": "u", "timestamp": "yesterday", "http_status_code": 200, "response_time_ms": 1}',
            "field 'timestamp' is not an ISO 8601 time",
        ),
        (
            b'{"url": "u", "timestamp": "2026-11-23T10:00:00Z", "http_status_code": "200",'
            b' "response_time_ms": 1}',
            "field 'http_status_code' is not an HTTP status",
        ),
        (
            b'{"url": "u", "timestamp": "2026-11-23T10:00:00Z", "http_status_code": 200,'
            b' "response_time_ms": -1}',
            "field 'response_time_ms' is out of range",
        ),
        (
            b'{"url": "u", "timestamp": "2026-11-23T10:00:00Z", "http_status_code": 200,'
            b' "response_time_ms": NaN}',
            "value is not valid JSON",
        ),
        (
            b'{"url": "u", "timestamp": "2026-11-23T10:00:00Z", "http_status_code": 200,'
            b' "response_time_ms": 1, "event_id": "nope"}',
            "field 'event_id' is not a UUID",
        ),
    ],
)
def test_bad_values_say_why(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(raw, fallback_id=legacy_event_id("t", 0, 0))
    assert caught.value.reason.startswith(reason)


def test_missing_id_without_fallback_is_an_error() -> None:
    raw = b'{"url": "u", "timestamp": "2026-11-23T10:00:00Z", "http_status_code": 200, "response_time_ms": 1}'
    with pytest.raises(DecodeError, match="event_id"):
        decode(raw)


@given(st.binary(max_size=512))
def test_any_bytes_decode_or_raise_decode_error(raw: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode(raw, fallback_id=legacy_event_id("t", 0, 0))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=10,
)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "url": json_values | st.just("https://x/"),
            "timestamp": json_values | st.just("2026-11-23 10:00:00"),
            "http_status_code": json_values | st.integers(100, 599),
            "response_time_ms": json_values | st.floats(0, 1e6),
            "kind": json_values | st.just("probe"),
            "v": json_values | st.just(1),
            "event_id": json_values | st.uuids().map(str),
            "ok": json_values,
            "error": json_values,
            "dns_ms": json_values,
        },
    )
)
def test_any_json_object_decodes_or_raises_decode_error(data: dict[str, object]) -> None:
    try:
        event = decode(json.dumps(data).encode(), fallback_id=legacy_event_id("t", 0, 0))
    except DecodeError:
        return
    assert decode(encode(event)) == event
