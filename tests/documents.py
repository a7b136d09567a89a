"""Tests compare what users see: the JSON form of the typed documents the queries return."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec


def plain(document: Any) -> Any:
    """A typed document (or a list of them) as the JSON-ready data the CLI prints."""
    return msgspec.to_builtins(document)


def as_plain(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, returning plain data."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return plain(function(*args, **kwargs))

    return call
