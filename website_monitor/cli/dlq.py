"""`wm dlq`: inspect and re-process messages the flush could not decode."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click

from website_monitor import deadletters
from website_monitor.cli._options import common_options, load_settings, store_options
from website_monitor.store import open_store


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
@store_options
@common_options
def list_(limit: int, **kwargs: Any) -> None:
    """Print dead letters as JSON lines (value as text, or base64 if not UTF-8)."""
    settings = load_settings(kwargs)
    with open_store(settings.store_url()) as repository:
        for letter in repository.dead_letters(limit=limit):
            click.echo(json.dumps(deadletters.as_json(letter)))


@command.command("replay")
@click.argument("ids", nargs=-1, type=click.IntRange(1, 2**63 - 1))
@store_options
@common_options
def replay(ids: tuple[int, ...], **kwargs: Any) -> None:
    """Decode dead letters again (all, or the IDS given); store those that decode now."""
    settings = load_settings(kwargs)
    with open_store(settings.store_url()) as repository:
        report = deadletters.replay(repository, ids)
    click.echo(json.dumps(dataclasses.asdict(report)))
