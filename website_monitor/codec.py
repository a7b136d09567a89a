"""The message codec every kind of data shares: the envelope, the dispatch and field checks.

A Kafka message value is UTF-8 JSON with `kind`, a schema version `v` and a
unique `event_id`, plus the fields of its kind (each kind's own `codec`
module: `probes.codec`, `logs.codec`, `telemetry.codec`). `decode` finds the
kind's decoder in the registry (`website_monitor.features`) and validates
strictly: anything else raises `DecodeError` with a short reason, so a bad
message is dead-lettered instead of crashing the sink.
"""

from __future__ import annotations

import collections
import json
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any, Protocol

import orjson

from website_monitor.errors import DecodeError

SCHEMA_VERSION = 1
#: Namespace for ids derived from a message's position, for messages that carry none.
LEGACY_NAMESPACE = uuid.UUID("5d1f8a3c-1f64-4d55-9a0a-7b1d4c9e2f10")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_event_id() -> str:
    return str(uuid.uuid4())


class Event(Protocol):
    """What every event kind provides: a kind name, a unique id and a JSON form."""

    @property
    def kind(self) -> str: ...

    @property
    def event_id(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...

    def key(self) -> bytes:
        """Partitioning key: events of one URL (or station, or source) stay in order."""
        ...


#: The id of a message that carries none: the id itself, or a function computing it only
#: when needed (deriving it costs a uuid5 per message, and almost every message has an id).
FallbackId = str | Callable[[], str] | None
#: Builds an event of one kind from a parsed JSON object and its fallback id.
Decoder = Callable[[dict[str, Any], FallbackId], Event]
#: Builds an event of one kind straight from the bytes when they are valid, else None.
FastDecoder = Callable[[bytes, FallbackId], Event | None]
#: The events of a valid `batch` message of one kind, every one with its id, else None.
BatchDecoder = Callable[[bytes], "list[Event] | None"]
#: The events of a parsed message that holds many in a form of its own (`hits`), or
#: DecodeError saying why not.
ManyDecoder = Callable[[dict[str, Any], FallbackId], "list[Event]"]


def count_by_type(events: Sequence[Event]) -> dict[type, int]:
    """How many of `events` are of each type; at once for a batch of one type that says so
    (`event_type`: `logs.parsed.ParsedHits`, which builds its events only when read)."""
    one_type = getattr(events, "event_type", None)
    if one_type is not None:
        return {one_type: len(events)} if events else {}
    return dict(collections.Counter(map(type, events)))


def encode(event: Event) -> bytes:
    """The message value for `event`."""
    return json.dumps(event.to_dict(), separators=(",", ":"), allow_nan=False).encode("utf-8")


def legacy_event_id(topic: str, partition: int, offset: int) -> str:
    """A stable id for a message that carries none, so redelivery stays idempotent."""
    return str(uuid.uuid5(LEGACY_NAMESPACE, f"{topic}/{partition}/{offset}"))


class _Kinds:
    """Decoders by kind, from the registry, looked up once."""

    decoders: dict[str, Decoder] | None = None
    fast: tuple[FastDecoder, ...] = ()
    #: The fast path of each kind, by the kind's name (bytes) after `{"kind":"`.
    by_kind: dict[bytes, tuple[FastDecoder, ...]] = {}
    #: Fast paths of the messages holding many events, by their kind's name (bytes):
    #: `batch` (tried for every kind that has one) and each kind's own (`hits`).
    many_fast: dict[bytes, tuple[BatchDecoder, ...]] = {}
    #: Field-by-field decoders of the messages holding many events in a form of their own.
    many: dict[str, ManyDecoder] = {}

    @classmethod
    def load(cls) -> dict[str, Decoder]:
        from website_monitor import features

        kinds = [k for k in features.event_kinds() if k.decode_fast]
        cls.fast = tuple(k.decode_fast for k in kinds if k.decode_fast)
        cls.by_kind = {k.kind.encode(): (k.decode_fast,) for k in kinds if k.decode_fast}
        bulk = [k.bulk for k in features.event_kinds() if k.bulk]
        cls.many_fast = {
            b"batch": tuple(
                k.decode_batch_fast for k in features.event_kinds() if k.decode_batch_fast
            ),
            **{b.kind.encode(): (b.decode_fast,) for b in bulk},
        }
        cls.many = {b.kind: b.decode for b in bulk}
        cls.decoders = {k.kind: k.decode for k in features.event_kinds()}
        return cls.decoders


def decode(raw: bytes, *, fallback_id: FallbackId = None) -> Event:
    """Parse a message value into an event of any kind, or raise `DecodeError` saying why.

    Messages in the original format (no `kind`, `v` or `event_id`; naive
    timestamp; integer response time) are probes; `fallback_id` then supplies
    the id (see `legacy_event_id`), or a function returning it, called only then.

    A kind may have a fast path for valid messages (probes do: the flush decodes
    every one); anything it does not accept goes field by field through
    `decode_slow`, which says what is wrong.
    """
    if _Kinds.decoders is None:
        _Kinds.load()
    if type(raw) is bytes:
        # Producers write `kind` first: only that kind's fast path is worth trying (a fast
        # path only accepts its own kind, so a wrong guess costs time, never a wrong event).
        fast_paths = _Kinds.fast
        if raw.startswith(b'{"kind":"'):
            fast_paths = _Kinds.by_kind.get(raw[9 : raw.find(b'"', 9)], fast_paths)
        for fast in fast_paths:
            event = fast(raw, fallback_id)
            if event is not None:
                return event
    return decode_slow(raw, fallback_id=fallback_id)


#: Most events in one `batch` message.
MAX_BATCH = 1000


def decode_many(raw: bytes, *, fallback_id: FallbackId = None) -> list[Event]:
    """The events of a message: one, or those of a message holding many, in order.

    A batch message (`{"kind": "batch", "v": 1, "events": [...]}`) holds up to
    MAX_BATCH whole event documents of any kind. A kind may have a message of its own
    for many events (`feature.BulkMessage`: `hits`, what `wm tail --publish -b`
    sends). Either decodes whole or not at all: DecodeError names the first event that
    does not decode and why, and the message is dead-lettered as one. An event of a
    batch without an id gets one derived from the message's fallback id and its index.
    """
    if _Kinds.decoders is None:
        _Kinds.load()
    many = None
    if type(raw) is bytes and raw.startswith(b'{"kind":"'):
        many = _Kinds.many_fast.get(raw[9 : raw.find(b'"', 9)])
    if many is not None:
        for fast in many:
            events = fast(raw)
            if events is not None:
                return events
    elif type(raw) is bytes:
        try:
            return [decode(raw, fallback_id=fallback_id)]
        except DecodeError as exc:  # one holding many whose `kind` is not first: read below
            if not exc.reason.startswith("unknown event kind"):
                raise
    data = parse_object(raw)
    kind = data.get("kind")
    if kind != "batch":
        bulk = _Kinds.many.get(kind) if isinstance(kind, str) else None
        if bulk is None:
            return [decode_object(data, fallback_id)]
        _check_version(data)
        return bulk(data, fallback_id)
    _check_version(data)
    items = data.get("events")
    if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH:
        raise DecodeError(f"field 'events' is not a list of 1 to {MAX_BATCH} events")
    events = []
    for index, item in enumerate(items):
        try:
            if not isinstance(item, dict) or item.get("kind") == "batch":
                raise DecodeError("not an event object")
            events.append(decode_object(item, _item_id(fallback_id, index)))
        except DecodeError as exc:
            raise DecodeError(f"event {index} of the batch: {exc.reason}") from None
    return events


def _check_version(data: dict[str, Any]) -> None:
    version = data.get("v", SCHEMA_VERSION)
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise DecodeError(f"unsupported schema version {short(version)}")


def _item_id(fallback_id: FallbackId, index: int) -> FallbackId:
    if fallback_id is None:
        return None
    return lambda: str(
        uuid.uuid5(
            LEGACY_NAMESPACE,
            f"{fallback_id if isinstance(fallback_id, str) else fallback_id()}#{index}",
        )
    )


def decode_slow(raw: bytes, *, fallback_id: FallbackId = None) -> Event:
    """`decode` for every kind, field by field: the reference for what is accepted and why
    anything is not."""
    return decode_object(parse_object(raw), fallback_id)


def decode_object(data: dict[str, Any], fallback_id: FallbackId = None) -> Event:
    """The event of a parsed message (`decode_slow` after parsing)."""
    decoders = _Kinds.decoders or _Kinds.load()
    kind = data.get("kind", "probe")
    decoder = decoders.get(kind) if isinstance(kind, str) else None
    if decoder is None:
        raise DecodeError(f"unknown event kind {short(kind)}")
    _check_version(data)
    return decoder(data, fallback_id)


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
    return f"value is not valid JSON: {short(message, 120)}"


# --- field checks shared by the kinds' decoders ---------------------------------------------

#: A UUID already in canonical form (what `str(uuid.UUID(...))` returns): kept as is.
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
#: Events outside these years are bad data, and at the very edges of datetime's range a
#: conversion to UTC overflows.
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9000, 1, 1, tzinfo=timezone.utc)


