"""Storing a batch of events of any kind, and dead letters, in one transaction.

The writer of each kind comes from the registry (`features.kind_of`). Every
writer is idempotent on `event_id`, so a caller commits its offsets only after
this returns, and a redelivery after a crash changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from website_monitor import features, log
from website_monitor.codec import Event, count_by_type, encode
from website_monitor.deadletters import store as dead_letter_store
from website_monitor.deadletters.store import DeadLetter
from website_monitor.errors import StoreDataError
from website_monitor.store import Repository, Transaction

logger = log.get("store")

#: The `topic` of dead letters of events that were written without a broker.
DIRECT = "(direct)"


def store_events(
    repository: Repository, events: Sequence[Event], dead_letters: Sequence[DeadLetter] = ()
) -> int:
    """Store events of any kind, plus dead letters, in one transaction; returns the events
    actually inserted (those already stored are skipped)."""
    with repository.transaction() as tx:
        inserted = write_events(tx, events)
        if dead_letters:
            dead_letter_store.write(tx, dead_letters)
    return inserted


def write_events(tx: Transaction, events: Sequence[Event]) -> int:
    """Store events of any kind inside `tx`, each kind through its registered writer."""
    one_type = getattr(events, "event_type", None)
    if one_type is not None:  # a batch of one type, whose events are built when read
        return features.kind_of(one_type).write(tx, events) if events else 0
    by_type: dict[type, list[Any]] = {}
    for event in events:
        by_type.setdefault(type(event), []).append(event)
    return sum(features.kind_of(kind).write(tx, batch) for kind, batch in by_type.items())


class Prepared(list[Any]):
    """A batch of events of one type, its COPY text written ahead (`prepare`)."""

    def __init__(self, events: Sequence[Any], event_type: type, text: str) -> None:
        super().__init__(events)
        #: The type of every event (`write_events` stores the batch at once).
        self.event_type = event_type
        self._text = text

    def copy_text(self) -> str:
        return self._text


def prepare(repository: Repository, events: list[Any]) -> list[Any]:
    """`events`, with their COPY text written now when the store takes COPY text and they
    are all of one kind that writes one (nearly always: a topic holds one kind). The flush
    calls this on its polling thread, so that its writing thread's COPY waits only on the
    server, not for the interpreter lock the next batch's decoding holds."""
    if not events or not repository.dialect.copies_text:
        return events
    types = count_by_type(events)
    if len(types) != 1:
        return events
    (event_type,) = types
    copy_text = features.kind_of(event_type).copy_text
    if copy_text is None:
        return events
    return Prepared(events, event_type, copy_text(events))


def kinds_stored(events: Sequence[Event]) -> set[str]:
    """The feature names whose events are in `events` (for catching up their rollups)."""
    types = count_by_type(events)
    return {
        feature.name
        for feature in features.FEATURES
        if any(kind.type in types for kind in feature.events)
    }


def store_refusing(repository: Repository, events: Sequence[Event]) -> tuple[int, list[str]]:
    """Store `events`; when the store refuses the data of the batch, store them one by one
    and keep each one it refuses again in `dead_letters`, with the store's reason.

    For writes without a broker (the direct writer, the log ingest): nothing is
    lost, and one bad event does not stop the others. Returns the events inserted
    and, per event, the reason it was refused ("" for those stored).
    """
    try:
        return store_events(repository, events), [""] * len(events)
    except StoreDataError as exc:
        if len(events) > 1:
            logger.warning("the store refused a batch (%s); storing it event by event", exc.message)
    inserted = 0
    reasons = []
    for event in events:
        try:
            inserted += store_events(repository, [event])
            reasons.append("")
        except StoreDataError as exc:
            reason = f"rejected by the store: {exc.message}"[:500]
            store_events(repository, [], [direct_dead_letter(event, reason)])
            logger.warning("event %s dead-lettered: %s", event.event_id, reason)
            reasons.append(reason)
    return inserted, reasons


def direct_dead_letter(event: Event, reason: str) -> DeadLetter:
    """A dead letter for an event that never went through Kafka: its position is derived from
    its id, so the same event refused twice is kept once; `wm dlq replay` decodes it."""
    return DeadLetter(
        topic=DIRECT,
        partition=0,
        offset=uuid.UUID(event.event_id).int >> 65,
        key=event.key(),
        value=encode(event),
        reason=reason,
    )
