"""The llpp datagram: a tiny binary protocol for station telemetry over UDP.

One datagram of at most 1024 bytes::

    header  struct "!8sBB": 8-byte magic, station-name length, content length
    station UTF-8, exactly the announced length (1-255 bytes)
    content exactly the announced length (0-255 bytes)

Magics: `llppstts` a status (content: UTF-8 text), `llpprrvl` an arrival (no
content), `llppdprt` a departure (content: `!Q`, the service time in
nanoseconds). Every malformed datagram raises `DatagramError` whose `reason`
is one of `REASONS`, so a listener can count them.
"""

from __future__ import annotations

import struct

import msgspec

from website_monitor.errors import WebsiteMonitorError

HEADER = struct.Struct("!8sBB")
SERVICE_TIME = struct.Struct("!Q")
MAX_DATAGRAM = 1024
MAX_FIELD = 255

MAGIC_STATUS = b"llppstts"
MAGIC_ARRIVAL = b"llpprrvl"
MAGIC_DEPARTURE = b"llppdprt"
MAGICS = (MAGIC_STATUS, MAGIC_ARRIVAL, MAGIC_DEPARTURE)
_MAGIC_SET = frozenset(MAGICS)

# Reasons a datagram is rejected; the listener counts each separately.
TOO_LARGE = "too_large"
TRUNCATED = "truncated"
WRONG_MAGIC = "wrong_magic"
LENGTH_MISMATCH = "length_mismatch"
INVALID_UTF8 = "invalid_utf8"
EMPTY_STATION = "empty_station"
REASONS = (TOO_LARGE, TRUNCATED, WRONG_MAGIC, LENGTH_MISMATCH, INVALID_UTF8, EMPTY_STATION)


class DatagramError(WebsiteMonitorError):
    """A datagram that is not valid; `reason` is a short slug (see `REASONS`)."""

    def __init__(self, reason: str, detail: str | None = None, hint: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason, hint)
        self.reason = reason


class Status(msgspec.Struct, frozen=True, gc=False):
    station: str
    text: str


class Arrival(msgspec.Struct, frozen=True, gc=False):
    station: str


class Departure(msgspec.Struct, frozen=True, gc=False):
    station: str
    service_ns: int

    @property
    def service_ms(self) -> float:
        return self.service_ns / 1e6


Message = Status | Arrival | Departure


def decode(data: bytes) -> Message:
    """The message in one datagram, or `DatagramError` saying why it is not one."""
    size = len(data)
    if size > MAX_DATAGRAM:
        raise DatagramError(TOO_LARGE, f"{size} bytes, at most {MAX_DATAGRAM}")
    head = bytes(data[:8])
    if head not in _MAGIC_SET and not any(magic.startswith(head) for magic in MAGICS):
        raise DatagramError(WRONG_MAGIC, f"unknown magic {head!r}")
    if size < HEADER.size:
        raise DatagramError(TRUNCATED, f"{size} bytes, shorter than the {HEADER.size}-byte header")
    magic, name_length, content_length = HEADER.unpack_from(data)
    expected = HEADER.size + name_length + content_length
    if size < expected:
        raise DatagramError(TRUNCATED, f"{size} bytes, the header announces {expected}")
    if size > expected:
        raise DatagramError(LENGTH_MISMATCH, f"{size} bytes, the header announces {expected}")
    if name_length == 0:
        raise DatagramError(EMPTY_STATION, "the station name is empty")
    station = _text(data[HEADER.size : HEADER.size + name_length], "station name")
    content = data[HEADER.size + name_length :]
    if magic == MAGIC_ARRIVAL:
        if content_length:
            raise DatagramError(LENGTH_MISMATCH, f"an arrival has no content, got {content_length}")
        return Arrival(station)
    if magic == MAGIC_DEPARTURE:
        if content_length != SERVICE_TIME.size:
            raise DatagramError(
                LENGTH_MISMATCH,
                f"a departure has {SERVICE_TIME.size} content bytes, got {content_length}",
            )
        return Departure(station, SERVICE_TIME.unpack(content)[0])
    return Status(station, _text(content, "status text"))


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DatagramError(INVALID_UTF8, f"the {what} is not valid UTF-8") from None


def encode(magic: bytes, station: str, content: bytes = b"") -> bytes:
    """One datagram; `DatagramError` if the station or content does not fit."""
    if magic not in MAGICS:
        raise DatagramError(WRONG_MAGIC, f"unknown magic {magic!r}", hint="use one of MAGICS")
    name = station.encode("utf-8")
    if not name:
        raise DatagramError(EMPTY_STATION, "the station name is empty", hint="give a station name")
    if len(name) > MAX_FIELD:
        raise DatagramError(
            LENGTH_MISMATCH,
            f"the station name is {len(name)} bytes in UTF-8, at most {MAX_FIELD}",
            hint="use a shorter station name",
        )
    if len(content) > MAX_FIELD:
        raise DatagramError(
            LENGTH_MISMATCH,
            f"the content is {len(content)} bytes, at most {MAX_FIELD}",
            hint="shorten the status text",
        )
    return HEADER.pack(magic, len(name), len(content)) + name + content


def encode_status(station: str, text: str) -> bytes:
    return encode(MAGIC_STATUS, station, text.encode("utf-8"))


def encode_arrival(station: str) -> bytes:
    return encode(MAGIC_ARRIVAL, station)


def encode_departure(station: str, service_ns: int) -> bytes:
    if not 0 <= service_ns < 2**64:
        raise DatagramError(
            LENGTH_MISMATCH,
            f"service time {service_ns} ns does not fit in 64 unsigned bits",
            hint="give a non-negative service time",
        )
    return encode(MAGIC_DEPARTURE, station, SERVICE_TIME.pack(service_ns))


def encode_message(message: Message) -> bytes:
    if isinstance(message, Arrival):
        return encode_arrival(message.station)
    if isinstance(message, Departure):
        return encode_departure(message.station, message.service_ns)
    return encode_status(message.station, message.text)


def is_llpp(data: bytes) -> bool:
    """Whether a datagram is meant as llpp rather than StatsD text.

    It is when it starts with `llpp`, or holds a control byte other than tab,
    CR or LF anywhere (the header's length bytes are such bytes in practice;
    StatsD text never has them), so a binary datagram with a wrong magic is
    counted as `wrong_magic`, not as malformed StatsD.
    """
    if data[:4] == b"llpp":
        return True
    return bool(data.translate(None, _TEXT_BYTES))


_TEXT_BYTES = bytes(b for b in range(256) if b >= 0x20 or b in (0x09, 0x0A, 0x0D))
