"""`wm stations`: telemetry buckets per station and metric as JSON."""

from __future__ import annotations

from typing import Any

import click

from website_monitor.cli._options import load_settings, settings_options
from website_monitor.cli._output import echo_json
from website_monitor.config import parse_range


@click.command("stations")
@click.option(
    "--since",
    envvar="WM_STATIONS_SINCE",
    show_envvar=True,
    help="Buckets ending after this time: ISO 8601 or an age like 1h, 7d.",
)
@click.option(
    "--until",
    envvar="WM_STATIONS_UNTIL",
    show_envvar=True,
    help="Buckets starting before this time: ISO 8601 or an age.",
)
@click.option(
    "--station",
    "names",
    multiple=True,
    envvar="WM_STATIONS_STATION",
    show_envvar=True,
    help="Only this station or metric name; repeatable.",
)
@click.option(
    "--indent",
    type=int,
    default=2,
    show_default=True,
    envvar="WM_STATIONS_INDENT",
    show_envvar=True,
    help="JSON indentation (0: one line).",
)
@settings_options("store")
def command(
    since: str | None, until: str | None, names: tuple[str, ...], indent: int, **kwargs: Any
) -> None:
    """Print current and past telemetry buckets as {"stations": [...]}.

    Per station (llpp) or StatsD metric and bucket: counts, mean, population
    variance, min, max, first and last (milliseconds for service times and
    timers), percentiles for timers; `current` marks the open bucket.
    """
    from website_monitor.store import open_store
    from website_monitor.telemetry.queries import telemetry_document

    settings = load_settings(kwargs)
    start, end = parse_range(since, until)
    with open_store(settings.store.reading_url(), create=False) as repository:
        document = telemetry_document(repository, since=start, until=end, names=names)
    echo_json(document, indent)
