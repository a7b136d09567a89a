"""`wm top`: a live terminal view of the probes in the store."""

from __future__ import annotations

from typing import Any

import click

from website_monitor import top
from website_monitor.cli._options import common_options, load_settings, store_options
from website_monitor.cli._signals import stop_on_signals
from website_monitor.config import parse_positive_duration
from website_monitor.store import open_store


@click.command("top")
@click.option(
    "--refresh",
    default="2s",
    show_default=True,
    envvar="WM_TOP_REFRESH",
    show_envvar=True,
    help="Time between refreshes (500ms, 2s, 1m…).",
)
@click.option(
    "--window",
    default="1h",
    show_default=True,
    envvar="WM_TOP_WINDOW",
    show_envvar=True,
    help="Percentiles and availability over this recent window.",
)
@store_options
@common_options
def command(refresh: str, window: str, **kwargs: Any) -> None:
    """Per URL: last status, p50/p95 and availability; hits/s per source over the last
    minute and open alerts; refreshed live; q quits."""
    settings = load_settings(kwargs)
    refresh_s = parse_positive_duration(refresh, "--refresh")
    window_s = parse_positive_duration(window, "--window")
    with open_store(settings.store_url()) as repository, stop_on_signals() as stop:
        top.run(repository, refresh=refresh_s, window_seconds=window_s, stop=stop)
