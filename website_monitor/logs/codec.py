"""Access-log hits: the `hit` message, its type and its decoder."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Annotated, Any, ClassVar, Literal

import msgspec
import orjson

from website_monitor import codec
from website_monitor.codec import (
    CANONICAL_UUID,
    MAX_BATCH,
    SCHEMA_VERSION,
    FallbackId,
    new_event_id,
    optional_str,
    parse_utc,
    required_str,
)
from website_monitor.errors import DecodeError

#: Longest request path, section and referer a hit keeps (longer ones are cut when read).
MAX_PATH_LENGTH = 8192
#: Longest source, remote host and user name.
MAX_NAME_LENGTH = 255
MAX_USER_AGENT = 2048


def hit_id_prefix(source: str, fingerprint: str) -> str:
    """The first 80 bits of the ids of the hits of one file read as `source`, as UUID text.

    A hit read from a file is named by where it was read: the source, the file's
    fingerprint (`logs.follower`: a digest of its first line, which rotation and
    logrotate's copy keep) and the line's byte offset (`hit_id`), so the same line
    read again, by this `wm tail` or another, has the same id and is stored once.
    The id is a UUID of version 8 (custom): a digest of source and fingerprint, then
    the offset in its last 48 bits.
    """
    digest = hashlib.blake2b(
        f"{source}\x00{fingerprint}".encode("utf-8", "surrogatepass"), digest_size=10
    ).hexdigest()
    variant = "89ab"[int(digest[16], 16) & 3]
    return f"{digest[:8]}-{digest[8:12]}-8{digest[13:16]}-{variant}{digest[17:20]}-"


def hit_id(prefix: str, offset: int) -> str:
    """The id of the line at byte `offset` of the file whose ids begin with `prefix`."""
    return f"{prefix}{offset & 0xFFFF_FFFF_FFFF:012x}"


def hit_ids(prefix: str, offsets: Iterable[int]) -> list[str]:
    """`hit_id` of each of `offsets`, in one comprehension (a call per hit costs more)."""
    return [f"{prefix}{offset & 0xFFFF_FFFF_FFFF:012x}" for offset in offsets]


@dataclasses.dataclass(frozen=True, slots=True)
class Hit:
    """One request read from an access log by `wm tail`.

    `source` names where the log was read (a host name by default); it is the
    partitioning key, so one server's hits stay in order. `user` is None for
    `-`; `size` is the response size in bytes (0 for `-`), `bytes` in the message.
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
    size: int
    event_id: str = dataclasses.field(default_factory=new_event_id)
    referer: str | None = None
    user_agent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "v": SCHEMA_VERSION,
            "timestamp": self.timestamp.isoformat(),
            "source": self.source,
            "remote_host": self.remote_host,
            "user": self.user,
            "method": self.method,
            "path": self.path,
            "section": self.section,
            "status": self.status,
            "bytes": self.size,
            "event_id": self.event_id,
            "referer": self.referer,
            "user_agent": self.user_agent,
        }

    def key(self) -> bytes:
        return self.source.encode("utf-8")


def encode(hit: Hit) -> bytes:
    """The message of a hit (the document `codec.encode` writes), by orjson: fast enough for
    a tail that publishes every line."""
    return orjson.dumps(hit.to_dict())


def decode(data: dict[str, Any], fallback_id: FallbackId) -> Hit:
    status = codec.status(data, "status")
    assert status is not None
    size = data.get("bytes")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < 2**63:
        raise DecodeError(f"field 'bytes' is not a size: {codec.short(size)}")
    return Hit(
        timestamp=codec.timestamp(data),
        source=required_str(data, "source", MAX_NAME_LENGTH),
        remote_host=required_str(data, "remote_host", MAX_NAME_LENGTH),
        user=optional_str(data, "user", MAX_NAME_LENGTH),
        method=required_str(data, "method", 64),
        path=required_str(data, "path", MAX_PATH_LENGTH),
        section=required_str(data, "section", MAX_PATH_LENGTH),
        status=status,
        size=size,
        event_id=codec.event_id(data, fallback_id),
        referer=optional_str(data, "referer", MAX_PATH_LENGTH),
        user_agent=optional_str(data, "user_agent", MAX_USER_AGENT),
    )


# --- the fast path for hits -----------------------------------------------------------------

_Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH)]
_Path = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_PATH_LENGTH)]


class _HitMessage(msgspec.Struct, forbid_unknown_fields=True):
    """A valid hit message, as far as msgspec can tell; `decode_fast` checks the rest.

    As for probes (`probes.codec._ProbeMessage`): unknown fields are refused (the
    slow path then decides), and `timestamp` stays a string, read as the slow path
    reads it.
    """

    kind: Literal["hit"]
    timestamp: str
    source: _Name
    remote_host: _Name
    method: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    path: _Path
    section: _Path
    status: Annotated[int, msgspec.Meta(ge=100, le=999)]
    bytes: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
    v: int = SCHEMA_VERSION
    event_id: str | None = None
    user: Annotated[str, msgspec.Meta(max_length=MAX_NAME_LENGTH)] | None = None
    referer: Annotated[str, msgspec.Meta(max_length=MAX_PATH_LENGTH)] | None = None
    user_agent: Annotated[str, msgspec.Meta(max_length=MAX_USER_AGENT)] | None = None


_HIT_DECODER = msgspec.json.Decoder(_HitMessage)
_fromisoformat = datetime.fromisoformat
#: The last timestamp text `decode_fast` read, and its time.
_last_time: list[tuple[str, Any]] = [("", None)]


