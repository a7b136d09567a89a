"""The `wm` command line: a thin layer of options over the library.

Each command lives in its own module; this one assembles them and turns the
library's errors into one `Error:` line with a hint and a non-zero exit.
"""

from __future__ import annotations

from typing import Any

import click

from website_monitor import __version__
from website_monitor.errors import WebsiteMonitorError


def error_line(exc: WebsiteMonitorError) -> str:
    return f"{exc.message} (hint: {exc.hint})" if exc.hint else exc.message


class WMGroup(click.Group):
    """A group that reports the library's own errors without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except WebsiteMonitorError as exc:
            raise click.ClickException(error_line(exc)) from None


@click.group(cls=WMGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="wm")
def main() -> None:
    """website-monitor: probe web services, move results through Kafka, ask the store."""


def _register() -> None:
    from website_monitor.cli import (
        alert,
        alerts,
        db,
        dlq,
        flush,
        incidents,
        listen,
        probe,
        send,
        serve,
        slo,
        spool,
        stations,
        stats,
        tail,
        top,
    )

    commands = (probe, flush, stats, db, dlq, spool, tail, alerts, listen, send, stations)
    alerting = (alert, incidents, slo)
    for module in (*commands, *alerting, serve, top):
        main.add_command(module.command)


_register()
