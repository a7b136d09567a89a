"""Event types and their JSON codec, shared by every producer and the sink.

A Kafka message value is UTF-8 JSON: the original probe fields (`url`,
`timestamp`, `http_status_code`, `response_time_ms`) plus `kind`, a schema
version `v` and a unique `event_id`. Decoding validates strictly and raises
`DecodeError` with a short reason for anything else, so a bad message can be
dead-lettered instead of crashing the sink.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import math
import re
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any, ClassVar, Literal, Protocol

import msgspec
import orjson

from website_monitor.errors import DecodeError

SCHEMA_VERSION = 1
MAX_URL_LENGTH = 8192
#: Namespace for ids derived from a message's position, for messages that carry none.
LEGACY_NAMESPACE = uuid.UUID("5d1f8a3c-1f64-4d55-9a0a-7b1d4c9e2f10")

ERROR_KINDS = ("dns", "refused", "timeout", "tls", "connection", "redirects", "invalid", "other")
PHASES = ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_event_id() -> str:
    return str(uuid.uuid4())


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeResult:
    """One HTTP check of one URL.

    `http_status_code` and `response_time_ms` are None when the request failed;
    `error` then names the failure kind. Phases are None where not measured
    (for instance on a reused connection there is no DNS, connect or TLS).
    """

    kind: ClassVar[str] = "probe"

    url: str
    timestamp: datetime
    http_status_code: int | None
    response_time_ms: float | None
    event_id: str = dataclasses.field(default_factory=new_event_id)
    error: str | None = None
    error_detail: str | None = None
    content_match: bool | None = None
    ok: bool | None = None
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None

    def __post_init__(self) -> None:
        if self.ok is None:
            healthy = (
                self.error is None
                and self.http_status_code is not None
                and self.http_status_code < 400
                and self.content_match is not False
            )
            object.__setattr__(self, "ok", healthy)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        return {"kind": self.kind, "v": SCHEMA_VERSION, **data}

    def key(self) -> bytes:
        return self.url.encode("utf-8")


class Event(Protocol):
    """What every event kind provides: a kind name, a unique id and a JSON form."""

    @property
    def kind(self) -> str: ...

    @property
    def event_id(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...

    def key(self) -> bytes:
        """Partitioning key: events of one URL (or station) stay in order."""
        ...


#: The id of a message that carries none: the id itself, or a function computing it only
#: when needed (deriving it costs a uuid5 per message, and almost every message has an id).
FallbackId = str | Callable[[], str] | None

#: Decoders by `kind`: each takes the parsed JSON object and the fallback id.
DECODERS: dict[str, Callable[[dict[str, Any], FallbackId], Event]] = {}


def encode(event: Event) -> bytes:
    """The message value for `event`."""
    return json.dumps(event.to_dict(), separators=(",", ":"), allow_nan=False).encode("utf-8")


def message_key(event: Event) -> bytes:
    return event.key()


def legacy_event_id(topic: str, partition: int, offset: int) -> str:
    """A stable id for a message that carries none, so redelivery stays idempotent."""
    return str(uuid.uuid5(LEGACY_NAMESPACE, f"{topic}/{partition}/{offset}"))


def decode(raw: bytes, *, fallback_id: FallbackId = None) -> Event:
    """Parse a message value into an event of any kind, or raise `DecodeError` saying why.

    Messages in the original format (no `kind`, `v` or `event_id`; naive
    timestamp; integer response time) are probes; `fallback_id` then supplies
    the id (see `legacy_event_id`), or a function returning it, called only then.

    A valid probe takes a fast path (`_decode_fast`); anything else goes field by
    field through `_decode_slow`, which says what is wrong.
    """
    if type(raw) is bytes:
        probe = _decode_fast(raw, fallback_id)
        if probe is not None:
            return probe
    return _decode_slow(raw, fallback_id=fallback_id)


def _decode_slow(raw: bytes, *, fallback_id: FallbackId = None) -> Event:
    """`decode` for every kind, field by field: the reference for what is accepted and why
    anything is not."""
    data = parse_object(raw)
    kind = data.get("kind", "probe")
    decoder = DECODERS.get(kind) if isinstance(kind, str) else None
    if decoder is None:
        raise DecodeError(f"unknown event kind {_short(kind)}")
    version = data.get("v", SCHEMA_VERSION)
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise DecodeError(f"unsupported schema version {_short(version)}")
    return decoder(data, fallback_id)


def decode_probe(raw: bytes, *, fallback_id: FallbackId = None) -> ProbeResult:
    """Like `decode`, for a value that must be a probe result."""
    event = decode(raw, fallback_id=fallback_id)
    if not isinstance(event, ProbeResult):
        raise DecodeError(f"expected a probe, got kind {event.kind!r}")
    return event


def parse_object(raw: bytes) -> dict[str, Any]:
    """The JSON object in a message value, or DecodeError.

    orjson parses the bytes as they come (about 4x faster than the standard
    library here: the flush decodes every message) and is strict where the
    store needs it: no NaN or Infinity, no invalid UTF-8, no unpaired
    surrogate escapes (`\\ud800`, which no store can encode).
    """
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise DecodeError("value is not bytes")
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(_json_error(bytes(raw), str(exc))) from None
    if not isinstance(data, dict):
        raise DecodeError("value is not a JSON object")
    return data


def _json_error(raw: bytes, message: str) -> str:
    """Why a value is not JSON, in the sink's words."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "value is not valid UTF-8"
    if "surrogate" in message:
        return "value contains an unpaired UTF-16 surrogate escape"
    return f"value is not valid JSON: {_short(message, 120)}"