class _HitSlots:
    """An object with exactly Hit's slots, filled by plain stores and then made a Hit by
    `__class__` assignment (as `probes.codec._ProbeSlots`): a third of the frozen
    dataclass's `__init__`."""

    __slots__ = Hit.__slots__

    def __init__(
        self,
        timestamp: datetime,
        source: str,
        remote_host: str,
        user: str | None,
        method: str,
        path: str,
        section: str,
        status: int,
        size: int,
        event_id: str,
        referer: str | None,
        user_agent: str | None,
    ) -> None:
        self.timestamp = timestamp
        self.source = source
        self.remote_host = remote_host
        self.user = user
        self.method = method
        self.path = path
        self.section = section
        self.status = status
        self.size = size
        self.event_id = event_id
        self.referer = referer
        self.user_agent = user_agent


def decode_fast(raw: bytes, fallback_id: FallbackId) -> Hit | None:
    """The hit in `raw` when it is a valid one, else None: the slow path then decides.

    Only ever accepts, and only what `decode` accepts, building the same Hit; every
    rejection and its reason come from the slow path. `wm flush` decodes every hit.
    """
    try:
        m = _HIT_DECODER.decode(raw)
    except (msgspec.DecodeError, ValueError):  # invalid UTF-8 is a UnicodeDecodeError
        return None
    # JSON writes a NUL as \u0000: without one in the bytes, no field holds one.
    return _hit_of(m, b"\\u0000" in raw, fallback_id)


class _HitBatch(msgspec.Struct, forbid_unknown_fields=True):
    """A valid `batch` message of hits, as far as msgspec can tell (`codec.decode_many`)."""

    kind: Literal["batch"]
    events: Annotated[list[_HitMessage], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]
    v: int = SCHEMA_VERSION


_BATCH_DECODER = msgspec.json.Decoder(_HitBatch)


def decode_batch_fast(raw: bytes) -> list[Any] | None:
    """The hits of a valid batch message of hits, each with its id, else None: the slow
    path (`codec.decode_many`) then decides, for the whole message."""
    try:
        batch = _BATCH_DECODER.decode(raw)
    except (msgspec.DecodeError, ValueError):
        return None
    if batch.v != SCHEMA_VERSION:
        return None
    nul = b"\\u0000" in raw
    ids = [m.event_id for m in batch.events]
    if None in ids:
        return None
    # Every id canonical, checked in one match for the batch: a match per hit took a
    # quarter of a flush's decoding. The length proves no id holds the separator.
    joined = "\n".join(ids)  # type: ignore[arg-type]
    if len(joined) != 37 * len(ids) - 1 or not CANONICAL_IDS.fullmatch(joined):
        return None
    hits = [_hit_of(m, nul, None, id_checked=True) for m in batch.events]
    return None if None in hits else hits


CANONICAL_IDS = re.compile(f"{CANONICAL_UUID.pattern}(?:\n{CANONICAL_UUID.pattern})*")


def _hit_of(
    m: _HitMessage, nul: bool, fallback_id: FallbackId, *, id_checked: bool = False
) -> Hit | None:
    """The hit of a message msgspec read, if the slow path would take it (`nul`: the
    message may hold a NUL somewhere; `id_checked`: its id is known to be canonical)."""
    user, referer, agent = m.user, m.referer, m.user_agent
    if m.v != SCHEMA_VERSION:
        return None
    if nul and (
        "\x00" in m.source
        or "\x00" in m.remote_host
        or "\x00" in m.method
        or "\x00" in m.path
        or "\x00" in m.section
        or (user is not None and "\x00" in user)
        or (referer is not None and "\x00" in referer)
        or (agent is not None and "\x00" in agent)
    ):
        return None
    event_id = m.event_id
    if event_id is None:
        if fallback_id is None:
            return None
        event_id = fallback_id if isinstance(fallback_id, str) else fallback_id()
    elif not id_checked and not CANONICAL_UUID.fullmatch(event_id):
        return None
    text = m.timestamp
    last = _last_time[0]  # (one tuple, replaced whole: safe on any thread)
    if text == last[0]:  # hits come in time order: mostly the time just read
        timestamp = last[1]
    else:
        try:
            timestamp = _fromisoformat(text.replace("Z", "+00:00"))
        except (ValueError, OverflowError):
            return None
        if timestamp.tzinfo is not timezone.utc or not 1970 <= timestamp.year < 9000:
            try:
                timestamp = parse_utc(text, "timestamp", naive_is_utc=True)
            except DecodeError:
                return None
        _last_time[0] = (text, timestamp)
    return new_hit(
        timestamp,
        m.source,
        m.remote_host,
        user,
        m.method,
        m.path,
        m.section,
        m.status,
        m.bytes,
        event_id,
        referer,
        agent,
    )


def new_hit(
    timestamp: datetime,
    source: str,
    remote_host: str,
    user: str | None,
    method: str,
    path: str,
    section: str,
    status: int,
    size: int,
    event_id: str,
    referer: str | None,
    user_agent: str | None,
) -> Hit:
    """`Hit(...)` with every field given, checked by the caller: a third of the time."""
    hit: Any = _HitSlots(
        timestamp,
        source,
        remote_host,
        user,
        method,
        path,
        section,
        status,
        size,
        event_id,
        referer,
        user_agent,
    )
    hit.__class__ = Hit
    result: Hit = hit
    return result
