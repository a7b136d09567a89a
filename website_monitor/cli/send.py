"""`wm send`: send one llpp datagram (for testing a listener, or from shell scripts)."""

from __future__ import annotations

from typing import Any

import click

from website_monitor import config
from website_monitor.cli._options import load_settings, settings_options

KINDS = ("arrival", "departure", "status")


@click.command("send")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("text", required=False)
@click.option(
    "-s",
    "--station",
    required=True,
    envvar="WM_SEND_STATION",
    show_envvar=True,
    help="Station name (at most 255 bytes in UTF-8).",
)
@click.option(
    "--service-ms",
    type=float,
    envvar="WM_SEND_SERVICE_MS",
    show_envvar=True,
    help="Service time of a departure, in milliseconds.",
)
@click.option(
    "--to",
    default=config.declaration("listen.bind").default,  # where wm listen listens
    envvar="WM_SEND_TO",
    show_envvar=True,
    show_default=True,
    help="Address of the listener.",
)
@click.option(
    "--count",
    type=click.IntRange(1, 1_000_000),
    default=1,
    envvar="WM_SEND_COUNT",
    show_envvar=True,
    show_default=True,
    help="Send the datagram this many times.",
)
@settings_options()
def command(
    kind: str,
    text: str | None,
    station: str,
    service_ms: float | None,
    to: str,
    count: int,
    **kwargs: Any,
) -> None:
    """Send an llpp datagram: KIND is arrival, departure (with --service-ms) or status TEXT.

    \b
    wm send --station checkout arrival
    wm send --station checkout departure --service-ms 12.5
    wm send --station checkout status "degraded: db slow"

    UDP is fire and forget: success means the datagram left, not that a
    listener received it.
    """
    load_settings(kwargs)
    if kind == "departure" and service_ms is None:
        raise click.UsageError("a departure needs --service-ms")
    if kind != "departure" and service_ms is not None:
        raise click.UsageError("--service-ms applies to departures only")
    if kind == "status" and text is None:
        raise click.UsageError("a status needs its TEXT")
    if kind != "status" and text is not None:
        raise click.UsageError(f"unexpected TEXT {text!r}: only a status takes one")
    from website_monitor.telemetry.sender import Sender

    with Sender(to) as sender:
        for _ in range(count):
            if kind == "arrival":
                sender.arrival(station)
            elif kind == "departure":
                assert service_ms is not None
                sender.departure(station, service_ms)
            else:
                assert text is not None
                sender.status(station, text)