def _decode_probe(data: dict[str, Any], fallback_id: FallbackId) -> ProbeResult:
    return ProbeResult(
        url=_url(data),
        timestamp=_timestamp(data),
        http_status_code=_status(data),
        response_time_ms=_milliseconds(data, "response_time_ms"),
        event_id=_event_id(data, fallback_id),
        error=_optional_str(data, "error", 64),
        error_detail=_optional_str(data, "error_detail", 2048),
        content_match=_optional_bool(data, "content_match"),
        ok=_optional_bool(data, "ok"),
        dns_ms=_milliseconds(data, "dns_ms"),
        connect_ms=_milliseconds(data, "connect_ms"),
        tls_ms=_milliseconds(data, "tls_ms"),
        ttfb_ms=_milliseconds(data, "ttfb_ms"),
    )


DECODERS["probe"] = _decode_probe


# --- the fast path for probes ---------------------------------------------------------------

_Milliseconds = Annotated[float, msgspec.Meta(ge=0, le=1e9)]


class _ProbeMessage(msgspec.Struct, forbid_unknown_fields=True):
    """A valid probe message, as far as msgspec can tell; `_decode_fast` checks the rest.

    Unknown fields are refused (the message then takes the slow path) because
    msgspec skips them without the checks `parse_object` makes on the whole
    value: invalid UTF-8 or a number too large for a double there would pass.
    `timestamp` stays a string, converted as `_parse_utc` converts it in the slow path:
    msgspec's own datetime parsing rounds digits past the microsecond (the slow
    path truncates them) and takes a lowercase `z`.
    """

    url: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_URL_LENGTH)]
    timestamp: str
    http_status_code: Annotated[int, msgspec.Meta(ge=100, le=999)] | None
    response_time_ms: _Milliseconds | None
    kind: Literal["probe"] = "probe"
    v: int = SCHEMA_VERSION  # (a bool or float such as 1.0 goes the slow way, which decides)
    event_id: str | None = None
    error: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    error_detail: Annotated[str, msgspec.Meta(max_length=2048)] | None = None
    content_match: bool | None = None
    ok: bool | None = None
    dns_ms: _Milliseconds | None = None
    connect_ms: _Milliseconds | None = None
    tls_ms: _Milliseconds | None = None
    ttfb_ms: _Milliseconds | None = None


_PROBE_DECODER = msgspec.json.Decoder(_ProbeMessage)
_fromisoformat = datetime.fromisoformat


