"""`wm listen`: receive llpp and StatsD datagrams over UDP, aggregate, publish buckets."""

from __future__ import annotations

from typing import Any

import click

from website_monitor.cli._options import given, load_settings, settings_options
from website_monitor.errors import DeliveryError

TELEMETRY_TOPIC = "telemetry"


@click.command("listen")
@settings_options(
    "listen",
    "store",
    "stream",
    shown_defaults={"topic": TELEMETRY_TOPIC},
    helps={"topic": "Kafka topic of the buckets."},
    envvars={"topic": "WM_LISTEN_TOPIC"},
)
def command(**kwargs: Any) -> None:
    """Receive llpp and StatsD datagrams on UDP and store per-station buckets.

    With a bootstrap server the buckets go to Kafka, topic `telemetry` (or
    -t/--topic, WM_LISTEN_TOPIC; WM_STREAM_TOPIC names the probe topic and is
    not used here), for `wm flush`; without one they are written
    to the store directly. SIGTERM or Ctrl-C flushes every open bucket and
    exits 0.
    """
    from website_monitor.cli._signals import stop_on_signals
    from website_monitor.telemetry.listener import Listener
    from website_monitor.telemetry.net import parse_address
    from website_monitor.transport import open_publisher

    topic = kwargs["topic"] if given("topic") else TELEMETRY_TOPIC
    settings = load_settings(kwargs)
    address = parse_address(settings.listen.bind)
    publisher = open_publisher(settings, topic=topic)
    try:
        listener = Listener(
            publisher,
            bind=address,
            bucket_seconds=int(settings.listen.bucket),
            flush_interval=settings.listen.flush_interval,
            report_interval=settings.listen.report_interval,
            receive_buffer=settings.listen.receive_buffer,
        )
        with stop_on_signals() as stop:
            published = listener.run(stop)
    finally:
        publisher.close()
    if not published:
        raise DeliveryError(
            f"{listener.stats.unpublished} bucket deltas could not be published before exit",
            hint="check the store or -b/--bootstrap-server; the progress log names the failure",
        )
