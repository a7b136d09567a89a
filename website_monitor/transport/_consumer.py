"""The consumer behind `wm flush`: librdkafka (confluent-kafka) in a consumer group.

librdkafka parses Kafka records in C: polling costs about 4 µs per message here,
against about 14 µs for a consumer that parses them in Python (bench/flush.py,
README "Performance"), which leaves the flush bound by the store. This module
wraps `confluent_kafka.Consumer` in the small interface the sink uses (`poll`,
`commit`, `assignment`, `close`) and keeps librdkafka's own reporting inside
website-monitor: its log lines and errors go through the `website_monitor.kafka`
logger (text or `--log-format json`), rate-limited, with the SASL password
masked; errors it cannot recover from raise `TransportError` with a hint.

Like any librdkafka handle used this way, a `GroupConsumer` belongs to the thread
that polls it: logs, errors and rebalances are delivered from inside `poll`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from website_monitor import log
from website_monitor.config import Settings
from website_monitor.errors import TransportError
from website_monitor.store.url import mask
from website_monitor.transport.kafka import client_secrets, servers

logger = log.get("kafka")

AUTH_HINT = "check the TLS and SASL settings (-ca/-ce/-k, --sasl-*) and the broker's ACLs"
LOG_EVERY_S = 30.0
_SECRET_KEYS = frozenset({"sasl.password", "ssl.key.password"})
# librdkafka logs a failed connection and also reports it to error_cb: one line is enough.
_REPORTED_AS_ERRORS = frozenset({"FAIL"})

# Errors that retrying cannot fix: credentials or permissions, or librdkafka's own "fatal".
_FATAL_CODES = frozenset(
    {
        KafkaError._AUTHENTICATION,
        KafkaError.SASL_AUTHENTICATION_FAILED,
        KafkaError.TOPIC_AUTHORIZATION_FAILED,
        KafkaError.GROUP_AUTHORIZATION_FAILED,
        KafkaError.CLUSTER_AUTHORIZATION_FAILED,
        KafkaError._FATAL,
        KafkaError._INVALID_ARG,
    }
)


class Partition(NamedTuple):
    """A topic partition, the key of a polled batch."""

    topic: str
    partition: int


@dataclasses.dataclass(slots=True)
class Record:
    """One consumed message: what the sink decodes or dead-letters."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


class ClientConfig(dict[str, Any]):
    """librdkafka configuration whose repr never shows a password."""

    def __repr__(self) -> str:
        shown = {k: ("***" if k in _SECRET_KEYS and v else v) for k, v in self.items()}
        return f"{type(self).__name__}({shown!r})"

    __str__ = __repr__


