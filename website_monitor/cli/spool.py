"""`wm spool`: results kept locally while the broker or store was unreachable."""

from __future__ import annotations

from typing import Any

import click

from website_monitor.cli._options import (
    common_options,
    load_settings,
    store_options,
    stream_options,
)
from website_monitor.cli._output import echo_json
from website_monitor.transport import destination, open_publisher
from website_monitor.transport.spool import Spool


@click.group("spool")
def command() -> None:
    """Inspect and send results spooled during an outage (wm probe sends them too)."""


@command.command("status")
@store_options
@stream_options
@common_options
def status(**kwargs: Any) -> None:
    """How many results wait in the spool for the configured destination."""
    settings = load_settings(kwargs)
    spool = Spool.for_destination(settings.data_path(), destination(settings))
    echo_json({"spool": str(spool.path), "waiting": len(spool)}, None)


@command.command("send")
@store_options
@stream_options
@common_options
def send(**kwargs: Any) -> None:
    """Send the spooled results now; they are removed only once all were delivered."""
    settings = load_settings(kwargs)
    spool = Spool.for_destination(settings.data_path(), destination(settings))
    if not len(spool):
        click.echo("spool is empty")
        return
    publisher = open_publisher(settings)
    try:
        sent = spool.send(publisher)
    finally:
        publisher.close()
    click.echo(f"sent {sent} spooled results")
