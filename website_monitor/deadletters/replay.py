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

from website_monitor.codec import decode_many, legacy_event_id
from website_monitor.errors import DecodeError, StoreDataError
from website_monitor.store import Repository, Where
from website_monitor.transport.writer import write_events


@dataclasses.dataclass
class ReplayReport:
    replayed: int = 0
    still_failing: int = 0
    reasons: dict[str, int] = dataclasses.field(default_factory=dict)

    def failed(self, reason: str) -> None:
        self.still_failing += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1


def _store(repository: Repository, events: list[Any], ids: list[int], report: ReplayReport) -> None:
    """Store what decodes now and remove it from the dead letters, in one transaction per
    event when the store refuses the batch; a letter it refuses again stays."""
    mark = repository.dialect.placeholder
    groups = [(events, ids)]
    while groups:
        batch, batch_ids = groups.pop()
        try:
            with repository.transaction() as tx:
                write_events(tx, batch)
                tx.executemany(
                    f"DELETE FROM dead_letters WHERE id = {mark}",
                    [(i,) for i in sorted(set(batch_ids))],
                )
        except StoreDataError as exc:
            letters = sorted(set(batch_ids))
            if len(letters) == 1:  # (a batch message's events stay or go together)
                report.failed(f"rejected by the store: {exc.message}"[:500])
            else:
                groups.extend(
                    (
                        [e for e, i in zip(batch, batch_ids, strict=True) if i == letter],
                        [letter] * batch_ids.count(letter),
                    )
                    for letter in letters
                )
            continue
        report.replayed += len(set(batch_ids))


def replay(repository: Repository, ids: Sequence[int] = (), batch: int = 1000) -> ReplayReport:
    """Decode dead letters again; store and remove those that decode now."""
    report = ReplayReport()
    last_id = 0
    dialect = repository.dialect
    mark = dialect.placeholder
    while True:
        where = Where(dialect).compare("id", ">", last_id).any_of("id", ids)
        rows = repository.query(
            'SELECT id, topic, partition, "offset", value FROM dead_letters'
            f"{where.sql} ORDER BY id LIMIT {mark}",
            [*where.params, batch],
        )
        if not rows:
            return report
        last_id = int(rows[-1]["id"])
        decoded: list[Any] = []
        decoded_ids = []
        for row in rows:
            value = row["value"]
            try:
                if value is None:
                    raise DecodeError("empty message (no value)")
                fallback = legacy_event_id(row["topic"], row["partition"], row["offset"])
                events = decode_many(bytes(value), fallback_id=fallback)
                decoded.extend(events)
                decoded_ids.extend([int(row["id"])] * len(events))
            except DecodeError as exc:
                report.failed(exc.reason)
        if decoded:
            _store(repository, decoded, decoded_ids, report)
