"""`wm flush`: consume results from Kafka into the store."""

from __future__ import annotations

from typing import Any

import click

from website_monitor.cli._options import (
    common_options,
    consumer_options,
    load_settings,
    setting_option,
    store_options,
    stream_options,
)
from website_monitor.cli._signals import stop_on_signals
from website_monitor.errors import ConfigError


@click.command("flush")
@setting_option(
    "batch_size",
    "--batch-size",
    type=click.IntRange(1, 100_000),
    help="Messages stored per transaction.  [default: 10000]",
)
@setting_option(
    "drain",
    "--drain/--follow",
    is_flag=True,
    help="Exit once caught up (for cron) instead of running until stopped.",
)
@setting_option(
    "idle_timeout",
    "--idle-timeout",
    help="With --drain: caught up after this long without a message.  [default: 3s]",
)
@click.option(
    "--session-timeout-ms",
    type=click.IntRange(1000, 300_000),
    default=10_000,
    envvar="WM_STREAM_SESSION_TIMEOUT_MS",
    show_envvar=True,
    show_default=True,
    help="Kafka consumer session timeout.",
)
@store_options
@stream_options
@consumer_options
@common_options
def command(session_timeout_ms: int, **kwargs: Any) -> None:
    """Consume probe results from Kafka and store them.

    Batches are committed to the database before their offsets are committed to
    Kafka, and rows are unique by event id, so a crash never loses or
    duplicates a result. Undecodable messages go to the dead_letters table.
    SIGTERM or Ctrl-C finishes the current batch and exits 0.
    """
    from website_monitor.store import open_store
    from website_monitor.transport.kafka import open_consumer
    from website_monitor.transport.sink import Sink

    settings = load_settings(kwargs)
    if not settings.uses_kafka:
        raise ConfigError(
            "wm flush needs a Kafka bootstrap server",
            hint="give -b/--bootstrap-server or WM_STREAM_BOOTSTRAP_SERVER; "
            "without Kafka, wm probe writes to the store directly",
        )
    repository = open_store(settings.store_url())
    try:
        consumer = open_consumer(settings, settings.topic, session_timeout_ms=session_timeout_ms)
        try:
            with stop_on_signals() as stop:
                sink = Sink(
                    consumer,
                    repository,
                    batch_size=settings.batch_size,
                    keep_raw=settings.keep_raw,
                    keep_dead_letters=settings.keep_dead_letters,
                )
                sink.run(stop, drain=settings.drain, idle_timeout=settings.idle_timeout)
        finally:
            consumer.close(autocommit=False)
    finally:
        repository.close()
