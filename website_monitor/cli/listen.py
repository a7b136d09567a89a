"""`wm listen`: receive llpp and StatsD datagrams over UDP, aggregate, publish buckets."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from website_monitor.cli._options import (
    common_options,
    load_settings,
    setting_option,
    store_options,
    stream_options,
)
from website_monitor.cli._signals import stop_on_signals
from website_monitor.errors import DeliveryError
from website_monitor.telemetry.net import DEFAULT_ADDRESS, parse_address
from website_monitor.telemetry.udp import RECEIVE_BUFFER

TELEMETRY_TOPIC = "telemetry"


@click.command("listen")
@setting_option(
    "listen_bind",
    "--bind",
    default=DEFAULT_ADDRESS,
    show_default=True,
    help="UDP address to listen on. Loopback by default; name another interface "
    "explicitly (0.0.0.0:8125 for all) to accept remote senders.",
)
@setting_option(
    "listen_bucket",
    "--bucket",
    default="10m",
    show_default=True,
    help="Length of an aggregation bucket, whole seconds: 60s, 10m, 1h.",
)
@setting_option(
    "listen_flush_interval",
    "--flush-interval",
    default="10s",
    show_default=True,
    help="How often open buckets are published (their change since the last flush).",
)
@setting_option(
    "listen_report_interval",
    "--report-interval",
    default="60s",
    show_default=True,
    help="How often a progress line (with drops and bad datagrams per reason) is logged.",
)
@setting_option(
    "listen_receive_buffer",
    "--receive-buffer",
    type=click.IntRange(1024, 2**31 - 1),
    default=RECEIVE_BUFFER,
    show_default=True,
    help="Socket receive buffer to ask for (SO_RCVBUF), in bytes. Linux doubles it for its "
    "bookkeeping and caps it at net.core.rmem_max; the start-up line logs what was granted.",
)
@store_options
@stream_options
@common_options
def command(**kwargs: Any) -> None:
    """Receive llpp and StatsD datagrams on UDP and store per-station buckets.

    With a bootstrap server the buckets go to Kafka, topic `telemetry` (or
    -t/--topic given on the command line; WM_STREAM_TOPIC names the probe
    topic and is not used here), for `wm flush`; without one they are written
    to the store directly. SIGTERM or Ctrl-C flushes every open bucket and
    exits 0.
    """
    ctx = click.get_current_context()
    given_topic = ctx.get_parameter_source("topic") == ParameterSource.COMMANDLINE
    topic = kwargs["topic"] if given_topic else TELEMETRY_TOPIC
    from website_monitor.telemetry.listener import Listener
    from website_monitor.transport import open_publisher

    settings = load_settings(kwargs)
    address = parse_address(settings.listen_bind)
    publisher = open_publisher(settings, topic=topic)
    try:
        listener = Listener(
            publisher,
            bind=address,
            bucket_seconds=int(settings.listen_bucket),
            flush_interval=settings.listen_flush_interval,
            report_interval=settings.listen_report_interval,
            receive_buffer=settings.listen_receive_buffer,
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
