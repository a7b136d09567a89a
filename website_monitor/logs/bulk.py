"""The `hits` message: up to MAX_BATCH hits of one source, each field named once.

`wm tail --publish -b` sends its hits this way (`publish.hits_messages` writes
it). A row per hit holds the parsed line's fields in `ROW_FIELDS` order, which is
`formats.LogRecord`'s, so msgspec writes the records as they are; the ids are the
file's id prefix and each line's byte offset (`codec.hit_id`), or, for standard
input, the ids themselves. Decoded, the rows are the very hits
`monitor.hit_from_record` builds of the same records. A `batch` of hit documents
said every field's name and built a document per hit: that cost the tail as much
as reading and parsing the line.

`decode_hits` reads a message field by field and says what is wrong;
`decode_hits_fast` only ever accepts, and only what `decode_hits` accepts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

import msgspec

from website_monitor.codec import LATEST, MAX_BATCH, SCHEMA_VERSION, required_str, short
from website_monitor.errors import DecodeError
from website_monitor.logs.codec import (
    CANONICAL_IDS,
    MAX_NAME_LENGTH,
    MAX_PATH_LENGTH,
    MAX_USER_AGENT,
    decode,
    hit_ids,
    new_hit,
)
from website_monitor.logs.formats import path_keys

#: A row's fields, in order. `timestamp` is seconds since 1970 (UTC); an empty
#: `remote_host`, `method` or `path` is stored as "-", an empty `user` as null, and
#: `section` is derived from `path`, as for a line stored without Kafka.
ROW_FIELDS = (
    "timestamp", "remote_host", "user", "method", "path", "status", "bytes", "referer",
    "user_agent",
)  # fmt: skip
#: The first 24 characters of a UUID: a file's (or a posted batch's) hit ids.
ID_PREFIX = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-")
_LATEST_SECONDS = LATEST.timestamp()


def decode_hits(data: dict[str, Any], fallback_id: Any = None) -> list[Any]:
    """The hits of a parsed `hits` message, or DecodeError naming what is wrong (and for a
    row, which one). Every row goes through the `hit` decoder: the same checks, the
    same reasons."""
    source = required_str(data, "source", MAX_NAME_LENGTH)
    rows = data.get("rows")
    if not isinstance(rows, list) or not 0 < len(rows) <= MAX_BATCH:
        raise DecodeError(f"field 'rows' is not a list of 1 to {MAX_BATCH} hits")
    ids = _ids(data, len(rows))
    hits = []
    for index, (row, event_id) in enumerate(zip(rows, ids, strict=True)):
        try:
            hits.append(decode(_document(row, source, event_id), None))
        except DecodeError as exc:
            raise DecodeError(f"row {index}: {exc.reason}") from None
    return hits


def _ids(data: dict[str, Any], count: int) -> list[Any]:
    prefix, offsets, event_ids = data.get("id_prefix"), data.get("offsets"), data.get("event_ids")
    if event_ids is not None and prefix is None and offsets is None:
        if not isinstance(event_ids, list) or len(event_ids) != count:
            raise DecodeError(f"field 'event_ids' is not a list of {count} ids, one per row")
        return event_ids
    if prefix is not None and offsets is not None and event_ids is None:
        if not isinstance(prefix, str) or not ID_PREFIX.fullmatch(prefix):
            raise DecodeError(
                f"field 'id_prefix' is not a UUID's first 24 characters: {short(prefix)}"
            )
        if (
            not isinstance(offsets, list)
            or len(offsets) != count
            or not all(type(offset) is int and 0 <= offset < 2**63 for offset in offsets)
        ):
            raise DecodeError(f"field 'offsets' is not a list of {count} byte offsets, one per row")
        return hit_ids(prefix, offsets)
    raise DecodeError("the ids are not given: 'id_prefix' and 'offsets', or 'event_ids'")


def _document(row: Any, source: str, event_id: Any) -> dict[str, Any]:
    """The `hit` document of a row (what `decode` then checks)."""
    if not isinstance(row, list) or len(row) != len(ROW_FIELDS):
        raise DecodeError(f"not a list of the {len(ROW_FIELDS)} fields {', '.join(ROW_FIELDS)}")
    document = dict(zip(ROW_FIELDS, row, strict=True))
    seconds = document["timestamp"]
    if type(seconds) not in (int, float) or not 0 <= seconds < _LATEST_SECONDS:
        raise DecodeError(f"field 'timestamp' is not seconds since 1970: {short(seconds)}")
    document["timestamp"] = datetime.fromtimestamp(seconds, timezone.utc).isoformat()
    for name in ("remote_host", "method", "path"):
        if document[name] == "":
            document[name] = "-"
    if document["user"] == "":
        document["user"] = None
    path = document["path"]
    document["section"] = (path_keys(path)[0] or "-") if isinstance(path, str) else "-"
    document.update(kind="hit", v=SCHEMA_VERSION, source=source, event_id=event_id)
    return document


# --- the fast path ------------------------------------------------------------------------


class _Row(msgspec.Struct, array_like=True, forbid_unknown_fields=True, gc=False):
    timestamp: Annotated[float, msgspec.Meta(ge=0, lt=_LATEST_SECONDS)]
    remote_host: Annotated[str, msgspec.Meta(max_length=MAX_NAME_LENGTH)]
    user: Annotated[str, msgspec.Meta(max_length=MAX_NAME_LENGTH)] | None
    method: Annotated[str, msgspec.Meta(max_length=64)]
    path: Annotated[str, msgspec.Meta(max_length=MAX_PATH_LENGTH)]
    status: Annotated[int, msgspec.Meta(ge=100, le=999)]
    bytes: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
    referer: Annotated[str, msgspec.Meta(max_length=MAX_PATH_LENGTH)] | None
    user_agent: Annotated[str, msgspec.Meta(max_length=MAX_USER_AGENT)] | None


class _Hits(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["hits"]
    source: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_LENGTH)]
    rows: Annotated[list[_Row], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]
    v: int = SCHEMA_VERSION
    id_prefix: str | None = None
    offsets: list[Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]] | None = None
    event_ids: list[str] | None = None


_DECODER = msgspec.json.Decoder(_Hits)
_EPOCH = datetime.fromtimestamp(0, timezone.utc)


def decode_hits_fast(raw: bytes) -> list[Any] | None:
    """The hits of a valid `hits` message, else None: `decode_hits` then decides."""
    try:
        message = _DECODER.decode(raw)
    except (msgspec.DecodeError, ValueError):
        return None
    # JSON writes a NUL as \u0000: with one anywhere, the slow path says where.
    if message.v != SCHEMA_VERSION or b"\\u0000" in raw:
        return None
    ids = _fast_ids(message)
    if ids is None:
        return None
    source, fromtimestamp, utc = message.source, datetime.fromtimestamp, timezone.utc
    seconds, moment = 0.0, _EPOCH
    hits = []
    for row, event_id in zip(message.rows, ids, strict=True):
        if row.timestamp != seconds:  # lines come in time order: mostly the last time
            seconds = row.timestamp
            moment = fromtimestamp(seconds, utc)
        path = row.path
        hits.append(
            new_hit(
                moment,
                source,
                row.remote_host or "-",
                row.user or None,
                row.method or "-",
                path or "-",
                (path_keys(path)[0] or "-") if path else "-",
                row.status,
                row.bytes,
                event_id,
                row.referer,
                row.user_agent,
            )
        )
    return hits


def _fast_ids(message: _Hits) -> Sequence[str] | None:
    count = len(message.rows)
    prefix, offsets, event_ids = message.id_prefix, message.offsets, message.event_ids
    if event_ids is not None and prefix is None and offsets is None:
        joined = "\n".join(event_ids)  # canonical ids, one match (`codec.decode_batch_fast`)
        if len(event_ids) != count or len(joined) != 37 * count - 1:
            return None
        return event_ids if CANONICAL_IDS.fullmatch(joined) else None
    if prefix is None or offsets is None or event_ids is not None or len(offsets) != count:
        return None
    if not ID_PREFIX.fullmatch(prefix):
        return None
    return hit_ids(prefix, offsets)
