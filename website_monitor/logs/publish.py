"""Publishing `wm tail`'s hits: to Kafka as batch messages, or written to a store.

`HitPublisher` gives each hit the id of its place in the file it was read from
(`codec.hit_id_prefix`); `HitMessages` writes a hit's Kafka message straight from
its parsed line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timezone

import msgspec

from website_monitor import log
from website_monitor.codec import SCHEMA_VERSION, Event, new_event_id
from website_monitor.errors import DeliveryError
from website_monitor.logs.codec import (
    MAX_NAME_LENGTH,
    Hit,
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
    To Kafka, hits go as `batch` messages; to a `BackgroundPublisher`, as batches its
    thread writes; both are waited for in `finish` (which must be called at the end).
    To any other publisher, each batch is written before `publish` returns.
    """

    def __init__(self, publisher: Publisher, source: str, batch_size: int = 1000) -> None:
        self.publisher = publisher
        self.source = source
        self.batch_size = batch_size
        self.published = 0
        self.failed = 0
        self._prefixes: dict[str, str] = {}
        self._messages: HitMessages | None = None

    def _event_id(self, fingerprint: str | None, offset: int) -> str | None:
        if fingerprint is None:
            return None
        prefix = self._prefixes.get(fingerprint)
        if prefix is None:
            prefix = self._prefixes[fingerprint] = hit_id_prefix(self.source, fingerprint)
        return hit_id(prefix, offset)

    def publish(self, records: list[Collected]) -> None:
        if hasattr(self.publisher, "send_values"):  # a Kafka producer: messages, no hits
            self._publish_messages(records)
            return
        background = self.publisher if isinstance(self.publisher, BackgroundPublisher) else None
        for start in range(0, len(records), self.batch_size):
            batch = self._hits(records[start : start + self.batch_size])
            if background is not None:
                background.send(batch)
                self.published += len(batch)
                continue
            try:
                self.published += self.publisher.publish(batch)
            except DeliveryError as exc:
                self._failed_batch(batch, exc)
        if background is not None:
            for sent, error in background.take_failed():
                self.published -= len(sent)
                self._failed_batch(sent, error)

    def _hits(self, records: list[Collected]) -> list[Hit]:
        source, event_id = self.source, self._event_id
        return [
            hit_from_record(record, source, event_id(fingerprint, offset))
            for record, fingerprint, offset in records
        ]

    def _failed_batch(self, batch: Sequence[Event], exc: DeliveryError) -> None:
        self.failed += len(exc.undelivered) or len(batch)
        self.published += len(batch) - (len(exc.undelivered) or len(batch))
        logger.error("%s", exc.message)

    def _publish_messages(self, records: list[Collected]) -> None:
        if self._messages is None:
            self._messages = HitMessages(self.source)
        message, event_id, key = self._messages, self._event_id, self._messages.source.encode()
        publish = self.publisher.send_values  # type: ignore[attr-defined]
        for start in range(0, len(records), self.batch_size):
            values = [
                message(record, event_id(fingerprint, offset) or new_event_id())
                for record, fingerprint, offset in records[start : start + self.batch_size]
            ]
            publish(key, _batch_messages(values))
            self.published += len(values)
        self._account()

    def _account(self) -> None:
        """Count, and report, the hits of the messages Kafka did not take."""
        failed = self.publisher.take_failed()  # type: ignore[attr-defined]
        if not failed:
            return
        lost = sum(value.count(b'"kind":"hit"') for value, _ in failed)
        self.failed += lost
        self.published -= lost
        logger.error(
            "%d hits were not acknowledged by Kafka: %s; the next ones are sent anyway",
            lost,
            failed[0][1],
        )

    def finish(self) -> None:
        """Wait until Kafka, or the store's writer thread, took every hit sent (or gave up on
        it), and count what it did not take."""
        if self._messages is not None:
            self.publisher.settle()  # type: ignore[attr-defined]
            self._account()
        elif isinstance(self.publisher, BackgroundPublisher):
            self.publisher.settle()
            self.publish([])


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
