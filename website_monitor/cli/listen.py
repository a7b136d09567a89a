"""`wm listen`: receive llpp and StatsD datagrams over UDP, aggregate, publish buckets."""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from website_monitor.cli._options import (
    common_options,
    load_settings,
    store_options,
    stream_options,
)
from website_monitor.cli._signals import stop_on_signals
from website_monitor.config import parse_positive_duration
from website_monitor.errors import ConfigError, DeliveryError
from website_monitor.telemetry.listener import Listener
from website_monitor.telemetry.net import DEFAULT_ADDRESS, parse_address
from website_monitor.transport import open_publisher

TELEMETRY_TOPIC = "telemetry"


@click.command("listen")
@click.option(
    "--bind",
    envvar="WM_LISTEN_BIND",
    show_envvar=True,
    default=DEFAULT_ADDRESS,
    show_default=True,
    help="UDP address to listen on. Loopback by default; name another interface "
    "explicitly (0.0.0.0:8125 for all) to accept remote senders.",
)
@click.option(
    "--bucket",
    envvar="WM_LISTEN_BUCKET",
    show_envvar=True,
    default="10m",
    show_default=True,
    help="Length of an aggregation bucket, whole seconds: 60s, 10m, 1h.",
)
@click.option(
    "--flush-interval",
    envvar="WM_LISTEN_FLUSH_INTERVAL",
    show_envvar=True,
    default="10s",
    show_default=True,
    help="How often open buckets are published (their change since the last flush).",
)
@click.option(
    "--report-interval",
    envvar="WM_LISTEN_REPORT_INTERVAL",
    show_envvar=True,
    default="60s",
    show_default=True,
    help="How often a progress line (with bad datagrams per reason) is logged.",
)
@store_options
@stream_options
@common_options
def command(
    bind: str, bucket: str, flush_interval: str, report_interval: str, **kwargs: Any
) -> None:
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
    settings = load_settings(kwargs)
    address = parse_address(bind)
    bucket_seconds = parse_positive_duration(bucket, "--bucket")
    if bucket_seconds != int(bucket_seconds) or bucket_seconds < 1:
        raise ConfigError(f"--bucket {bucket!r} is not a whole number of seconds (at least 1s)")
    flush_every = parse_positive_duration(flush_interval, "--flush-interval")
    report_every = parse_positive_duration(report_interval, "--report-interval")
    publisher = open_publisher(settings, topic=topic)
    try:
        listener = Listener(
            publisher,
            bind=address,
            bucket_seconds=int(bucket_seconds),
            flush_interval=flush_every,
            report_interval=report_every,
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
