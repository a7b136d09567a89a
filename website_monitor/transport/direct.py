"""The direct writer: sources store events themselves when no broker is configured."""

from __future__ import annotations

from collections.abc import Sequence

from website_monitor import features, housekeeping, log
from website_monitor.codec import Event
from website_monitor.errors import DeliveryError, EventsRefused, StoreError
from website_monitor.store import Repository
from website_monitor.transport.writer import kinds_stored, store_refusing

logger = log.get("store")


class StoreWriter:
    """A publisher that writes straight into a repository, in one transaction."""

    def __init__(
        self,
        repository: Repository,
        *,
        keep_raw: float | None = None,
        keep_dead_letters: float | None = None,
    ) -> None:
        self.repository = repository
        self.keep_raw = keep_raw
        self.keep_dead_letters = keep_dead_letters

    def publish(self, events: Sequence[Event]) -> int:
        try:
            _, refusals = store_refusing(self.repository, events)
        except StoreError as exc:
            raise DeliveryError(
                f"{len(events)} results were not stored: {exc.message}",
                hint=exc.hint,
                undelivered=events,
            ) from exc
        for name in kinds_stored(events):
            derived = features.named(name).derived
            if derived is None:
                continue
            try:  # a few rows: keep the derived tables current, as a flush does in bulk
                derived.catch_up(self.repository)
            except StoreError as exc:  # stored all the same; a later catch-up covers them
                logger.warning("%s rollups not brought up to date: %s", name, exc.message)
        housekeeping.prune_if_due(self.repository, self.keep_raw, self.keep_dead_letters)
        refused = [reason for reason in refusals if reason]
        if refused:
            raise EventsRefused(
                f"{len(refused)} of {len(events)} results were refused by the store and kept"
                f" in dead_letters: {refused[0]}",
                hint="`wm dlq list` shows them; `wm dlq replay` stores them once the store accepts",
            )
        return len(events)

    def close(self) -> None:
        self.repository.close()
