"""Dead letters: messages the sink could not decode, kept for an operator.

Listing shows each with its position and reason; replaying decodes them again
(after a fix, or an upgrade that understands them) and stores those that now
decode, removing them from the table. The id of a message without one is
derived from its topic, partition and offset exactly as the sink does, so a
replayed message and a redelivered one are the same row.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Sequence
from typing import Any

from website_monitor.errors import DecodeError
from website_monitor.events import decode, legacy_event_id
from website_monitor.store import DeadLetter, Repository, store_events


def as_json(letter: DeadLetter) -> dict[str, Any]:
    """A dead letter for display: text when the bytes are UTF-8, base64 otherwise."""
    value: dict[str, Any] = {
        "id": letter.id,
        "topic": letter.topic,
        "partition": letter.partition,
        "offset": letter.offset,
        "reason": letter.reason,
        "received_at": str(letter.received_at),
    }
    for name in ("key", "value"):
        raw = getattr(letter, name)
        if raw is None:
            value[name] = None
            continue
        try:
            value[name] = raw.decode("utf-8")
        except UnicodeDecodeError:
            value[f"{name}_base64"] = base64.b64encode(raw).decode("ascii")
    return value


@dataclasses.dataclass
class ReplayReport:
    replayed: int = 0
    still_failing: int = 0
    reasons: dict[str, int] = dataclasses.field(default_factory=dict)


def replay(repository: Repository, ids: Sequence[int] = (), batch: int = 1000) -> ReplayReport:
    """Decode dead letters again; store and remove those that decode now."""
    report = ReplayReport()
    last_id = 0
    mark = repository.placeholder
    while True:
        where = f"id > {mark}"
        params: list[Any] = [last_id]
        if ids:
            where += f" AND id IN ({', '.join(mark for _ in ids)})"
            params.extend(ids)
        rows = repository.query(
            'SELECT id, topic, partition, "offset", value FROM dead_letters'
            f" WHERE {where} ORDER BY id LIMIT {mark}",
            [*params, batch],
        )
        if not rows:
            return report
        last_id = int(rows[-1]["id"])
        decoded = []
        fixed_ids = []
        for row in rows:
            value = row["value"]
            try:
                if value is None:
                    raise DecodeError("empty message (no value)")
                fallback = legacy_event_id(row["topic"], row["partition"], row["offset"])
                decoded.append(decode(bytes(value), fallback_id=fallback))
                fixed_ids.append(int(row["id"]))
            except DecodeError as exc:
                report.still_failing += 1
                report.reasons[exc.reason] = report.reasons.get(exc.reason, 0) + 1
        if decoded:
            store_events(repository, decoded)
            repository.executemany(
                f"DELETE FROM dead_letters WHERE id = {mark}", [(i,) for i in fixed_ids]
            )
            report.replayed += len(decoded)
