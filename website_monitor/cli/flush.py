"""`wm flush`: consume results from Kafka into the store."""

from __future__ import annotations

from typing import Any

import click

from website_monitor.cli._options import load_settings, settings_options
from website_monitor.errors import ConfigError


@click.command("flush")
@click.option(
    "--session-timeout-ms",
    type=click.IntRange(1000, 300_000),
    default=10_000,
    envvar="WM_STREAM_SESSION_TIMEOUT_MS",
    show_envvar=True,
    show_default=True,
    help="Kafka consumer session timeout.",
)
@settings_options("flush", "store", "retention", "stream")
def command(session_timeout_ms: int, **kwargs: Any) -> None:
    """Consume probe results from Kafka and store them.

    Batches are committed to the database before their offsets are committed to
    Kafka, and rows are unique by event id, so a crash never loses or
    duplicates a result. Undecodable messages go to the dead_letters table.
    SIGTERM or Ctrl-C finishes the current batch and exits 0.
    """
    from website_monitor.cli._signals import stop_on_signals
    from website_monitor.store import open_store
    from website_monitor.transport.kafka import open_consumer
    from website_monitor.transport.sink import Sink

    settings = load_settings(kwargs)
    if not settings.stream.uses_kafka:
        raise ConfigError(
            "wm flush needs a Kafka bootstrap server",
            hint="give -b/--bootstrap-server or WM_STREAM_BOOTSTRAP_SERVER; "
            "without Kafka, wm probe writes to the store directly",
        )
    repository = open_store(settings.store.effective_url())
    try:
        consumer = open_consumer(
            settings, settings.stream.topic, session_timeout_ms=session_timeout_ms
        )
        try:
            with stop_on_signals() as stop:
                sink = Sink(
                    consumer,
                    repository,
                    batch_size=settings.flush.batch_size,
                    keep_raw=settings.retention.keep_raw,
                    keep_dead_letters=settings.retention.keep_dead_letters,
                )
                sink.run(stop, drain=settings.flush.drain, idle_timeout=settings.flush.idle_timeout)
        finally:
            consumer.close(autocommit=False)
    finally:
        repository.close()