def consumer_config(
    settings: Settings, *, group_id: str | None = None, session_timeout_ms: int = 10_000
) -> ClientConfig:
    """librdkafka settings for a consumer in the configured group.

    Same connection and security as `client_options` (bootstrap servers, client
    id, TLS with the host name checked, SASL), offsets committed only when told
    to (`enable.auto.commit=false`), and a new group starts at the earliest
    offset. Fetch settings stay at librdkafka's defaults, which already prefetch
    far more than one batch (measured in bench/flush.py).
    """
    config = connection_config(settings)
    config.update(
        {
            "group.id": group_id or settings.flush.consumer_group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": session_timeout_ms,
            "heartbeat.interval.ms": max(100, session_timeout_ms // 5),
        }
    )
    return config


def connection_config(settings: Settings) -> ClientConfig:
    """librdkafka's connection and security settings, for the consumer and the producer."""
    config = ClientConfig(
        {
            "bootstrap.servers": ",".join(settings.stream.bootstrap_servers),
            "client.id": "website-monitor",
            "socket.connection.setup.timeout.ms": 10_000,
        }
    )
    protocol = "SSL" if settings.stream.uses_ssl else "PLAINTEXT"
    if settings.stream.uses_ssl:
        config["ssl.endpoint.identification.algorithm"] = "https"
        for key, path in (
            ("ssl.ca.location", settings.stream.ssl_cafile),
            ("ssl.certificate.location", settings.stream.ssl_certfile),
            ("ssl.key.location", settings.stream.ssl_keyfile),
        ):
            if path:
                config[key] = path
    if settings.stream.sasl_mechanism:
        protocol = "SASL_SSL" if settings.stream.uses_ssl else "SASL_PLAINTEXT"
        config["sasl.mechanism"] = settings.stream.sasl_mechanism.upper()
        if settings.stream.sasl_username is not None:
            config["sasl.username"] = settings.stream.sasl_username
        if settings.stream.sasl_password is not None:
            config["sasl.password"] = settings.stream.sasl_password
    config["security.protocol"] = protocol
    return config


class _Reporter:
    """librdkafka's log lines and errors, into our logger: masked and rate-limited.

    The same kind of line (facility or error code) is logged at most once per
    `every` seconds; the next one says how many were left out meanwhile.
    """

    def __init__(self, secrets: str | Sequence[str] | None, every: float = LOG_EVERY_S) -> None:
        self.secrets = (secrets,) if isinstance(secrets, str) else tuple(secrets or ())
        self.every = every
        self._rate = log.LogRate(1, every)

    def mask(self, text: str) -> str:
        return mask(" ".join(text.split()), self.secrets)

    def emit(self, kind: str, level: int, message: str, **extra: Any) -> None:
        if not logger.isEnabledFor(level):
            return
        skipped = self._rate.take(kind) if level < logging.CRITICAL else 0
        if skipped is None:
            return
        message = self.mask(message)
        if skipped:
            message += f" ({skipped} more like this in the last {self.every:.0f}s)"
        logger.log(level, "%s", message, extra={"event": "kafka_client", **extra})

    # the `logger` confluent-kafka calls: log(level, "%s [%s] %s", facility, name, text)
    def log(self, level: int, fmt: str, *args: Any) -> None:
        facility = str(args[0]) if args else "LOG"
        text = str(args[-1]) if args else fmt
        if facility in _REPORTED_AS_ERRORS:
            level = logging.DEBUG
        self.emit(f"log:{facility}", level, f"librdkafka {facility}: {text}", facility=facility)

    def error(self, error: KafkaError, where: str) -> None:
        """A transient error: librdkafka retries by itself; one line says what happens."""
        self.emit(
            f"error:{error.code()}",
            logging.WARNING,
            f"Kafka {where}: {error.str()} (retrying)",
            code=error.name(),
        )


class GroupConsumer:
    """A consumer-group member on one topic that commits only the offsets it is given.

    Used from one thread only (the polling thread): librdkafka delivers its logs,
    errors and rebalance callbacks from inside `poll`, and a fatal error is raised
    there as `TransportError`.
    """

    def __init__(self, settings: Settings, topic: str, *, session_timeout_ms: int = 10_000) -> None:
        self.topic = topic
        self.servers = servers(settings)
        self.group_id = settings.flush.consumer_group_id
        self._reporter = _Reporter(client_secrets(settings))
        self._fatal: KafkaError | None = None
        config = consumer_config(settings, session_timeout_ms=session_timeout_ms)
        config["error_cb"] = self._on_error
        config["logger"] = self._reporter
        try:
            self._consumer = Consumer(config)
        except (KafkaException, ValueError, TypeError) as exc:
            raise TransportError(
                f"cannot create a Kafka consumer: {self._reporter.mask(str(exc))}",
                hint=AUTH_HINT,
            ) from None
        self._consumer.subscribe([topic], on_assign=_on_assign, on_revoke=_on_revoke)

    def __repr__(self) -> str:
        return f"GroupConsumer({self.servers!r}, topic={self.topic!r}, group={self.group_id!r})"

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict[Any, list[Any]]:
        """Up to `max_records` messages (waiting at most `timeout_ms`), by partition."""
        messages = self._consumer.consume(
            num_messages=max_records or 500, timeout=max(timeout_ms, 0) / 1000
        )
        polled: dict[Any, list[Any]] = {}
        # Per message this loop is the consumer's whole Python cost: one lookup per
        # partition change rather than a new key per message.
        key: Partition | None = None
        records: list[Record] = []
        for message in messages:
            if message.error() is not None:
                self._message_error(message.error())  # type: ignore[arg-type]
                continue
            partition = message.partition()
            if key is None or key.partition != partition or key.topic != message.topic():
                key = Partition(message.topic(), partition)  # type: ignore[arg-type]
                records = polled.setdefault(key, [])
            records.append(
                Record(key.topic, partition, message.offset(), message.key(), message.value())  # type: ignore[arg-type]
            )
        self._raise_fatal()
        return polled

    def commit(self, offsets: Mapping[Any, int]) -> None:
        """Commit, and wait for, the next offset to read of each partition given."""
        if not offsets:
            return
        partitions = [TopicPartition(p.topic, p.partition, o) for p, o in offsets.items()]
        try:
            result = self._consumer.commit(offsets=partitions, asynchronous=False)
        except KafkaException as exc:
            raise TransportError(
                f"offset commit failed: {self._reporter.mask(str(exc.args[0]))}"
            ) from None
        failed = [tp for tp in result or [] if tp.error is not None]
        if failed:
            raise TransportError(
                "offset commit failed for "
                + ", ".join(
                    f"{tp.topic}/{tp.partition}: {self._reporter.mask(str(tp.error))}"
                    for tp in failed
                )
            )

    def assignment(self) -> set[Any]:
        return {Partition(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def close(self, autocommit: bool = False) -> None:
        """Leave the group. Offsets are committed only by `commit` unless `autocommit`."""
        try:
            if autocommit:
                self._consumer.commit(asynchronous=False)
        except KafkaException as exc:
            logger.warning("offset commit on close failed: %s", self._reporter.mask(str(exc)))
        finally:
            try:
                self._consumer.close()
            except (KafkaException, RuntimeError) as exc:
                logger.debug("closing the consumer: %s", self._reporter.mask(str(exc)))

    def _on_error(self, error: KafkaError) -> None:
        if self._is_fatal(error):
            self._fatal = self._fatal or error
        else:
            self._reporter.error(error, f"client error at {self.servers}")

    def _message_error(self, error: KafkaError) -> None:
        if self._is_fatal(error):
            self._fatal = self._fatal or error
        else:
            self._reporter.error(error, f"consumer error on {self.topic}")

    @staticmethod
    def _is_fatal(error: KafkaError) -> bool:
        return bool(error.fatal()) or error.code() in _FATAL_CODES

    def _raise_fatal(self) -> None:
        error = self._fatal
        if error is None:
            return
        if error.code() in _FATAL_CODES and error.code() != KafkaError._FATAL:
            hint = AUTH_HINT
        else:
            hint = "restart wm flush; uncommitted messages are delivered again"
        raise TransportError(
            f"Kafka at {self.servers} failed: {self._reporter.mask(error.str())} ({error.name()})",
            hint=hint,
        )


def _on_assign(consumer: Consumer, partitions: list[TopicPartition]) -> None:
    logger.info(
        "partitions assigned: %s",
        _partitions(partitions),
        extra={"event": "rebalance", "assigned": _partitions(partitions)},
    )


def _on_revoke(consumer: Consumer, partitions: list[TopicPartition]) -> None:
    if not partitions:  # nothing held: not worth a line
        return
    logger.info(
        "partitions revoked: %s",
        _partitions(partitions),
        extra={"event": "rebalance", "revoked": _partitions(partitions)},
    )


def _partitions(partitions: list[TopicPartition]) -> str:
    return ", ".join(sorted(f"{tp.topic}/{tp.partition}" for tp in partitions)) or "none"
