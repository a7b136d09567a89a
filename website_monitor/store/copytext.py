"""PostgreSQL's COPY text format, written without the driver (so writers import no psycopg2)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

NULL = r"\N"


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
