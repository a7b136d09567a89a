"""The direct writer: sources store events themselves when no broker is configured."""

from __future__ import annotations

from collections.abc import Sequence

from website_monitor import log, rollups
from website_monitor.errors import DeliveryError, StoreError
from website_monitor.events import Event, ProbeResult
from website_monitor.store import Repository, store_events

logger = log.get("store")


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
        if any(isinstance(event, ProbeResult) for event in events):
            try:  # a few rows: keep the rollups current, as a flush does in bulk
                rollups.catch_up(self.repository)
            except StoreError as exc:  # stored all the same; a later catch-up covers them
                logger.warning("rollups not brought up to date: %s", exc.message)
        return len(events)

    def close(self) -> None:
        self.repository.close()