def _decode_fast(raw: bytes, fallback_id: FallbackId) -> ProbeResult | None:
    """The probe in `raw` when it is a valid one, else None: `_decode_slow` then decides.

    This path only ever accepts, and only what `_decode_slow` accepts, building
    the same `ProbeResult`; every rejection and its reason come from the slow
    path. It takes about half the slow path's time (the `ProbeResult` is built by
    `_new_probe`, a third of the dataclass constructor's time), and the flush
    decodes every message.
    """
    try:
        message = _PROBE_DECODER.decode(raw)
    except (msgspec.DecodeError, ValueError):  # invalid UTF-8 is a UnicodeDecodeError
        return None
    if message.v != SCHEMA_VERSION or "\x00" in message.url:
        return None
    error, detail = message.error, message.error_detail
    if (error is not None and "\x00" in error) or (detail is not None and "\x00" in detail):
        return None
    event_id = message.event_id
    if event_id is None:
        if fallback_id is None:
            return None
        event_id = fallback_id if isinstance(fallback_id, str) else fallback_id()
    elif not _CANONICAL_UUID.fullmatch(event_id):
        return None  # the slow path puts it in canonical form, or says why it cannot
    text = message.timestamp
    try:
        timestamp = _fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        return None
    # What producers write (+00:00 or Z, in range) is done; `_parse_utc` decides the rest.
    # (For a UTC time the range check on the year is the one `_parse_utc` makes.)
    if timestamp.tzinfo is not timezone.utc or not 1970 <= timestamp.year < 9000:
        try:
            timestamp = _parse_utc(text, "timestamp", naive_is_utc=True)
        except DecodeError:
            return None
    return _new_probe(
        message.url,
        timestamp,
        message.http_status_code,
        message.response_time_ms,
        event_id,
        error,
        detail,
        message.content_match,
        message.ok,
        message.dns_ms,
        message.connect_ms,
        message.tls_ms,
        message.ttfb_ms,
    )


#: How each ProbeResult slot is written, bypassing the frozen `__setattr__`.
_SLOT_SETTERS = {
    field.name: vars(ProbeResult)[field.name].__set__ for field in dataclasses.fields(ProbeResult)
}


def _new_probe(
    url: str,
    timestamp: datetime,
    http_status_code: int | None,
    response_time_ms: float | None,
    event_id: str,
    error: str | None,
    error_detail: str | None,
    content_match: bool | None,
    ok: bool | None,
    dns_ms: float | None,
    connect_ms: float | None,
    tls_ms: float | None,
    ttfb_ms: float | None,
    *,
    _new: Any = object.__new__,
    _set_url: Any = _SLOT_SETTERS["url"],
    _set_timestamp: Any = _SLOT_SETTERS["timestamp"],
    _set_status: Any = _SLOT_SETTERS["http_status_code"],
    _set_response_time: Any = _SLOT_SETTERS["response_time_ms"],
    _set_event_id: Any = _SLOT_SETTERS["event_id"],
    _set_error: Any = _SLOT_SETTERS["error"],
    _set_error_detail: Any = _SLOT_SETTERS["error_detail"],
    _set_content_match: Any = _SLOT_SETTERS["content_match"],
    _set_ok: Any = _SLOT_SETTERS["ok"],
    _set_dns: Any = _SLOT_SETTERS["dns_ms"],
    _set_connect: Any = _SLOT_SETTERS["connect_ms"],
    _set_tls: Any = _SLOT_SETTERS["tls_ms"],
    _set_ttfb: Any = _SLOT_SETTERS["ttfb_ms"],
) -> ProbeResult:
    """`ProbeResult(...)` with every field given, for `_decode_fast` only: a third of the time.

    The frozen dataclass `__init__` goes through `object.__setattr__` field by
    field; this writes the slots through their descriptors (bound once, as
    defaults) and computes `ok` as `__post_init__` does. Arguments are not
    checked: the caller has validated them.
    """
    probe: ProbeResult = _new(ProbeResult)
    _set_url(probe, url)
    _set_timestamp(probe, timestamp)
    _set_status(probe, http_status_code)
    _set_response_time(probe, response_time_ms)
    _set_event_id(probe, event_id)
    _set_error(probe, error)
    _set_error_detail(probe, error_detail)
    _set_content_match(probe, content_match)
    if ok is None:  # (as in ProbeResult.__post_init__)
        ok = (
            error is None
            and http_status_code is not None
            and http_status_code < 400
            and content_match is not False
        )
    _set_ok(probe, ok)
    _set_dns(probe, dns_ms)
    _set_connect(probe, connect_ms)
    _set_tls(probe, tls_ms)
    _set_ttfb(probe, ttfb_ms)
    return probe


#: A UUID already in canonical form (what `str(uuid.UUID(...))` returns): kept as is.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _short(value: Any, limit: int = 60) -> str:
    text = str(value) if isinstance(value, Exception) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _url(data: dict[str, Any]) -> str:
    url = data.get("url")
    if not isinstance(url, str) or not url:
        raise DecodeError("field 'url' is missing or not a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise DecodeError(f"field 'url' is longer than {MAX_URL_LENGTH} characters")
    if "\x00" in url:
        raise DecodeError("field 'url' contains a NUL character")
    return url


def _timestamp(data: dict[str, Any]) -> datetime:
    # the original tool wrote naive UTC `str(datetime)`: naive means UTC here
    return _utc_datetime(data, "timestamp", naive_is_utc=True)


#: Events outside these years are bad data, and at the very edges of datetime's range a
#: conversion to UTC overflows.
_EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)


