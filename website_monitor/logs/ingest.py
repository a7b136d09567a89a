"""`POST /api/logs`: raw access-log lines in, hits stored, an answer for every line.

Lines are parsed with `wm tail`'s parsers (one `LineParser` per request, so a
W3C `#Fields:` directive earlier in the batch declares the columns) and stored
as `hit` events through `store_events`, the path `wm tail --publish` takes
without a broker. Nothing is dropped silently: each line is accepted, rejected
with a reason, or ignored because it is not a request (blank, W3C directive).

With a `batch` id chosen by the client, event ids are derived from (source,
batch, line number), so posting the same batch again (a retry after a timeout)
stores nothing twice.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import uuid
from collections.abc import Sequence
from typing import Any

from website_monitor.errors import ConfigError
from website_monitor.logs.codec import Hit, hit_id, hit_id_prefix
from website_monitor.logs.formats import FORMATS, LineParser
from website_monitor.logs.models import LineNote
from website_monitor.logs.monitor import hit_from_record
from website_monitor.store import Repository
from website_monitor.transport.writer import store_refusing

#: Defaults for `wm serve --max-body` and `--max-lines`.
MAX_BODY = 1024 * 1024
MAX_LINES = 10_000
#: A line stamped further ahead of the server's clock is rejected (as `wm tail` does).
MAX_FUTURE = 3600.0
MAX_SOURCE = 255
_NAMESPACE = uuid.UUID("5c1e4f0e-8a57-4d0c-9d6e-6b1f3f9b2a10")


@dataclasses.dataclass
class Parsed:
    hits: list[Hit]
    #: The line number of each hit.
    lines: list[int]
    rejected: list[LineNote]
    ignored: list[LineNote]


def check_request(
    source: Any, lines: Any, fmt: Any, batch: Any
) -> tuple[str, list[str], str, str | None]:
    """The request's values, typed, or ConfigError (400) for a malformed request."""
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(
            "source is missing", hint='send {"source": "host1", "lines": [...]} or ?source='
        )
    if len(source) > MAX_SOURCE:
        raise ConfigError(f"source is longer than {MAX_SOURCE} characters")
    if not isinstance(lines, list) or not all(isinstance(line, str) for line in lines):
        raise ConfigError("lines must be a list of strings")
    if fmt not in FORMATS:
        raise ConfigError(f"unknown log format {fmt!r}", hint="use " + "|".join(FORMATS))
    if batch is not None and (not isinstance(batch, str) or not 0 < len(batch) <= 200):
        raise ConfigError("batch must be a string of 1 to 200 characters")
    return source, lines, fmt, batch


def parse_lines(
    lines: Sequence[str],
    source: str,
    fmt: str = "auto",
    batch: str | None = None,
    now: float | None = None,
) -> Parsed:
    """Parse every line; line numbers in the answer start at 0 (the index in `lines`)."""
    parser = LineParser(fmt)
    prefix = None if batch is None else batch_id_prefix(source, batch)
    future = (time.time() if now is None else now) + MAX_FUTURE
    result = Parsed([], [], [], [])
    for index, line in enumerate(lines):
        line = line.rstrip("\r\n")
        if not line.strip():
            result.ignored.append(LineNote(line=index, reason="blank line"))
            continue
        if "\n" in line or "\r" in line:
            result.rejected.append(LineNote(line=index, reason="more than one line"))
            continue
        record = parser.parse(line)
        if record is None:
            if parser.is_directive(line):
                result.ignored.append(LineNote(line=index, reason="W3C directive"))
            elif parser.detected == "w3c" and parser.fields is None:
                result.rejected.append(
                    LineNote(line=index, reason="W3C line before a valid #Fields: directive")
                )
            else:
                detected = parser.detected or fmt
                result.rejected.append(
                    LineNote(line=index, reason=f"not a valid {detected} access-log line")
                )
            continue
        if not math.isfinite(record.timestamp) or record.timestamp > future:
            result.rejected.append(
                LineNote(line=index, reason="timestamp more than an hour ahead of the server clock")
            )
            continue
        if record.timestamp < 0:  # no store keeps it, as `wm tail` counts it
            result.rejected.append(LineNote(line=index, reason="timestamp before 1970"))
            continue
        event_id = None if prefix is None else hit_id(prefix, index)
        result.hits.append(hit_from_record(record, source, event_id))
        result.lines.append(index)
    return result


def batch_id_prefix(source: str, batch: str) -> str:
    """The first 80 bits of the ids of a client's batch (`codec.hit_id_prefix` of a digest of
    source and batch, whatever characters they hold); line `index`'s id ends with `index`,
    so a retried batch has the same ids and any other (source, batch, line) others."""
    named = uuid.uuid5(_NAMESPACE, json.dumps([source, batch]))
    return hit_id_prefix(source, f"batch:{named}")


def batch_hit_id(source: str, batch: str, index: int) -> str:
    """The id of line `index` of a client's batch."""
    return hit_id(batch_id_prefix(source, batch), index)


def store_hits(repository: Repository, hits: Sequence[Hit]) -> tuple[int, list[str]]:
    """Store through the same path as `wm tail --publish`: rows inserted, and per hit the
    reason the store refused it ("" if it did not; a refused hit is dead-lettered)."""
    if not hits:
        return 0, []
    return store_refusing(repository, hits)
