"""Reading one TOML table of the alerting configuration, with errors that name the key.

Every value is taken through a `Table`, which knows where the table is
(`wm.toml: [[alert]] "site down"`), checks each value's type and, once the
caller has read what it knows, refuses any key left over: a typo is one
`Error:` line naming the key, never a setting silently ignored.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from website_monitor.config import parse_duration
from website_monitor.errors import ConfigError


class Table:
    """The keys of one table, read one by one; `finish()` refuses those nobody read."""

    def __init__(self, values: Mapping[str, Any], where: str) -> None:
        self.values = dict(values)
        self.where = where
        self.read: set[str] = set()

    def error(self, key: str, message: str, hint: str | None = None) -> ConfigError:
        return ConfigError(f"{self.where}: {key}: {message}", hint=hint)

    def _get(self, key: str, required: bool) -> Any:
        self.read.add(key)
        if key not in self.values:
            if required:
                raise ConfigError(f"{self.where}: {key} is missing", hint=f"add {key} = …")
            return None
        return self.values[key]

    def has(self, key: str) -> bool:
        return key in self.values

    def text(self, key: str, *, required: bool = False, default: str | None = None) -> str | None:
        value = self._get(key, required)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected a non-empty string, got {_shown(value)}")
        return value

    def required_text(self, key: str) -> str:
        value = self.text(key, required=True)
        assert value is not None
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        """A list of strings (one string is a list of one)."""
        value = self._get(key, False)
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) and v for v in items):
            raise self.error(key, f"expected a list of strings, got {_shown(value)}")
        return tuple(items)

    def number(
        self, key: str, *, default: float | None = None, low: float | None = None
    ) -> float | None:
        value = self._get(key, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number, got {_shown(value)}")
        if low is not None and value < low:
            raise self.error(key, f"must be at least {low:g}, got {value!r}")
        return float(value)

    def integer(self, key: str, *, default: int, low: int = 1) -> int:
        value = self._get(key, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected a whole number, got {_shown(value)}")
        if value < low:
            raise self.error(key, f"must be at least {low}, got {value}")
        return value

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self._get(key, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_shown(value)}")
        return value

    def duration(self, key: str, *, positive: bool = True) -> float | None:
        """Seconds in `30s`, `5m`, `1h`, `7d` (or a number of seconds); None if absent."""
        value = self._get(key, False)
        if value is None:
            return None
        try:
            seconds = parse_duration(value)
        except ConfigError as exc:
            raise self.error(key, exc.message, exc.hint) from None
        if positive and seconds <= 0:
            raise self.error(key, f"must be positive, got {_shown(value)}")
        return seconds

    def choice(self, key: str, choices: tuple[str, ...], *, default: str) -> str:
        value = self.text(key, default=default)
        assert value is not None
        if value not in choices:
            raise self.error(key, f"unknown value {value!r}", hint="use " + ", ".join(choices))
        return value

    def strings(self, key: str) -> dict[str, str]:
        """A table of strings (extra headers, labels)."""
        value = self._get(key, False)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self.error(key, 'expected a table of strings, e.g. {team = "web"}')
        return dict(value)

    def finish(self) -> None:
        """Refuse any key nobody read."""
        for key in self.values:
            if key not in self.read:
                close = difflib.get_close_matches(key, sorted(self.read), n=1)
                hint = (
                    f"did you mean {close[0]!r}?"
                    if close
                    else "known keys: " + ", ".join(sorted(self.read))
                )
                raise ConfigError(f"{self.where}: unknown key {key!r}", hint=hint)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
