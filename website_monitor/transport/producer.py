"""The high-volume producer: librdkafka (confluent-kafka), for `wm tail --publish -b`.

Access logs are the high-volume source: kafka-python's producer costs about 60 µs
of Python per message, about ten times what reading and parsing the line costs.
librdkafka batches, sends and retries in C threads; here a message costs one
`produce` call, and only failed deliveries come back to Python (`delivery.report.
only.error`). `publish` waits until every message of the batch is acknowledged
(acks=all), like `KafkaPublisher`, and raises DeliveryError for those that were not.

The topic is checked (and created) first with the admin client, so an unreachable
broker fails at start with `BrokerUnavailable`, as for every other command.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from website_monitor import log
from website_monitor.codec import Event
from website_monitor.config import Settings
from website_monitor.errors import DeliveryError, TransportError
from website_monitor.transport._consumer import AUTH_HINT, _Reporter, connection_config
from website_monitor.transport.kafka import (
    BROKER_HINT,
    client_secrets,
    ensure_topic,
    servers,
)

logger = log.get("kafka")

#: Messages, and kilobytes, librdkafka may hold unsent; `produce` waits for room beyond
#: this, so a reader faster than the broker keeps its memory flat.
QUEUE_MESSAGES = 100_000
QUEUE_KBYTES = 64 * 1024


class BatchPublisher:
    """Publishes events keyed like `KafkaPublisher`, encoded by `encode` (bytes per event)."""

    def __init__(
        self,
        settings: Settings,
        topic: str,
        encode: Callable[[Event], bytes],
        *,
        timeout_s: float = 10.0,
    ) -> None:
        ensure_topic(settings, topic)  # BrokerUnavailable when the broker cannot be reached
        self.settings = settings
        self.topic = topic
        self.encode = encode
        self.timeout_s = timeout_s
        self._reporter = _Reporter(client_secrets(settings))
        self._failed: list[tuple[bytes, str]] = []
        config = connection_config(settings)
        config.update(
            {
                "acks": "all",
                "linger.ms": 5,
                "batch.num.messages": 10_000,
                "queue.buffering.max.messages": QUEUE_MESSAGES,
                "queue.buffering.max.kbytes": QUEUE_KBYTES,
                "message.timeout.ms": int(timeout_s * 1000) + 15_000,
                "delivery.report.only.error": True,
                "on_delivery": self._on_delivery,
                "error_cb": self._on_error,
                "logger": self._reporter,
            }
        )
        try:
            self.producer = Producer(config)
        except (KafkaException, ValueError, TypeError) as exc:
            raise TransportError(
                f"cannot create a Kafka producer: {self._reporter.mask(str(exc))}",
                hint=AUTH_HINT,
            ) from None

    def _on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self._failed.append((message.value() or b"", error.str()))

    def _on_error(self, error: KafkaError) -> None:
        self._reporter.error(error, f"producer error at {servers(self.settings)}")

    def publish(self, events: Sequence[Event]) -> int:
        values = [self.encode(event) for event in events]
        failed = self._deliver(
            [(event.key(), value) for event, value in zip(events, values, strict=True)]
        )
        if failed is None:
            return len(events)
        count, reason, lost = failed
        undelivered = [e for e, v in zip(events, values, strict=True) if v in lost] or list(events)
        raise self._error(count, len(events), reason, undelivered)

    def publish_values(self, key: bytes, values: Sequence[bytes]) -> int:
        """Publish messages already encoded, all with `key`; DeliveryError holds the values
        that were not delivered."""
        failed = self._deliver([(key, value) for value in values])
        if failed is None:
            return len(values)
        count, reason, lost = failed
        undelivered = [value for value in values if value in lost] or list(values)
        raise self._error(count, len(values), reason, undelivered)

    def send_values(self, key: bytes, values: Sequence[bytes]) -> None:
        """Hand messages to librdkafka without waiting for the broker: those that fail come
        back from `take_failed` later, and `settle` waits for the rest."""
        self._produce([(key, value) for value in values])
        self.producer.poll(0)

    def take_failed(self) -> list[tuple[bytes, str]]:
        """(value, reason) of the messages that failed since the last call."""
        self.producer.poll(0)
        failed, self._failed = self._failed, []
        return failed

    def settle(self) -> None:
        """Wait for every message sent; those still unsent after the timeout fail (and come
        back from `take_failed`)."""
        if self.producer.flush(self.timeout_s + 15):
            self.producer.purge()
            self.producer.flush(1)

    def _produce(self, messages: Sequence[tuple[bytes | None, bytes]]) -> None:
        produce, topic, poll = self.producer.produce, self.topic, self.producer.poll
        for key, value in messages:
            while True:
                try:
                    produce(topic, value, key)
                    break
                except BufferError:  # the local queue is full: let librdkafka send some
                    poll(0.05)
                except KafkaException as exc:
                    self._failed.append((value, self._reporter.mask(str(exc))))
                    break

    def _deliver(
        self, messages: Sequence[tuple[bytes | None, bytes]]
    ) -> tuple[int, str, set[bytes]] | None:
        """Produce and wait for every acknowledgement; None when all were delivered, else
        how many were not, the first reason and the values that failed."""
        self._produce(messages)
        left = self.producer.flush(self.timeout_s + 15)
        refused: list[tuple[bytes, str]] = []
        failed, self._failed = self._failed, []
        if not failed and not refused and not left:
            return None
        reasons = [reason for _, reason in failed + refused]
        reason = reasons[0] if reasons else f"{left} still waiting for the broker"
        lost = {value for value, _ in failed + refused}
        return max(len(failed) + len(refused), left), reason, lost

    def _error(self, count: int, total: int, reason: str, undelivered: list[Any]) -> DeliveryError:
        return DeliveryError(
            f"{count} of {total} results were not acknowledged by Kafka at "
            f"{servers(self.settings)}: {self._reporter.mask(reason)}",
            hint=BROKER_HINT,
            undelivered=undelivered,
        )

    def close(self) -> None:
        self.producer.flush(5)
