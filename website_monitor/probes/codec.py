"""Probe results: the `probe` message, its type and its decoders.

The message keeps the original tool's fields (`url`, `timestamp`,
`http_status_code`, `response_time_ms`) and adds an error kind, the content
match, health and the connection phases, then the probing location, the TLS
certificate's expiry and issuer, and the first failed condition. Every field
after the original four is optional, so messages written before a field
existed still decode. Valid messages take a fast path (`decode_fast`,
msgspec); anything else goes field by field through `decode`, which says what
is wrong.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Annotated, Any, ClassVar, Literal

import msgspec

from website_monitor import codec
from website_monitor.codec import (
    CANONICAL_UUID,
    SCHEMA_VERSION,
    FallbackId,
    new_event_id,
    optional_bool,
    optional_str,
    parse_utc,
)
from website_monitor.errors import DecodeError

MAX_URL_LENGTH = 8192
#: The `error` kinds: the first eight mean no answer came; `cert_expiring` and `condition`
#: are answers that failed a check (`--expect-cert-days`, `--expect`).
ERROR_KINDS = (
    "dns",
    "refused",
    "timeout",
    "tls",
    "connection",
    "redirects",
    "invalid",
    "other",
    "cert_expiring",
    "condition",
)
PHASES = ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms")
MAX_LOCATION_LENGTH = 255
MAX_ISSUER_LENGTH = 1024
MAX_CONDITION_LENGTH = 1024
#: Certificate expiry times accepted: X.509 times start in 1950, and 9999-12-31 means
#: "no well-defined expiry" (RFC 5280).
CERT_EARLIEST = datetime(1950, 1, 1, tzinfo=timezone.utc)


@dataclasses.dataclass(frozen=True, slots=True)
class ProbeResult:
    """One check of one URL (HTTP, TCP or DNS).

    `http_status_code` and `response_time_ms` are None when the request failed;
    `error` then names the failure kind. Phases are None where not measured
    (for instance on a reused connection there is no DNS, connect or TLS).
    `location` names where the check ran; `cert_expires_at` is the earliest
    expiry among the certificates an HTTPS server presented, `cert_issuer` the
    leaf's issuer; `failed_condition` the first `--expect` expression that failed.
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
    location: str | None = None
    cert_expires_at: datetime | None = None
    cert_issuer: str | None = None
    failed_condition: str | None = None

    def __post_init__(self) -> None:
        if self.ok is None:
            healthy = (
                self.error is None
                and self.http_status_code is not None
                and self.http_status_code < 400
                and self.content_match is not False
            )
            object.__setattr__(self, "ok", healthy)

    @classmethod
    def failed(
        cls,
        url: str,
        timestamp: datetime,
        error: str,
        detail: str,
        *,
        location: str | None,
        dns_ms: float | None = None,
        connect_ms: float | None = None,
        tls_ms: float | None = None,
    ) -> ProbeResult:
        """A check that got no answer to judge: HTTP, TCP and DNS failures have one shape."""
        return cls(
            url=url,
            timestamp=timestamp,
            http_status_code=None,
            response_time_ms=None,
            error=error,
            error_detail=detail,
            ok=False,
            dns_ms=dns_ms,
            connect_ms=connect_ms,
            tls_ms=tls_ms,
            location=location,
        )

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        if self.cert_expires_at is not None:
            data["cert_expires_at"] = self.cert_expires_at.isoformat()
        return {"kind": self.kind, "v": SCHEMA_VERSION, **data}

    def key(self) -> bytes:
        return self.url.encode("utf-8")


def decode(data: dict[str, Any], fallback_id: FallbackId) -> ProbeResult:
    return ProbeResult(
        url=_url(data),
        timestamp=codec.timestamp(data),
        http_status_code=codec.status(data, "http_status_code", nullable=True),
        response_time_ms=_milliseconds(data, "response_time_ms"),
        event_id=codec.event_id(data, fallback_id),
        error=optional_str(data, "error", 64),
        error_detail=optional_str(data, "error_detail", 2048),
        content_match=optional_bool(data, "content_match"),
        ok=optional_bool(data, "ok"),
        dns_ms=_milliseconds(data, "dns_ms"),
        connect_ms=_milliseconds(data, "connect_ms"),
        tls_ms=_milliseconds(data, "tls_ms"),
        ttfb_ms=_milliseconds(data, "ttfb_ms"),
        location=optional_str(data, "location", MAX_LOCATION_LENGTH),
        cert_expires_at=_cert_time(data),
        cert_issuer=optional_str(data, "cert_issuer", MAX_ISSUER_LENGTH),
        failed_condition=optional_str(data, "failed_condition", MAX_CONDITION_LENGTH),
    )


