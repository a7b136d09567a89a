"""What the dead letters' queries return: typed documents for the CLI, the API and OpenAPI."""

from __future__ import annotations

from typing import Annotated

from msgspec import UNSET, Meta, Struct, UnsetType


class DeadLetterInfo(Struct, kw_only=True):
    """A dead letter's position and reason (not its bytes)."""

    id: int
    topic: str
    partition: int
    offset: int
    reason: str
    received_at: str | None


class DeadLetters(Struct, kw_only=True):
    """The first dead letters, and how many there are (read in one snapshot)."""

    count: int
    dead_letters: list[DeadLetterInfo]


class DeadLetterDump(Struct, kw_only=True, omit_defaults=True):
    """A dead letter with its bytes, as `wm dlq list` prints it: text when the key or value
    is UTF-8, else base64 in `key_base64` / `value_base64`."""

    id: int
    topic: str
    partition: int
    offset: int
    reason: str
    received_at: str
    key: str | UnsetType | None = UNSET
    key_base64: str | UnsetType = UNSET
    value: str | UnsetType | None = UNSET
    value_base64: str | UnsetType = UNSET


class SchemaInfo(Struct, kw_only=True):
    backend: Annotated[str, Meta(description="postgresql or sqlite")]
    current: Annotated[int, Meta(description="migrations applied")]
    latest: Annotated[int, Meta(description="migrations this version knows")]
    pending: int


class StoreStatus(Struct, kw_only=True):
    """Schema, dead letters and probe rows in the store."""

    schema: SchemaInfo
    dead_letters: int
    probes: int
