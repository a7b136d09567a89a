"""Moving events from sources to the store: Kafka, or a direct write (the embedded default).

`kafka` and `_consumer` are the broker's clients, `sink` the flush behind
`wm flush` (with `roller` keeping derived tables current), `direct` the writer
used without a broker, `spool` what keeps results through an outage, and
`writer` the one function that stores a batch of any kinds. The kinds of data
are known only through the registry (`website_monitor.features`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from website_monitor.codec import Event
    from website_monitor.config import Settings


class Publisher(Protocol):
    """Where a source hands its events. Raises DeliveryError for anything not delivered."""

    def publish(self, events: Sequence[Event]) -> int: ...

    def close(self) -> None: ...


def destination(settings: Settings, topic: str | None = None) -> str:
    """A name for where events go, used to name the spool: a spool is only ever sent to the
    destination its results were meant for."""
    import hashlib

    from website_monitor.store.url import redact

    if settings.stream.uses_kafka:
        name, where = (
            f"kafka-{topic or settings.stream.topic}",
            ",".join(settings.stream.bootstrap_servers),
        )
    else:
        name, where = "store", redact(settings.store.effective_url())
    return f"{name}-{hashlib.sha256(where.encode()).hexdigest()[:10]}"


def open_spooling_publisher(settings: Settings, topic: str | None = None) -> Publisher:
    """Like `open_publisher`, but undelivered events go to the local spool, and are sent first
    next time."""
    from website_monitor.transport.spool import Spool, SpoolingPublisher

    spool = Spool.for_destination(settings.store.data_path(), destination(settings, topic))
    return SpoolingPublisher(lambda: open_publisher(settings, topic), spool)


def open_publisher(settings: Settings, topic: str | None = None) -> Publisher:
    """Kafka when a bootstrap server is configured, else a direct write to the store."""
    if settings.stream.uses_kafka:
        from website_monitor.transport.kafka import KafkaPublisher

        return KafkaPublisher(settings, topic or settings.stream.topic)
    from website_monitor.store import open_store
    from website_monitor.transport.direct import StoreWriter

    return StoreWriter(
        open_store(settings.store.effective_url()),
        keep_raw=settings.retention.keep_raw,
        keep_dead_letters=settings.retention.keep_dead_letters,
    )
