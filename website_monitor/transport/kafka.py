"""Kafka: client options from settings, the publisher and admin (kafka-python), the consumer.

The consumer `wm flush` uses is librdkafka's (confluent-kafka, see `_consumer`):
its record parsing in C is what lets the flush keep up with the store.

kafka-python logs its whole configuration at debug level: the SASL password is
handed to it as a `Secret`, whose repr is `'***'`, so that dump never shows it
(and `log.SecretFilter` masks it in any other record). Bootstrap servers are shown
through `redact`, like every URL-valued setting.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from website_monitor import log
from website_monitor.codec import Event, encode
from website_monitor.config import Settings
from website_monitor.errors import BrokerUnavailable, DeliveryError
from website_monitor.store.url import mask, redact, url_secrets

if TYPE_CHECKING:
    from website_monitor.transport._consumer import GroupConsumer

logger = log.get("kafka")

BROKER_HINT = "check -b/--bootstrap-server and that the broker is running"
DEFAULT_PARTITIONS = 3


class Secret(str):
    """A password that works as the string it is but is never shown by `repr` (and so in
    no dict or list that holds it)."""

    def __repr__(self) -> str:
        return "'***'"


def client_options(settings: Settings) -> dict[str, Any]:
    """kafka-python connection and security options (producer and admin client).

    `_consumer.consumer_config` maps the same settings to librdkafka's keys."""
    options: dict[str, Any] = {
        "bootstrap_servers": list(settings.stream.bootstrap_servers),
        "client_id": "website-monitor",
        "bootstrap_timeout_ms": 10_000,
        "request_timeout_ms": 15_000,
    }
    stream = settings.stream
    protocol = "SSL" if stream.uses_ssl else "PLAINTEXT"
    if settings.stream.uses_ssl:
        options.update(
            ssl_cafile=settings.stream.ssl_cafile,
            ssl_certfile=settings.stream.ssl_certfile,
            ssl_keyfile=settings.stream.ssl_keyfile,
            ssl_check_hostname=True,
        )
    if settings.stream.sasl_mechanism:
        protocol = "SASL_SSL" if settings.stream.uses_ssl else "SASL_PLAINTEXT"
        options.update(
            sasl_mechanism=settings.stream.sasl_mechanism.upper(),
            sasl_plain_username=settings.stream.sasl_username,
            sasl_plain_password=(
                None
                if settings.stream.sasl_password is None
                else Secret(settings.stream.sasl_password)
            ),
        )
    options["security_protocol"] = protocol
    return options


def servers(settings: Settings) -> str:
    """The bootstrap servers as shown in messages (a user part's password masked)."""
    return ",".join(redact(server) for server in settings.stream.bootstrap_servers)


def client_secrets(settings: Settings) -> tuple[str, ...]:
    """What a Kafka client's messages must not show: the SASL password, any secret in a
    bootstrap server."""
    found = [settings.stream.sasl_password or ""]
    for server in settings.stream.bootstrap_servers:
        found.extend(url_secrets(server))
    return tuple(s for s in found if s)


def unavailable(settings: Settings, exc: Exception) -> BrokerUnavailable:
    reason = mask(" ".join(str(exc).split()), client_secrets(settings)) or type(exc).__name__
    return BrokerUnavailable(
        f"cannot reach Kafka at {servers(settings)}: {reason}", hint=BROKER_HINT
    )


def ensure_topic(settings: Settings, topic: str, partitions: int = DEFAULT_PARTITIONS) -> None:
    """Create `topic` if the broker lacks it; a broker that forbids this is left alone."""
    try:
        admin = KafkaAdminClient(**client_options(settings))
    except KafkaError as exc:
        raise unavailable(settings, exc) from None
    try:
        if topic not in admin.list_topics():
            admin.create_topics([NewTopic(topic, partitions, 1)])
            logger.info("created topic %s with %d partitions", topic, partitions)
    except TopicAlreadyExistsError:
        pass
    except KafkaError as exc:
        logger.debug(
            "could not create topic %s: %s", topic, mask(str(exc), client_secrets(settings))
        )
    finally:
        admin.close()


class KafkaPublisher:
    """Publishes events keyed by URL and waits until the broker acknowledged each one."""

    def __init__(self, settings: Settings, topic: str, *, max_block_s: float = 10.0) -> None:
        self.settings = settings
        self.topic = topic
        self.max_block_s = max_block_s
        try:
            self.producer = KafkaProducer(
                **client_options(settings),
                acks="all",
                retries=5,
                linger_ms=5,
                max_block_ms=int(max_block_s * 1000),
                delivery_timeout_ms=int(max_block_s * 1000) + 15_000,
            )
        except KafkaError as exc:
            raise unavailable(settings, exc) from None

    def publish(self, events: Sequence[Event]) -> int:
        pending = []
        failed: list[tuple[Event, str]] = []
        for event in events:
            try:
                future = self.producer.send(self.topic, key=event.key(), value=encode(event))
            except KafkaError as exc:
                failed.append((event, str(exc)))
                continue
            pending.append((event, future))
        try:
            self.producer.flush(timeout=self.max_block_s + 15)
        except KafkaError as exc:
            logger.warning("flush of the producer failed: %s", self._mask(str(exc)))
        for event, future in pending:
            try:
                future.get(timeout=1)
            except KafkaError as exc:
                failed.append((event, str(exc) or type(exc).__name__))
        if failed:
            raise DeliveryError(
                f"{len(failed)} of {len(events)} results were not acknowledged by Kafka at "
                f"{servers(self.settings)}: {self._mask(failed[0][1])}",
                hint=BROKER_HINT,
                undelivered=[event for event, _ in failed],
            )
        return len(events)

    def _mask(self, text: str) -> str:
        return mask(text, client_secrets(self.settings))

    def close(self) -> None:
        self.producer.close(timeout=5)


def open_consumer(
    settings: Settings, topic: str, *, session_timeout_ms: int = 10_000
) -> GroupConsumer:
    """A consumer in the configured group that commits offsets only when told to.

    The topic is checked (and created) first, so a broker that cannot be reached
    fails here with `BrokerUnavailable`, as for every other command.
    """
    from website_monitor.transport._consumer import GroupConsumer

    ensure_topic(settings, topic)
    return GroupConsumer(settings, topic, session_timeout_ms=session_timeout_ms)
