"""`wm dlq`: inspect and re-process messages the flush could not decode."""

from __future__ import annotations

from typing import Any

import click

from website_monitor.cli._options import load_settings, settings_options
from website_monitor.cli._output import echo_json


@click.group("dlq")
def command() -> None:
    """Dead letters: undecodable messages kept with their raw bytes and the reason."""


@command.command("list")
@click.option(
    "--limit",
    type=click.IntRange(1, 2**63 - 1),
    default=100,
    show_default=True,
    envvar="WM_DLQ_LIMIT",
    show_envvar=True,
)
@click.option("--indent", type=int, default=2, show_default=True, help="JSON indentation.")
@settings_options("store")
def list_(limit: int, indent: int, **kwargs: Any) -> None:
    """Print {"dead_letters": [...]}, oldest first: each with its reason and its value (as
    text, or base64 if not UTF-8)."""
    from website_monitor.deadletters import store
    from website_monitor.store import open_store

    settings = load_settings(kwargs)
    with open_store(settings.store.reading_url(), create=False) as repository:
        letters = [store.dump(letter) for letter in store.dead_letters(repository, limit=limit)]
    echo_json({"dead_letters": letters}, indent)


@command.command("replay")
@click.argument("ids", nargs=-1, type=click.IntRange(1, 2**63 - 1))
@settings_options("store")
def replay(ids: tuple[int, ...], **kwargs: Any) -> None:
    """Decode dead letters again (all, or the IDS given); store those that decode now."""
    from website_monitor.deadletters.replay import replay
    from website_monitor.store import open_store

    settings = load_settings(kwargs)
    with open_store(settings.store.effective_url()) as repository:
        report = replay(repository, ids)
    echo_json(report, None)
