"""The message codec: strict decoding, the original format, and a property test."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from website_monitor.codec import FallbackId, decode, encode, legacy_event_id
from website_monitor.codec import decode_slow as _decode_slow
from website_monitor.errors import DecodeError
from website_monitor.probes.codec import ProbeResult, _new_probe
from website_monitor.probes.codec import decode_fast as _decode_fast
from website_monitor.probes.store import PROBE_COLUMNS


def decode_probe(raw: bytes, *, fallback_id: FallbackId = None) -> ProbeResult:
    event = decode(raw, fallback_id=fallback_id)
    assert isinstance(event, ProbeResult)
    return event


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
    assert probe().key() == b"https://example.org/"
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


# --- the fast path for probes: the same outcome as the field-by-field decoder ------------


def fixed_id() -> str:
    return legacy_event_id("t", 0, 7)


FALLBACKS = st.sampled_from([None, legacy_event_id("t", 0, 0), fixed_id])


def outcome(raw: object, fallback_id: object, *, slow: bool) -> tuple[str, object]:
    try:
        if slow:
            return ("event", _decode_slow(raw, fallback_id=fallback_id))  # type: ignore[arg-type]
        return ("event", decode(raw, fallback_id=fallback_id))  # type: ignore[arg-type]
    except DecodeError as exc:
        return ("error", exc.reason)


def assert_same_as_slow(raw: object, fallback_id: object) -> None:
    """decode gives what _decode_slow gives: an equal event (same types, same repr, so the
    same floats and time zones) or the same reason; the fast path alone accepts only that."""
    expected = outcome(raw, fallback_id, slow=True)
    got = outcome(raw, fallback_id, slow=False)
    assert got[0] == expected[0], (raw, got, expected)
    if expected[0] == "error":
        assert got == expected, raw
    else:
        assert type(got[1]) is type(expected[1])
        assert got[1] == expected[1] and repr(got[1]) == repr(expected[1]), raw
    if type(raw) is bytes:
        quick = _decode_fast(raw, fallback_id)  # type: ignore[arg-type]
        if quick is not None:
            assert expected[0] == "event", (raw, quick, expected)
            assert repr(quick) == repr(expected[1]), raw


@st.composite
def timestamps(draw: st.DrawFn, odd: bool = True) -> str:
    """ISO 8601 times the decoder takes: separators, precisions, zone forms; with `odd`, also
    lowercase forms, extra digits, edge years and out-of-range parts."""

    def part(valid: st.SearchStrategy[int], odd_values: list[int]) -> int:
        return draw(valid | st.sampled_from(odd_values) if odd else valid)

    year = part(st.integers(1971, 8998), [1, 1969, 1970, 8999, 9000, 9999])
    month, day = part(st.integers(1, 12), [0, 13]), part(st.integers(1, 28), [29, 30, 31, 32])
    hour, minute = part(st.integers(0, 23), [24]), part(st.integers(0, 59), [60])
    second = part(st.integers(0, 59), [60])
    separators = ["T", " "] + (["t", "_"] if odd else [])
    text = f"{year:04d}-{month:02d}-{day:02d}{draw(st.sampled_from(separators))}"
    text += f"{hour:02d}:{minute:02d}"
    if not odd or draw(st.integers(0, 9)):
        text += f":{second:02d}"
        digits = draw(st.integers(0, 9) if odd else st.sampled_from([0, 3, 6]))
        if digits:
            text += "." + "".join(
                draw(st.lists(st.sampled_from("0123456789"), min_size=digits, max_size=digits))
            )
    offset_minutes = draw(st.integers(-1439, 1439))
    sign = "-" if offset_minutes < 0 else "+"
    hh, mm = divmod(abs(offset_minutes), 60)
    zones = ["", "Z", "+00:00", "-00:00", f"{sign}{hh:02d}:{mm:02d}"]
    if odd:
        zones += ["z", f"{sign}{hh:02d}{mm:02d}", f"{sign}{hh:02d}:{mm:02d}:30", "+24:00"]
    return text + draw(st.sampled_from(zones))


milliseconds = st.none() | st.floats(0, 1e9) | st.integers(0, 10**9)
uuid_texts = st.uuids().flatmap(
    lambda u: st.sampled_from(
        [str(u), str(u).upper(), "{" + str(u) + "}", u.hex, u.urn, str(u)[:-1], " " + str(u)]
    )
)
short_texts = st.text(max_size=20)


def texts(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    characters = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
    return st.text(characters, min_size=min_size, max_size=max_size)


def _has_zone(text: str) -> bool:
    return text.endswith("Z") or text[-6] in "+-"


@st.composite
def valid_probes(draw: st.DrawFn) -> dict[str, object]:
    data: dict[str, object] = {
        "url": draw(st.just("https://x.example/") | texts(20, min_size=1)),
        "timestamp": draw(timestamps(odd=False)),
        "http_status_code": draw(st.none() | st.integers(100, 999)),
        "response_time_ms": draw(milliseconds),
    }
    optional: dict[str, st.SearchStrategy[object]] = {
        "kind": st.just("probe"),
        "v": st.just(1),
        "event_id": st.none() | st.uuids().map(str),
        "error": st.none() | texts(64),
        "error_detail": st.none() | texts(30),
        "content_match": st.none() | st.booleans(),
        "ok": st.none() | st.booleans(),
        "dns_ms": milliseconds,
        "connect_ms": milliseconds,
        "tls_ms": milliseconds,
        "ttfb_ms": milliseconds,
        "location": st.none() | texts(20),
        "cert_expires_at": st.none() | timestamps(odd=False).filter(_has_zone),
        "cert_issuer": st.none() | texts(40),
        "failed_condition": st.none() | texts(40),
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            data[name] = draw(values)
    return data


#: Every field a probe message may carry: the stored columns, plus kind and v.
PROBE_FIELDS = [*PROBE_COLUMNS, "kind", "v"]
perturbed_values = (
    json_values
    | st.booleans()
    | st.integers(-10, 2000)
    | st.floats()
    | st.sampled_from(
        [
            99,
            100,
            999,
            1000,
            0,
            -0.0,
            1e9,
            1e9 + 1,
            10**9 + 1,
            10**20,
            2**64,
            -1,
            200.0,
            1.0,
            1e-320,
        ]
    )
    | short_texts.map(lambda text: text + "\x00")
    | uuid_texts
    | timestamps()
    | st.sampled_from(["probe", "hit", "telemetry", "weather", "Probe", 0, 1, 2, True, 1.0, "1"])
    | st.sampled_from(["x" * 64, "x" * 65, "x" * 2048, "x" * 2049, "u" * 8192, "u" * 8193, ""])
)


@st.composite
def perturbed_probes(draw: st.DrawFn) -> dict[str, object]:
    """A valid probe message with one field changed, removed or added."""
    data = draw(valid_probes())
    choice = draw(st.integers(0, 3))
    if choice < 2:
        name = draw(st.sampled_from([*PROBE_FIELDS, "extra", "Kind", ""]))
        if choice == 0:
            data.pop(name, None)
        else:
            data[name] = draw(perturbed_values)
    else:
        name = draw(st.sampled_from(sorted(SUSPECTS)))
        data[name] = draw(SUSPECTS[name])
    return data


_numbers = st.sampled_from(
    [99, 100, 999, 1000, 0, -0.0, 1e9, 1e9 + 1, 10**9 + 1, 10**20, 2**64, -1, 200.0, 1.0, True]
)
_strings = (
    texts(20).map(lambda text: text + "\x00")
    | st.sampled_from(["", "x" * 64, "x" * 65, "x" * 2048, "x" * 2049, "u" * 8192, "u" * 8193])
    | texts(5, min_size=1)
    | st.sampled_from(["\ud800", "a\udfff", "\U0001f600" * 33])
)
#: What is most likely to tell the two paths apart, field by field.
SUSPECTS: dict[str, st.SearchStrategy[object]] = {
    "url": _strings,
    "error": _strings,
    "error_detail": _strings,
    "event_id": uuid_texts,
    "timestamp": timestamps(),
    "kind": st.sampled_from(["probe", "hit", "telemetry", "weather", "Probe", None, 1]),
    "v": st.sampled_from([0, 1, 2, True, False, 1.0, "1", None, 2**64]),
    "http_status_code": _numbers,
    "response_time_ms": _numbers,
    "dns_ms": _numbers,
    "ok": st.sampled_from([0, 1, "true", None, True]),
    "location": _strings,
    "cert_issuer": _strings,
    "failed_condition": _strings | st.sampled_from(["x" * 1024, "x" * 1025]),
    "cert_expires_at": timestamps()
    | st.sampled_from(
        ["9999-12-31T23:59:59Z", "1950-01-01T00:00:00Z", "1949-12-31T23:59:59Z", "", "soon", 5]
    ),
}


@settings(max_examples=500)
@given(perturbed_probes(), FALLBACKS, st.booleans())
def test_fast_path_matches_slow_path(
    data: dict[str, object], fallback_id: object, ascii_only: bool
) -> None:
    # (a lone surrogate, written raw, is invalid UTF-8: one more thing both must refuse)
    raw = json.dumps(data, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
    assert_same_as_slow(raw, fallback_id)


@given(
    st.dictionaries(st.sampled_from([*PROBE_FIELDS, "extra"]), json_values, max_size=16),
    FALLBACKS,
)
def test_fast_path_matches_slow_path_on_any_object(
    data: dict[str, object], fallback_id: object
) -> None:
    assert_same_as_slow(json.dumps(data).encode(), fallback_id)


@settings(max_examples=300)
@given(valid_probes(), st.data())
def test_fast_path_matches_slow_path_on_damaged_bytes(
    data: dict[str, object], draw: st.DataObject
) -> None:
    raw = json.dumps(data, ensure_ascii=False).encode()
    at = draw.draw(st.integers(0, len(raw)))
    byte = bytes([draw.draw(st.integers(0, 255))])
    damaged = draw.draw(
        st.sampled_from(
            [raw[:at] + byte + raw[at:], raw[:at] + byte + raw[at + 1 :], raw[:at] + raw[at + 1 :]]
        )
    )
    assert_same_as_slow(damaged, legacy_event_id("t", 0, 0))


GOOD = b'"url":"u","timestamp":"2026-11-23T10:00:00Z","http_status_code":200,"response_time_ms":1'


@pytest.mark.parametrize(
    "raw",
    [
        b"{" + GOOD + b"}",
        b"{" + GOOD + b"}\n",
        b"{" + GOOD + b',"extra":"\xff"}',  # invalid UTF-8 where no field is read
        b"{" + GOOD + b',"extra":1e400}',
        b"{" + GOOD + b',"extra":"\\ud800"}',
        b"{" + GOOD + b',"extra":' + b"[" * 2000 + b"]" * 2000 + b"}",
        b"{" + GOOD + b',"error":"\xed\xa0\x80"}',
        b"{" + GOOD + b',"error":"a\\u0000"}',
        b"{" + GOOD + b',"event_id":"' + str(uuid.UUID(int=2**128 - 1)).upper().encode() + b'"}',
        b"{" + GOOD + b',"event_id":"' + uuid.UUID(int=2**128 - 1).hex.encode() + b'"}',
        b"{" + GOOD + b',"url":"u\\u0000"}',
        b"{" + GOOD + b',"error_detail":"\\u0000"}',
        b"{" + GOOD + b',"v":2}',
        b"{" + GOOD + b',"v":0}',
        b"{" + GOOD + b',"v":1.0}',
        b"{" + GOOD + b',"v":true}',
        b"{" + GOOD + b',"kind":null}',
        b"{" + GOOD + b',"http_status_code":200.0}',
        b"{" + GOOD + b',"http_status_code":99999999999999999999999}',
        b"{" + GOOD + b',"response_time_ms":-0.0}',
        b"{" + GOOD + b',"timestamp":"2026-11-23T10:00:00.1234567Z"}',
        b"{" + GOOD + b',"timestamp":"2026-11-23t10:00:00z"}',
        b"{" + GOOD + b',"timestamp":"2026-11-23T10:00:00+01:00"}',
        b"{" + GOOD + b',"timestamp":"9999-12-31T23:59:59-14:00"}',
        b"{" + GOOD + b',"timestamp":"1970-01-01T00:00:00Z"}',
        b"{" + GOOD + b',"timestamp":"1969-12-31T23:59:59.999999+00:00"}',
        b"{" + GOOD + b',"timestamp":"8999-12-31T23:59:59.999999Z"}',
        b"{" + GOOD + b',"timestamp":"9000-01-01T00:00:00+00:00"}',
        b"{" + GOOD + b',"timestamp":"1970-01-01T00:30:00+01:00"}',
        b"{" + GOOD + b',"timestamp":"1969-12-31T23:30:00-01:00"}',
        b"{" + GOOD + b',"timestamp":"2026-11-23T10:00:00-00:00"}',
        b"\xef\xbb\xbf{" + GOOD + b"}",
        b"{" + GOOD + b"}x",
        b"{" + GOOD + b',"dns_ms":NaN}',
        b'{"\\u0075rl":"u","timestamp":"2026-11-23 10:00:00","http_status_code":null,"response_time_ms":null}',
        bytearray(b"{" + GOOD + b"}"),
        memoryview(b"{" + GOOD + b"}"),
        "{" + GOOD.decode() + "}",
    ],
)
@pytest.mark.parametrize("fallback_id", [None, legacy_event_id("t", 0, 0), fixed_id])
def test_fast_path_edge_cases(raw: object, fallback_id: object) -> None:
    assert_same_as_slow(raw, fallback_id)


@given(valid_probes(), st.sampled_from([legacy_event_id("t", 0, 0), fixed_id]))
def test_fast_path_takes_valid_probes(data: dict[str, object], fallback_id: object) -> None:
    """Every valid probe in canonical form takes the fast path (the speed-up), unchanged."""
    raw = json.dumps(data).encode()
    event = _decode_fast(raw, fallback_id)  # type: ignore[arg-type]
    assert event is not None, raw
    assert repr(event) == repr(_decode_slow(raw, fallback_id=fallback_id))  # type: ignore[arg-type]


def test_fast_path_takes_what_producers_write() -> None:
    """The speed-up holds for encoded probes and the original format, not just the outcome."""
    for event in (probe(), probe(http_status_code=None, response_time_ms=None, error="timeout")):
        assert _decode_fast(encode(event), None) == event
    original = (
        b'{"url": "https://example.com", "timestamp": "2026-11-23 10:00:00.123456",'
        b' "http_status_code": 200, "response_time_ms": 592}'
    )
    event = _decode_fast(original, fixed_id)
    assert event is not None and event.timestamp == WHEN and event.event_id == fixed_id()
    assert type(event.response_time_ms) is float and event.ok is True


@given(
    st.text(),
    st.datetimes(timezones=st.just(timezone.utc)),
    st.none() | st.integers(100, 999),
    st.none() | st.floats(0, 1e9),
    st.uuids().map(str),
    st.none() | st.text(max_size=5),
    st.none() | st.text(max_size=5),
    st.none() | st.booleans(),
    st.none() | st.booleans(),
    st.lists(st.none() | st.floats(0, 1e9), min_size=4, max_size=4),
    st.tuples(
        st.none() | st.text(max_size=5),
        st.none() | st.datetimes(timezones=st.just(timezone.utc)),
        st.none() | st.text(max_size=5),
        st.none() | st.text(max_size=5),
    ),
)
def test_fast_constructor_matches_the_dataclass(
    url: str,
    timestamp: datetime,
    status: int | None,
    response_time: float | None,
    event_id: str,
    error: str | None,
    detail: str | None,
    content_match: bool | None,
    ok: bool | None,
    phases: list[float | None],
    checks: tuple[str | None, datetime | None, str | None, str | None],
) -> None:
    """`_new_probe` builds what `ProbeResult(...)` builds, `ok` included; a field it missed
    would be unset, and comparing would raise."""
    args = (url, timestamp, status, response_time, event_id, error, detail, content_match, ok)
    fast = _new_probe(*args, *phases, *checks)
    normal = ProbeResult(*args, *phases, *checks)  # type: ignore[arg-type]
    assert type(fast) is ProbeResult
    assert fast == normal and repr(fast) == repr(normal) and hash(fast) == hash(normal)
    assert fast.to_dict() == normal.to_dict()
    with pytest.raises(AttributeError):
        fast.url = "changed"  # type: ignore[misc]