def short(value: Any, limit: int = 60) -> str:
    text = str(value) if isinstance(value, Exception) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def utc_datetime(data: dict[str, Any], name: str, *, naive_is_utc: bool) -> datetime:
    """An ISO 8601 field as an aware UTC datetime, or DecodeError."""
    value = data.get(name)
    if not isinstance(value, str):
        raise DecodeError(f"field {name!r} is missing or not a string")
    return parse_utc(value, name, naive_is_utc=naive_is_utc)


def parse_utc(value: str, name: str, *, naive_is_utc: bool) -> datetime:
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
        raise DecodeError(f"field {name!r} is not an ISO 8601 time: {short(value)}") from None
    if not EARLIEST <= parsed < LATEST:
        raise DecodeError(f"field {name!r} is out of range: {short(value)}")
    return parsed


def timestamp(data: dict[str, Any]) -> datetime:
    """The `timestamp` field; the original tool wrote naive UTC `str(datetime)`, so naive
    means UTC here."""
    return utc_datetime(data, "timestamp", naive_is_utc=True)


def event_id(data: dict[str, Any], fallback_id: FallbackId) -> str:
    value = data.get("event_id")
    if value is None:
        if fallback_id is None:
            raise DecodeError("field 'event_id' is missing")
        return fallback_id if isinstance(fallback_id, str) else fallback_id()
    if not isinstance(value, str):
        raise DecodeError("field 'event_id' is not a string")
    if CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise DecodeError(f"field 'event_id' is not a UUID: {short(value)}") from None


def optional_str(data: dict[str, Any], name: str, limit: int) -> str | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise DecodeError(f"field {name!r} is not a string of at most {limit} characters")
    return value


def required_str(data: dict[str, Any], name: str, limit: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > limit or "\x00" in value:
        raise DecodeError(f"field {name!r} is missing or not a string of 1 to {limit} characters")
    return value


def optional_bool(data: dict[str, Any], name: str) -> bool | None:
    value = data.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise DecodeError(f"field {name!r} is not true, false or null")


def status(data: dict[str, Any], name: str, *, nullable: bool = False) -> int | None:
    """An HTTP status field (100 to 999); with `nullable`, present but possibly null."""
    if nullable:
        if name not in data:
            raise DecodeError(f"field {name!r} is missing")
        if data[name] is None:
            return None
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 999:
        raise DecodeError(f"field {name!r} is not an HTTP status: {short(value)}")
    return value
