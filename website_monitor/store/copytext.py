"""PostgreSQL's COPY text format, written without the driver (so writers import no psycopg2)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import orjson

NULL = r"\N"


def text_of(batch: Sequence[Any], write: Callable[[], str]) -> Callable[[], str]:
    """What writes `batch`'s COPY text: the batch's own `copy_text` when it has one (written
    ahead, `transport.writer.prepare`, or straight from parsed lines, `logs.parsed`), else
    `write`."""
    own = getattr(batch, "copy_text", None)
    return own if callable(own) else write


def copy_escape(value: str) -> str:
    """A text field in COPY's text format: backslash, tab and line breaks escaped."""
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return (
            value.replace("\\", "\\\\")
            .replace("\t", "\\t")
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
    return value


def copy_field(value: Any) -> str:
    """Any value in COPY's text format."""
    if value is None:
        return NULL
    if isinstance(value, str):
        return copy_escape(value)
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\\\x" + bytes(value).hex()
    return str(value)


def copy_text(rows: Sequence[Sequence[Any]]) -> str:
    """Rows in COPY's text format, for tables whose writer has no faster formatter."""
    return "".join("\t".join(map(copy_field, row)) + "\n" for row in rows)


def text_column(values: Sequence[str | None]) -> list[str]:
    """`copy_field` of each of `values` (text or None), a column at a time: one scan of the
    joined column finds whether any value needs escaping (they almost never do)."""
    present = [value for value in values if value is not None]
    joined = "".join(present)
    escape = "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined
    if len(present) == len(values):
        return [copy_escape(value) for value in present] if escape else present
    if escape:
        return [NULL if value is None else copy_escape(value) for value in values]
    return [NULL if value is None else value for value in values]


_UTC = timezone.utc


def utc_times(times: Sequence[datetime]) -> list[str]:
    """`isoformat()` of each time, for the whole column in one call: orjson writes an aware
    UTC datetime exactly as `isoformat` does; any other gets `isoformat` itself."""
    try:
        texts = orjson.dumps(list(times)).decode()[2:-2].split('","')
    except TypeError:  # a datetime subclass: orjson refuses it
        return [time.isoformat() for time in times]
    return [
        text if time.tzinfo is _UTC else time.isoformat()
        for text, time in zip(texts, times, strict=True)
    ]
