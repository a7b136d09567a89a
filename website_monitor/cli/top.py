"""`wm top`: a live terminal view of the probes in the store."""

from __future__ import annotations

from typing import Any

import click

from website_monitor.cli._options import (
    common_options,
    load_settings,
    setting_option,
    store_options,
)
from website_monitor.cli._signals import stop_on_signals


@click.command("top")
@setting_option(
    "top_refresh",
    "--refresh",
    default="2s",
    show_default=True,
    help="Time between refreshes (500ms, 2s, 1m…).",
)
@setting_option(
    "top_window",
    "--window",
    default="1h",
    show_default=True,
    help="Percentiles and availability over this recent window.",
)
@store_options
@common_options
def command(**kwargs: Any) -> None:
    """Per URL: last status, p50/p95 and availability; hits/s per source over the last
    minute and open alerts; refreshed live; q quits."""
    from website_monitor import top
    from website_monitor.store import open_store

    settings = load_settings(kwargs)
    with open_store(settings.store_url()) as repository, stop_on_signals() as stop:
        top.run(
            repository,
            refresh=settings.top_refresh,
            window_seconds=settings.top_window,
            stop=stop,
        )
