"""Publishing `wm tail`'s hits: to Kafka as batch messages, or written to a store.

`HitPublisher` gives each hit the id of its place in the file it was read from
(`codec.hit_id_prefix`); `HitMessages` writes a hit's Kafka message straight from
its parsed line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from typing import Protocol, runtime_checkable

import msgspec

from website_monitor import log
from website_monitor.codec import SCHEMA_VERSION, Event, new_event_id
from website_monitor.errors import DeliveryError
from website_monitor.logs.codec import (
    MAX_NAME_LENGTH,
    hit_id,
    hit_id_prefix,
)
from website_monitor.logs.formats import LogRecord, path_keys
from website_monitor.logs.monitor import Collected, _clean, bounded_fields, hit_from_record
from website_monitor.transport import Publisher
from website_monitor.transport.background import BackgroundPublisher

logger = log.get("tail")


class HitMessages:
    """The Kafka message of a parsed line, straight from its record: the document
    `codec.encode(hit_from_record(...))` is, without building the hit (a tail publishing
    to Kafka does this for every line). Times repeat from line to line: the last is kept."""

    def __init__(self, source: str) -> None:
        self.source = _clean(source, MAX_NAME_LENGTH) or "-"
        self._time = math.nan
        self._iso = ""

    def __call__(self, record: LogRecord, event_id: str) -> _HitDocument:
        timestamp, _, _, _, _, status, size, _, _ = record
        if timestamp != self._time:
            self._iso = datetime.fromtimestamp(timestamp, timezone.utc).isoformat()
            self._time = timestamp
        path, host, user, method, referer, agent = bounded_fields(record)
        return _HitDocument(
            "hit",
            SCHEMA_VERSION,
            self._iso,
            self.source,
            host or "-",
            user or None,
            method or "-",
            path or "-",
            (path_keys(path)[0] or "-") if path else "-",
            status,
            size if size < 2**63 else 2**63 - 1,
            event_id,
            referer,
            agent,
        )


class _HitDocument(msgspec.Struct, gc=False):
    """A hit's message, fields in `Hit.to_dict`'s order: msgspec encodes a list of these
    in a fraction of the time a dict per hit takes."""

    kind: str
    v: int
    timestamp: str
    source: str
    remote_host: str
    user: str | None
    method: str
    path: str
    section: str
    status: int
    bytes: int
    event_id: str
    referer: str | None
    user_agent: str | None


_ENCODER = msgspec.json.Encoder()


class HitPublisher:
    """Sends hits in batches; a failed batch is logged and counted, never fatal.

    A hit read from a file gets the id of its place in it (`codec.hit_id_prefix`), so
    the same line published again is stored once; from standard input, a new one.
    Where the hits go is an outlet (`_KafkaOutlet`, `_StoreOutlet`) picked once: both
    send a batch, give back what failed since, and settle in `finish` (which must be
    called at the end).
    """

    def __init__(self, publisher: Publisher, source: str, batch_size: int = 1000) -> None:
        self.publisher = publisher
        self.source = source
        self.batch_size = batch_size
        self.published = 0
        self.failed = 0
        self._prefixes: dict[str, str] = {}
        self._outlet: _Outlet = (
            _KafkaOutlet(publisher, source, self._event_id)
            if isinstance(publisher, MessageProducer)
            else _StoreOutlet(publisher, source, self._event_id)
        )

    def _event_id(self, fingerprint: str | None, offset: int) -> str | None:
        if fingerprint is None:
            return None
        prefix = self._prefixes.get(fingerprint)
        if prefix is None:
            prefix = self._prefixes[fingerprint] = hit_id_prefix(self.source, fingerprint)
        return hit_id(prefix, offset)

    def publish(self, records: list[Collected]) -> None:
        for start in range(0, len(records), self.batch_size):
            batch = records[start : start + self.batch_size]
            self._outlet.send(batch)
            self.published += len(batch)
        self._account()

    def finish(self) -> None:
        """Wait until Kafka, or the store's writer thread, took every hit sent (or gave up on
        it), and count what it did not take."""
        self._outlet.settle()
        self._account()

    def _account(self) -> None:
        """Count, and report, the hits the outlet did not deliver."""
        for lost, message in self._outlet.take_failed():
            self.failed += lost
            self.published -= lost
            logger.error("%s", message)


EventIds = Callable[[str | None, int], str | None]


@runtime_checkable
class MessageProducer(Protocol):
    """What hits need of Kafka's producer (`transport.producer.BatchPublisher`), named
    here so that a tail without Kafka never imports its clients."""

    def send_values(self, key: bytes, values: Sequence[bytes]) -> None: ...

    def take_failed(self) -> list[tuple[bytes, str]]: ...

    def settle(self) -> None: ...


class _Outlet(Protocol):
    def send(self, records: list[Collected]) -> None: ...

    def take_failed(self) -> list[tuple[int, str]]:
        """(hits lost, what to log) of the batches that failed since the last call."""
        ...

    def settle(self) -> None: ...


class _KafkaOutlet:
    """Hits as `batch` messages, handed to librdkafka without building a `Hit`."""

    def __init__(self, producer: MessageProducer, source: str, event_id: EventIds) -> None:
        self.producer = producer
        self.message = HitMessages(source)
        self.key = self.message.source.encode()
        self.event_id = event_id

    def send(self, records: list[Collected]) -> None:
        message, event_id = self.message, self.event_id
        values = [
            message(record, event_id(fingerprint, offset) or new_event_id())
            for record, fingerprint, offset in records
        ]
        self.producer.send_values(self.key, _batch_messages(values))

    def take_failed(self) -> list[tuple[int, str]]:
        failed = self.producer.take_failed()
        if not failed:
            return []
        lost = sum(value.count(b'"kind":"hit"') for value, _ in failed)
        return [
            (
                lost,
                f"{lost} hits were not acknowledged by Kafka: {failed[0][1]};"
                " the next ones are sent anyway",
            )
        ]

    def settle(self) -> None:
        self.producer.settle()


class _StoreOutlet:
    """Hits written by a publisher: on its writer thread (`BackgroundPublisher`), or before
    `send` returns."""

    def __init__(self, publisher: Publisher, source: str, event_id: EventIds) -> None:
        self.publisher = publisher
        self.background = publisher if isinstance(publisher, BackgroundPublisher) else None
        self.source = source
        self.event_id = event_id
        self._failed: list[tuple[Sequence[Event], DeliveryError]] = []

    def send(self, records: list[Collected]) -> None:
        source, event_id = self.source, self.event_id
        hits = [
            hit_from_record(record, source, event_id(fingerprint, offset))
            for record, fingerprint, offset in records
        ]
        if self.background is not None:
            self.background.send(hits)
            return
        try:
            self.publisher.publish(hits)
        except DeliveryError as exc:
            self._failed.append((hits, exc))

    def take_failed(self) -> list[tuple[int, str]]:
        failed = self.background.take_failed() if self.background is not None else []
        failed, self._failed = self._failed + failed, []
        return [(len(exc.undelivered) or len(hits), exc.message) for hits, exc in failed]

    def settle(self) -> None:
        if self.background is not None:
            self.background.settle()


#: Most hits, and bytes, in one Kafka message (a `batch` message, `codec.decode_many`).
HITS_PER_MESSAGE = 100
MESSAGE_BYTES = 256 * 1024


def _batch_messages(documents: list[_HitDocument]) -> list[bytes]:
    """`documents` in `batch` messages of at most HITS_PER_MESSAGE hits and MESSAGE_BYTES.
    Fewer, larger messages cost the producer, the broker and the flush less per hit."""
    messages: list[bytes] = []
    for start in range(0, len(documents), HITS_PER_MESSAGE):
        _encode_batch(documents[start : start + HITS_PER_MESSAGE], messages)
    return messages


def _encode_batch(documents: list[_HitDocument], out: list[bytes]) -> None:
    message = b'{"kind":"batch","v":1,"events":' + _ENCODER.encode(documents) + b"}"
    if len(message) <= MESSAGE_BYTES or len(documents) == 1:
        out.append(message)
        return
    half = len(documents) // 2  # long paths and agents: in two messages
    _encode_batch(documents[:half], out)
    _encode_batch(documents[half:], out)


def encode_document(document: _HitDocument) -> bytes:
    """One hit's message (what a batch holds for it)."""
    return _ENCODER.encode(document)