def _utc_datetime(data: dict[str, Any], name: str, *, naive_is_utc: bool) -> datetime:
    """An ISO 8601 field as an aware UTC datetime, or DecodeError."""
    value = data.get(name)
    if not isinstance(value, str):
        raise DecodeError(f"field {name!r} is missing or not a string")
    return _parse_utc(value, name, naive_is_utc=naive_is_utc)


def _parse_utc(value: str, name: str, *, naive_is_utc: bool) -> datetime:
    """An ISO 8601 string (field `name`) as an aware UTC datetime, or DecodeError."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            if not naive_is_utc:
                raise DecodeError(f"field {name!r} has no time zone")
            parsed = parsed.replace(tzinfo=timezone.utc)
        elif parsed.tzinfo is not timezone.utc:  # (what +00:00 parses to: nothing to convert)
            parsed = parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise DecodeError(f"field {name!r} is not an ISO 8601 time: {_short(value)}") from None
    if not _EARLIEST <= parsed < _LATEST:
        raise DecodeError(f"field {name!r} is out of range: {_short(value)}")
    return parsed


def _status(data: dict[str, Any]) -> int | None:
    if "http_status_code" not in data:
        raise DecodeError("field 'http_status_code' is missing")
    value = data["http_status_code"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 999:
        raise DecodeError(f"field 'http_status_code' is not an HTTP status: {_short(value)}")
    return value


def _milliseconds(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        if name == "response_time_ms" and name not in data:
            raise DecodeError("field 'response_time_ms' is missing")
        return None
    kind = type(value)  # exact types: a bool is not a number here
    if kind is not float and kind is not int:
        raise DecodeError(f"field {name!r} is not a number: {_short(value)}")
    if not 0 <= value <= 1e9:  # also false for NaN
        raise DecodeError(f"field {name!r} is out of range: {_short(value)}")
    return float(value)


def _event_id(data: dict[str, Any], fallback_id: FallbackId) -> str:
    value = data.get("event_id")
    if value is None:
        if fallback_id is None:
            raise DecodeError("field 'event_id' is missing")
        return fallback_id if isinstance(fallback_id, str) else fallback_id()
    if not isinstance(value, str):
        raise DecodeError("field 'event_id' is not a string")
    if _CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise DecodeError(f"field 'event_id' is not a UUID: {_short(value)}") from None


def _optional_str(data: dict[str, Any], name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise DecodeError(f"field {name!r} is not a string of at most {limit} characters")
    return value


def _optional_bool(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise DecodeError(f"field {name!r} is not true, false or null")


MAX_PATH_LENGTH = 8192


@dataclasses.dataclass(frozen=True, slots=True)
class Hit:
    """One request read from an access log by `wm tail`.

    `source` names where the log was read (a host name by default); it is the
    partitioning key, so one server's hits stay in order. `user` is None for
    `-`; `bytes` is the response size (0 for `-`).
    """

    kind: ClassVar[str] = "hit"

    timestamp: datetime
    source: str
    remote_host: str
    user: str | None
    method: str
    path: str
    section: str
    status: int
    bytes: int
    event_id: str = dataclasses.field(default_factory=new_event_id)
    referer: str | None = None
    user_agent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        return {"kind": self.kind, "v": SCHEMA_VERSION, **data}

    def key(self) -> builtins.bytes:
        return self.source.encode("utf-8")


def _decode_hit(data: dict[str, Any], fallback_id: FallbackId) -> Hit:
    status = data.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
        raise DecodeError(f"field 'status' is not an HTTP status: {_short(status)}")
    size = data.get("bytes")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 2**63:
        raise DecodeError(f"field 'bytes' is not a size: {_short(size)}")
    return Hit(
        timestamp=_timestamp(data),
        source=_required_str(data, "source", 255),
        remote_host=_required_str(data, "remote_host", 255),
        user=_optional_str(data, "user", 255),
        method=_required_str(data, "method", 64),
        path=_required_str(data, "path", MAX_PATH_LENGTH),
        section=_required_str(data, "section", MAX_PATH_LENGTH),
        status=status,
        bytes=size,
        event_id=_event_id(data, fallback_id),
        referer=_optional_str(data, "referer", MAX_PATH_LENGTH),
        user_agent=_optional_str(data, "user_agent", 2048),
    )


def _required_str(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
        raise DecodeError(f"field {name!r} is missing or not a string of 1 to {limit} characters")
    return value


DECODERS["hit"] = _decode_hit


# --- telemetry ----------------------------------------------------------------------------

#: Metric types of a telemetry bucket: an llpp station, or a StatsD timer, counter or gauge.
TELEMETRY_TYPES = ("station", "timer", "counter", "gauge")
MAX_TELEMETRY_NAME = 255
_COUNT_FIELDS = ("arrivals", "departures", "samples")
_FLOAT_FIELDS = ("sum_value", "sumsq_value", "total")
_OPTIONAL_FLOAT_FIELDS = (
    "min_value",
    "max_value",
    "first_value",
    "first_at",
    "last_value",
    "last_at",
    "status_at",
    "p50",
    "p95",
    "p99",
)


@dataclasses.dataclass(frozen=True, slots=True)
class TelemetryBucket:
    """What one listener received for one station or metric in one time bucket since its
    previous flush (a delta, with its own `event_id`); the store merges deltas.

    Values are milliseconds for service times and timers, the raw value for
    gauges. `samples`, `sum_value`, `sumsq_value`, `min_value`, `max_value`,
    `first_*` and `last_*` describe the values (service times, timer or gauge
    values; `*_at` are Unix times in seconds); `total` is a counter's sum of
    value / sample rate. Percentiles cover every sample this listener kept for
    the bucket so far, not just the delta.
    """

    kind: ClassVar[str] = "telemetry"

    name: str
    metric_type: str
    bucket_start: datetime
    bucket_seconds: int
    emitted_at: datetime
    event_id: str = dataclasses.field(default_factory=new_event_id)
    arrivals: int = 0
    departures: int = 0
    samples: int = 0
    sum_value: float = 0.0
    sumsq_value: float = 0.0
    min_value: float | None = None
    max_value: float | None = None
    first_value: float | None = None
    first_at: float | None = None
    last_value: float | None = None
    last_at: float | None = None
    total: float = 0.0
    status: str | None = None
    status_at: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None

    @property
    def bucket_end(self) -> datetime:
        from datetime import timedelta

        return self.bucket_start + timedelta(seconds=self.bucket_seconds)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["bucket_start"] = self.bucket_start.isoformat()
        data["emitted_at"] = self.emitted_at.isoformat()
        return {"kind": self.kind, "v": SCHEMA_VERSION, **data}

    def key(self) -> bytes:
        return self.name.encode("utf-8")


def _decode_telemetry(data: dict[str, Any], fallback_id: FallbackId) -> TelemetryBucket:
    name = data.get("name")
    if not isinstance(name, str) or not name or len(name) > MAX_TELEMETRY_NAME:
        raise DecodeError(f"field 'name' is not a string of 1 to {MAX_TELEMETRY_NAME} characters")
    if "\x00" in name:
        raise DecodeError("field 'name' contains a NUL character")
    metric_type = data.get("metric_type")
    if metric_type not in TELEMETRY_TYPES:
        raise DecodeError(f"field 'metric_type' is not one of {', '.join(TELEMETRY_TYPES)}")
    seconds = data.get("bucket_seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not 1 <= seconds <= 31_622_400:
        raise DecodeError("field 'bucket_seconds' is not a whole number of seconds up to a year")
    counts = {}
    for field in _COUNT_FIELDS:
        value = data.get(field, 0)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise DecodeError(f"field {field!r} is not a non-negative integer")
        counts[field] = value
    floats: dict[str, Any] = {}
    for field in _FLOAT_FIELDS + _OPTIONAL_FLOAT_FIELDS:
        value = data.get(field, 0.0 if field in _FLOAT_FIELDS else None)
        if value is None and field in _OPTIONAL_FLOAT_FIELDS:
            floats[field] = None
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DecodeError(f"field {field!r} is not a number")
        if not math.isfinite(value):
            raise DecodeError(f"field {field!r} is not finite")
        floats[field] = float(value)
    return TelemetryBucket(
        name=name,
        metric_type=metric_type,
        bucket_start=_datetime_field(data, "bucket_start"),
        bucket_seconds=seconds,
        emitted_at=_datetime_field(data, "emitted_at"),
        event_id=_event_id(data, None),
        status=_optional_str(data, "status", 255),
        **counts,
        **floats,
    )


def _datetime_field(data: dict[str, Any], name: str) -> datetime:
    return _utc_datetime(data, name, naive_is_utc=False)


DECODERS["telemetry"] = _decode_telemetry
