"""Access-log hits: the `hit` message, its type and its decoder."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import datetime
from typing import Any, ClassVar

import orjson

from website_monitor import codec
from website_monitor.codec import (
    SCHEMA_VERSION,
    FallbackId,
    new_event_id,
    optional_str,
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
