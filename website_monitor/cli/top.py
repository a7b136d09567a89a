"""`wm top`: a live terminal view of the probes in the store."""

from __future__ import annotations

from typing import Any

import click

from website_monitor.cli._options import load_settings, settings_options


@click.command("top")
@settings_options("top", "store")
def command(**kwargs: Any) -> None:
    """Per URL: last status, p50/p95 and availability; hits/s per source over the last
    minute and open alerts; refreshed live; q quits."""
    from website_monitor import top
    from website_monitor.cli._signals import stop_on_signals
    from website_monitor.store import open_store

    settings = load_settings(kwargs)
    with (
        open_store(settings.store.reading_url(), create=False) as repository,
        stop_on_signals() as stop,
    ):
        top.run(
            repository,
            refresh=settings.top.refresh,
            window_seconds=settings.top.window,
            stop=stop,
        )
