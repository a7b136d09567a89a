"""The direct writer: sources store events themselves when no broker is configured."""

from __future__ import annotations

from collections.abc import Sequence

from website_monitor.errors import DeliveryError, StoreError
from website_monitor.events import Event
from website_monitor.store import Repository, store_events


class StoreWriter:
    """A publisher that writes straight into a repository, in one transaction."""

    def __init__(self, repository: Repository) -> None:
        self.repository = repository

    def publish(self, events: Sequence[Event]) -> int:
        try:
            store_events(self.repository, events)
        except StoreError as exc:
            raise DeliveryError(
                f"{len(events)} results were not stored: {exc.message}",
                hint=exc.hint,
                undelivered=events,
            ) from None
        return len(events)

    def close(self) -> None:
        self.repository.close()
