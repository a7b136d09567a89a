"""Writing and reading dead letters: messages kept with their position and the reason."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence
from datetime import datetime

from website_monitor.deadletters.models import DeadLetterDump, DeadLetterInfo, DeadLetters
from website_monitor.store import Reader, Repository, Transaction
from website_monitor.store.base import reading
from website_monitor.times import iso

COLUMNS = ("topic", "partition", '"offset"', "key", "value", "reason")


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """A message the sink could not decode or store, kept with its position and the reason."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    reason: str
    key: bytes | None = None
    received_at: datetime | str | None = None
    id: int | None = None


def write(tx: Transaction, letters: Sequence[DeadLetter]) -> int:
    """Keep the letters; one already kept at its position is left as it is."""
    return tx.insert(
        "dead_letters",
        COLUMNS,
        [(d.topic, d.partition, d.offset, d.key, d.value, d.reason) for d in letters],
    )


def dead_letters(reader: Reader, limit: int = 100, after: int = 0) -> list[DeadLetter]:
    """Dead letters with their bytes, oldest first."""
    mark = reader.dialect.placeholder
    rows = reader.query(
        'SELECT id, topic, partition, "offset", key, value, reason, received_at'
        f" FROM dead_letters WHERE id > {mark} ORDER BY id LIMIT {mark}",
        (after, limit),
    )
    return [
        DeadLetter(
            id=int(row["id"]),
            topic=row["topic"],
            partition=int(row["partition"]),
            offset=int(row["offset"]),
            key=bytes(row["key"]) if row["key"] is not None else None,
            value=bytes(row["value"]) if row["value"] is not None else None,
            reason=row["reason"],
            received_at=row["received_at"],
        )
        for row in rows
    ]


def count(reader: Reader) -> int:
    return int(reader.query("SELECT count(*) AS n FROM dead_letters")[0]["n"])


def latest_id(reader: Reader) -> int:
    return int(reader.query("SELECT max(id) AS id FROM dead_letters")[0]["id"] or 0)


def after(reader: Reader, cursor: int, limit: int = 100) -> list[DeadLetterInfo]:
    """Dead letters above `cursor` (id, position, reason; not the raw bytes)."""
    return [info(letter) for letter in dead_letters(reader, limit, cursor)]


def listing(store: Reader, limit: int = 100) -> DeadLetters:
    """The first `limit` dead letters and how many there are, from one snapshot."""
    with reading(store) as reader:
        return DeadLetters(count=count(reader), dead_letters=after(reader, 0, limit))


def info(letter: DeadLetter) -> DeadLetterInfo:
    assert letter.id is not None
    return DeadLetterInfo(
        id=letter.id,
        topic=letter.topic,
        partition=letter.partition,
        offset=letter.offset,
        reason=letter.reason,
        received_at=iso(letter.received_at),
    )


def dump(letter: DeadLetter) -> DeadLetterDump:
    """A dead letter for display: text when the bytes are UTF-8, base64 otherwise."""
    assert letter.id is not None
    shown = DeadLetterDump(
        id=letter.id,
        topic=letter.topic,
        partition=letter.partition,
        offset=letter.offset,
        reason=letter.reason,
        received_at=str(letter.received_at),
    )
    for name in ("key", "value"):
        raw = getattr(letter, name)
        if raw is None:
            setattr(shown, name, None)
            continue
        try:
            setattr(shown, name, raw.decode("utf-8"))
        except UnicodeDecodeError:
            setattr(shown, f"{name}_base64", base64.b64encode(raw).decode("ascii"))
    return shown


def prune(repository: Repository, before: datetime) -> int:
    """Delete the dead letters received before `before`; returns how many."""
    return repository.execute(
        f"DELETE FROM dead_letters WHERE received_at < {repository.dialect.placeholder}", (before,)
    )
