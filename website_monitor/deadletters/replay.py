"""Replaying dead letters: decode them again and store those that decode now.

After a fix, or an upgrade that understands them, `wm dlq replay` stores the
letters that now decode and removes them from the table. The id of a message
without one is derived from its topic, partition and offset exactly as the
sink does, so a replayed message and a redelivered one are the same row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from website_monitor.codec import decode, legacy_event_id
from website_monitor.errors import DecodeError
from website_monitor.store import Repository, Where
from website_monitor.transport.writer import store_events


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
        where = Where(mark).compare("id", ">", last_id).any_of("id", ids)
        rows = repository.query(
            'SELECT id, topic, partition, "offset", value FROM dead_letters'
            f"{where.sql} ORDER BY id LIMIT {mark}",
            [*where.params, batch],
        )
        if not rows:
            return report
        last_id = int(rows[-1]["id"])
        decoded: list[Any] = []
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
