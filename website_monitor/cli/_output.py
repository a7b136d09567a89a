"""Printing documents: every command's JSON comes from the same typed documents as the API."""

from __future__ import annotations

from typing import Any

import click


def echo_json(document: Any, indent: int | None = 2) -> None:
    """Print `document` (a typed document, or plain data) as JSON; indent 0 or None: one line."""
    import msgspec

    text = msgspec.json.encode(document)
    if indent:
        text = msgspec.json.format(text, indent=indent)
    click.echo(text.decode())
