"""Storing a batch of events of any kind, and dead letters, in one transaction.

The writer of each kind comes from the registry (`features.kind_of`). Every
writer is idempotent on `event_id`, so a caller commits its offsets only after
this returns, and a redelivery after a crash changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from website_monitor import features
from website_monitor.codec import Event
from website_monitor.deadletters import store as dead_letter_store
from website_monitor.deadletters.store import DeadLetter
from website_monitor.store import Repository


def store_events(
    repository: Repository, events: Sequence[Event], dead_letters: Sequence[DeadLetter] = ()
) -> int:
    """Store events of any kind, plus dead letters, in one transaction; returns the events
    actually inserted (those already stored are skipped)."""
    by_type: dict[type, list[Any]] = {}
    for event in events:
        by_type.setdefault(type(event), []).append(event)
    inserted = 0
    with repository.transaction() as tx:
        for event_type, batch in by_type.items():
            inserted += features.kind_of(event_type).write(tx, batch)
        if dead_letters:
            dead_letter_store.write(tx, dead_letters)
    return inserted


def kinds_stored(events: Sequence[Event]) -> set[str]:
    """The feature names whose events are in `events` (for catching up their rollups)."""
    types = {type(event) for event in events}
    return {
        feature.name
        for feature in features.FEATURES
        if any(kind.type in types for kind in feature.events)
    }
