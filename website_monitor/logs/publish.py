"""Publishing `wm tail`'s hits: to Kafka as `hits` messages, or written to a store.

`HitPublisher` gives each hit the id of its place in the file it was read from
(`codec.hit_id_prefix`); `hits_messages` writes the parsed lines as the rows of
`hits` messages (`logs.bulk`), without building a hit.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

import msgspec

from website_monitor import log
from website_monitor.codec import MAX_BATCH, SCHEMA_VERSION, Event, new_event_id
from website_monitor.errors import DeliveryError, EventsRefused
from website_monitor.logs.codec import (
    hit_id_prefix,
)
from website_monitor.logs.formats import LogRecord
from website_monitor.logs.monitor import (
    Collected,
    bounded_already,
    bounded_fields,
    source_name,
)
from website_monitor.logs.parsed import ParsedHits
from website_monitor.transport import Publisher
from website_monitor.transport.background import BackgroundPublisher

logger = log.get("tail")


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
            _KafkaOutlet(publisher, source, self._id_prefix)
            if isinstance(publisher, MessageProducer)
            else _StoreOutlet(publisher, source, self._id_prefix)
        )

    def _id_prefix(self, fingerprint: str) -> str:
        prefix = self._prefixes.get(fingerprint)
        if prefix is None:
            prefix = self._prefixes[fingerprint] = hit_id_prefix(self.source, fingerprint)
        return prefix

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
    """Hits as `hits` messages, handed to librdkafka without building a `Hit`."""

    def __init__(
        self, producer: MessageProducer, source: str, id_prefix: Callable[[str], str]
    ) -> None:
        self.producer = producer
        self.source = source
        self.key = source_name(source).encode()
        self.id_prefix = id_prefix

    def send(self, records: list[Collected]) -> None:
        self.producer.send_values(self.key, hits_messages(self.source, records, self.id_prefix))

    def take_failed(self) -> list[tuple[int, str]]:
        failed = self.producer.take_failed()
        if not failed:
            return []
        lost = sum(_hits_in(value) for value, _ in failed)
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
    `send` returns. The hits are built only if the store reads them (`ParsedHits`)."""

    def __init__(self, publisher: Publisher, source: str, id_prefix: Callable[[str], str]) -> None:
        self.publisher = publisher
        self.background = publisher if isinstance(publisher, BackgroundPublisher) else None
        self.source = source
        self.id_prefix = id_prefix
        self._failed: list[tuple[Sequence[Event], DeliveryError]] = []

    def send(self, records: list[Collected]) -> None:
        hits = ParsedHits(self.source, records, self.id_prefix)
        if self.background is not None:
            # The COPY text written on this thread: the writer thread holding the interpreter
            # to write it made both threads wait (its COPY for the text, this for the lock).
            hits.copy_text()
            self.background.send(hits)
            return
        try:
            self.publisher.publish(hits)
        except DeliveryError as exc:
            self._failed.append((hits, exc))

    def take_failed(self) -> list[tuple[int, str]]:
        failed = self.background.take_failed() if self.background is not None else []
        failed, self._failed = self._failed + failed, []
        return [(_lost(hits, exc), exc.message) for hits, exc in failed]

    def settle(self) -> None:
        if self.background is not None:
            self.background.settle()


#: Most hits, and bytes, in one Kafka message (a `hits` message, `logs.bulk`).
HITS_PER_MESSAGE = MAX_BATCH
MESSAGE_BYTES = 256 * 1024


class _HitsMessage(msgspec.Struct, omit_defaults=True, gc=False):
    """A `hits` message as the tail writes it: the records are the rows, as they are."""

    kind: str
    v: int
    source: str
    id_prefix: str | None = None
    offsets: Sequence[int] | None = None
    event_ids: Sequence[str] | None = None
    rows: Sequence[LogRecord] = ()


_ENCODER = msgspec.json.Encoder()


def hits_messages(
    source: str, collected: Sequence[Collected], id_prefix: Callable[[str], str]
) -> list[bytes]:
    """The `hits` messages of `collected`, in order: one run of messages per file read
    (`id_prefix` of its fingerprint), of at most HITS_PER_MESSAGE hits and MESSAGE_BYTES.

    Values are fit for any store (`monitor.bounded_fields`); checked for a whole run at
    once, and fit record by record only when one is not.
    """
    messages: list[bytes] = []
    if not collected:
        return messages
    source = source_name(source)
    records, fingerprints, offsets = zip(*collected, strict=True)
    runs: list[tuple[str | None, Sequence[LogRecord], Sequence[int]]]
    if fingerprints.count(fingerprints[0]) == len(fingerprints):  # one file: nearly always
        runs = [(fingerprints[0], records, offsets)]
    else:
        runs = []
        for fingerprint, items in itertools.groupby(collected, key=operator.itemgetter(1)):
            run_records, _, run_offsets = zip(*items, strict=True)
            runs.append((fingerprint, run_records, run_offsets))
    for fingerprint, rows, positions in runs:
        if not bounded_already(tuple(zip(*rows, strict=True))):
            rows = [_fit(record) for record in rows]
        for start in range(0, len(rows), HITS_PER_MESSAGE):
            end = start + HITS_PER_MESSAGE
            if fingerprint is None:  # standard input: new ids
                message = _HitsMessage(
                    "hits", SCHEMA_VERSION, source,
                    event_ids=[new_event_id() for _ in rows[start:end]], rows=rows[start:end],
                )  # fmt: skip
            else:
                message = _HitsMessage(
                    "hits", SCHEMA_VERSION, source, id_prefix(fingerprint),
                    positions[start:end], rows=rows[start:end],
                )  # fmt: skip
            _encode(message, messages)
    return messages


def _lost(hits: Sequence[Event], error: DeliveryError) -> int:
    """How many of `hits` a store's error says were not stored: those it refused (the rest
    were stored), those undelivered, or all."""
    if isinstance(error, EventsRefused):
        return error.refused
    return len(error.undelivered) or len(hits)


def _hits_in(message: bytes) -> int:
    """How many hits a message this tail wrote holds."""
    return len(msgspec.json.decode(message, type=_Counted).rows)


class _Counted(msgspec.Struct):
    rows: list[msgspec.Raw]


def _fit(record: LogRecord) -> LogRecord:
    path, host, user, method, referer, agent = bounded_fields(record)
    return record._replace(
        remote_host=host, user=user, method=method, path=path,
        bytes=min(record.bytes, 2**63 - 1), referer=referer, user_agent=agent,
    )  # fmt: skip


def _encode(message: _HitsMessage, out: list[bytes]) -> None:
    encoded = _ENCODER.encode(message)
    if b"\\u0000" in encoded:  # a NUL in a value: fit every record of the message
        message.rows = [_fit(record) for record in message.rows]
        encoded = _ENCODER.encode(message)
    if len(encoded) <= MESSAGE_BYTES or len(message.rows) == 1:
        out.append(encoded)
        return
    half = len(message.rows) // 2  # long paths and agents: in two messages
    for part in (slice(None, half), slice(half, None)):
        _encode(
            msgspec.structs.replace(
                message,
                rows=message.rows[part],
                offsets=None if message.offsets is None else message.offsets[part],
                event_ids=None if message.event_ids is None else message.event_ids[part],
            ),
            out,
        )
