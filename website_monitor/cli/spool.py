"""`wm spool`: results kept locally while the broker or store was unreachable."""

from __future__ import annotations

from typing import Any

import click

from website_monitor.cli._options import load_settings, settings_options
from website_monitor.cli._output import echo_json


@click.group("spool")
def command() -> None:
    """Inspect and send results spooled during an outage (wm probe sends them too)."""


@command.command("status")
@settings_options("store", "stream")
def status(**kwargs: Any) -> None:
    """How many results wait in the spool for the configured destination."""
    from website_monitor.transport import destination
    from website_monitor.transport.spool import Spool

    settings = load_settings(kwargs)
    spool = Spool.for_destination(settings.store.data_path(), destination(settings))
    echo_json({"spool": str(spool.path), "waiting": len(spool)}, None)


@command.command("send")
@settings_options("store", "stream")
def send(**kwargs: Any) -> None:
    """Send the spooled results now; they are removed only once all were delivered."""
    from website_monitor.transport import destination, open_publisher
    from website_monitor.transport.spool import Spool

    settings = load_settings(kwargs)
    spool = Spool.for_destination(settings.store.data_path(), destination(settings))
    if not len(spool):
        click.echo("spool is empty")
        return
    publisher = open_publisher(settings)
    try:
        sent = spool.send(publisher)
    finally:
        publisher.close()
    click.echo(f"sent {sent} spooled results")