def _cert_time(data: dict[str, Any]) -> datetime | None:
    """`cert_expires_at`: ISO 8601 with a time zone, 1950 to the end of 9999."""
    value = data.get("cert_expires_at")
    if value is None:
        return None
    if not isinstance(value, str):
        raise DecodeError("field 'cert_expires_at' is not a string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise DecodeError("field 'cert_expires_at' has no time zone")
        if parsed.tzinfo is not timezone.utc:
            parsed = parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise DecodeError(
            f"field 'cert_expires_at' is not an ISO 8601 time: {codec.short(value)}"
        ) from None
    if parsed < CERT_EARLIEST:
        raise DecodeError(f"field 'cert_expires_at' is out of range: {codec.short(value)}")
    return parsed


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
    location: Annotated[str, msgspec.Meta(max_length=MAX_LOCATION_LENGTH)] | None = None
    cert_expires_at: str | None = None
    cert_issuer: Annotated[str, msgspec.Meta(max_length=MAX_ISSUER_LENGTH)] | None = None
    failed_condition: Annotated[str, msgspec.Meta(max_length=MAX_CONDITION_LENGTH)] | None = None


_PROBE_DECODER = msgspec.json.Decoder(_ProbeMessage)
_fromisoformat = datetime.fromisoformat


def decode_fast(raw: bytes, fallback_id: FallbackId) -> ProbeResult | None:
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
    location, issuer, failed = message.location, message.cert_issuer, message.failed_condition
    if (
        (location is not None and "\x00" in location)
        or (issuer is not None and "\x00" in issuer)
        or (failed is not None and "\x00" in failed)
    ):
        return None
    cert_expires_at = None
    if message.cert_expires_at is not None:
        try:
            cert_expires_at = _fromisoformat(message.cert_expires_at.replace("Z", "+00:00"))
        except (ValueError, OverflowError):
            return None
        if cert_expires_at.tzinfo is not timezone.utc:  # (as `_cert_time` does)
            if cert_expires_at.tzinfo is None:
                return None
            try:
                cert_expires_at = cert_expires_at.astimezone(timezone.utc)
            except OverflowError:
                return None
        if cert_expires_at < CERT_EARLIEST:
            return None
    event_id = message.event_id
    if event_id is None:
        if fallback_id is None:
            return None
        event_id = fallback_id if isinstance(fallback_id, str) else fallback_id()
    elif not CANONICAL_UUID.fullmatch(event_id):
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
            timestamp = parse_utc(text, "timestamp", naive_is_utc=True)
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
        location,
        cert_expires_at,
        issuer,
        failed,
    )


class _ProbeSlots:
    """A mutable object with exactly ProbeResult's slots, filled by plain attribute stores and
    then turned into a ProbeResult by `__class__` assignment (allowed between classes of
    the same slot layout), for `_new_probe`."""

    __slots__ = ProbeResult.__slots__

    def __init__(
        self,
        url: str,
        timestamp: datetime,
        http_status_code: int | None,
        response_time_ms: float | None,
        event_id: str,
        error: str | None,
        error_detail: str | None,
        content_match: bool | None,
        ok: bool,
        dns_ms: float | None,
        connect_ms: float | None,
        tls_ms: float | None,
        ttfb_ms: float | None,
        location: str | None,
        cert_expires_at: datetime | None,
        cert_issuer: str | None,
        failed_condition: str | None,
    ) -> None:
        self.url = url
        self.timestamp = timestamp
        self.http_status_code = http_status_code
        self.response_time_ms = response_time_ms
        self.event_id = event_id
        self.error = error
        self.error_detail = error_detail
        self.content_match = content_match
        self.ok = ok
        self.dns_ms = dns_ms
        self.connect_ms = connect_ms
        self.tls_ms = tls_ms
        self.ttfb_ms = ttfb_ms
        self.location = location
        self.cert_expires_at = cert_expires_at
        self.cert_issuer = cert_issuer
        self.failed_condition = failed_condition


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
    location: str | None,
    cert_expires_at: datetime | None,
    cert_issuer: str | None,
    failed_condition: str | None,
    *,
    _slots: Any = _ProbeSlots,
    _result: Any = ProbeResult,
) -> ProbeResult:
    """`ProbeResult(...)` with every field given, for `_decode_fast` only: a third of the time.

    The frozen dataclass `__init__` goes through `object.__setattr__` field by
    field; this fills an object of the same slot layout with plain stores, then
    makes it a ProbeResult (`_ProbeSlots`), and computes `ok` as `__post_init__`
    does. Arguments are not checked: the caller has validated them.
    """
    if ok is None:  # (as in ProbeResult.__post_init__)
        ok = (
            error is None
            and http_status_code is not None
            and http_status_code < 400
            and content_match is not False
        )
    probe = _slots(
        url,
        timestamp,
        http_status_code,
        response_time_ms,
        event_id,
        error,
        error_detail,
        content_match,
        ok,
        dns_ms,
        connect_ms,
        tls_ms,
        ttfb_ms,
        location,
        cert_expires_at,
        cert_issuer,
        failed_condition,
    )
    probe.__class__ = _result
    result: ProbeResult = probe
    return result


def _url(data: dict[str, Any]) -> str:
    url = data.get("url")
    if not isinstance(url, str) or not url:
        raise DecodeError("field 'url' is missing or not a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise DecodeError(f"field 'url' is longer than {MAX_URL_LENGTH} characters")
    if "\x00" in url:
        raise DecodeError("field 'url' contains a NUL character")
    return url


def _milliseconds(data: dict[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        if name == "response_time_ms" and name not in data:
            raise DecodeError("field 'response_time_ms' is missing")
        return None
    kind = type(value)  # exact types: a bool is not a number here
    if kind is not float and kind is not int:
        raise DecodeError(f"field {name!r} is not a number: {codec.short(value)}")
    if not 0 <= value <= 1e9:  # also false for NaN
        raise DecodeError(f"field {name!r} is out of range: {codec.short(value)}")
    return float(value)
