"""Resolving settings: defaults < config file < environment < explicit values (flags).

Every source is read through the declarations, so a key, a variable and a flag
that name the same setting are checked and converted the same way, and an
error names where the bad value came from (`wm.toml:tail.interval`,
`WM_TOP_REFRESH`'s flag `--refresh`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from website_monitor.config.declare import Setting
from website_monitor.config.settings import DECLARATIONS, SECTIONS, Settings
from website_monitor.config.values import (
    format_duration,
    parse_bool,
    parse_duration,
    split_lines,
    split_list,
    split_paths,
)
from website_monitor.errors import ConfigError

CONFIG_ENVVAR = "WM_CONFIG"
#: Arrays of tables in the same file that are not settings: the alerting's
#: `[[notifier]]`, `[[alert]]`, `[[maintenance]]` and `[[slo]]` (`alerts.rules` reads them).
ALERTING_TABLES = ("notifier", "alert", "maintenance", "slo")

#: Each setting by its top-level config-file key (and the older spellings of some).
_BY_FILE_KEY: dict[str, Setting] = {
    key: declared for declared in DECLARATIONS for key in (declared.key, *declared.aliases)
}
#: Each setting by the names `resolve()` takes: its key, or `section.name`.
_BY_NAME: dict[str, Setting] = {
    **{declared.key: declared for declared in DECLARATIONS},
    **{declared.path_name: declared for declared in DECLARATIONS},
}


def declaration(name: str) -> Setting:
    """The setting `name` names: its key (`tail_interval`) or `section.name`
    (`tail.interval`). KeyError if there is none."""
    return _BY_NAME[name]


def resolve(
    explicit: Mapping[str, Any] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Merge defaults, config file, environment and explicit values into `Settings`.

    `explicit` holds values given on the command line, by key (`tail_interval`) or
    `section.name`; None or () means "not given". click has already folded environment
    variables into them, so the CLI passes `env={}`. Library users pass `env=os.environ`
    (the default) instead.
    """
    env = os.environ if env is None else env
    path = config_file or env.get(CONFIG_ENVVAR)
    values: dict[Setting, Any] = {}
    if path:
        values.update(_read_config_file(Path(path)))
    for declared in DECLARATIONS:
        for var in declared.env:
            if env.get(var):
                values[declared] = _coerce(declared, env[var], source=var)
                break
    for name, value in (explicit or {}).items():
        declared = declaration(name)
        if value is None or value == ():
            continue
        values[declared] = _coerce(declared, value, source=declared.flag)
    sections = {
        section: cls(**{d.name: v for d, v in values.items() if d.section == section})
        for section, (cls, _) in SECTIONS.items()
    }
    settings = Settings(**sections)
    _check(settings)
    return settings


def read_file(path: Path) -> dict[str, Any]:
    """The parsed config file (TOML), or a ConfigError saying why it cannot be read."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist", hint="check --config / WM_CONFIG"
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    return data


def _read_config_file(path: Path) -> dict[Setting, Any]:
    data = read_file(path)
    values: dict[Setting, Any] = {}
    settings = {key: value for key, value in data.items() if key not in ALERTING_TABLES}
    for table, key, value in _flatten(settings):
        shown = f"{table}.{key}" if table else key
        declared = _file_setting(table, key)
        if declared is None:
            raise ConfigError(f"unknown setting {shown!r} in {path}", hint=_known(table, key))
        values[declared] = _coerce(declared, value, source=f"{path}:{shown}")
    return values


def _flatten(data: Mapping[str, Any]) -> Iterable[tuple[str | None, str, Any]]:
    """Accept both flat keys and one level of tables (`[stream] topic = …`):
    (table or None, key, value) for each setting."""
    for key, value in data.items():
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                yield key, inner, inner_value
        else:
            yield None, key, value


def _file_setting(table: str | None, key: str) -> Setting | None:
    """The setting `key` names, in `table` if any: a command's table takes short keys
    (`[tail] interval` is `tail_interval`), any table takes the top-level keys
    (`[stream] topic` is `topic`). None if there is no such setting."""
    name = key.replace("-", "_")
    if table is not None:
        prefixed = _BY_FILE_KEY.get(f"{table.replace('-', '_')}_{name}")
        if prefixed is not None:
            return prefixed
    return _BY_FILE_KEY.get(name)


def _known(table: str | None, key: str) -> str:
    """What to say of an unknown key: the setting it was probably meant to be, or the list
    (of the table's own keys, in a command's table)."""
    import difflib

    keys = [declared.key for declared in DECLARATIONS]
    prefix = f"{(table or '').replace('-', '_')}_"
    own = sorted(name.removeprefix(prefix) for name in keys if name.startswith(prefix))
    known = own if table is not None and own else sorted(keys)
    close = difflib.get_close_matches(key.replace("-", "_"), known, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    where = f"keys in [{table}]" if known is own else "settings"
    return f"known {where}: {', '.join(known)}"


def _coerce(declared: Setting, value: Any, *, source: str) -> Any:
    """Turn a raw value from a file, the environment or a flag into the setting's type."""
    try:
        if value is None:
            return None
        if declared.duration:
            return parse_duration(value)
        if declared.kind is tuple:
            if declared.list_of == "paths":
                return split_paths(value)
            if declared.list_of == "lines":
                return split_lines(value)
            return split_list(value, urls=declared.list_of == "urls")
        if declared.kind is bool:
            return parse_bool(value)
        if declared.kind in (int, float):
            if isinstance(value, bool):
                noun = "an integer" if declared.kind is int else "a number"
                raise ValueError(f"expected {noun}, got {value!r}")
            return declared.kind(value)
        return str(value)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.message}", hint=exc.hint) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _check(settings: Settings) -> None:
    """Each setting against its declaration (files that must exist, choices, bounds), then
    what a section checks across its settings."""
    for declared in DECLARATIONS:
        value = getattr(getattr(settings, declared.section), declared.name)
        if value is None:
            continue
        if declared.path == "file" and not Path(value).is_file():
            raise ConfigError(f"{declared.flag}: file {value!r} does not exist")
        if declared.choices:
            _check_choice(declared, value)
        if declared.kind in (int, float):
            _check_bounds(declared, value)
    for section, _ in SECTIONS.items():
        check = getattr(getattr(settings, section), "check", None)
        if check is not None:
            check()


def _check_choice(declared: Setting, value: str) -> None:
    choices = declared.choices
    if declared.case_sensitive:
        known = value in choices
    else:
        known = value.lower() in {choice.lower() for choice in choices}
    if known:
        return
    if declared.invalid:
        message = declared.invalid.format(flag=declared.flag, value=value)
    else:
        message = f"unknown {declared.noun or declared.key.replace('_', ' ')} {value!r}"
    listed = ", ".join(choices[:-1]) + f" or {choices[-1]}" if len(choices) > 1 else choices[0]
    raise ConfigError(message, hint=declared.hint or f"use {listed}")


def _check_bounds(declared: Setting, value: float) -> None:
    low = value > 0 if declared.positive else declared.minimum is None or value >= declared.minimum
    high = declared.maximum is None or value <= declared.maximum
    if low and high:
        return
    if declared.invalid:
        raise ConfigError(
            declared.invalid.format(flag=declared.flag, value=value), hint=declared.hint
        )
    if declared.positive:
        at_most = (
            "" if declared.maximum is None else f" and at most {_bound(declared, declared.maximum)}"
        )
        text = f"must be positive{at_most}"
    elif not low:
        assert declared.minimum is not None
        text = f"must be at least {_bound(declared, declared.minimum)}"
    else:
        assert declared.maximum is not None
        text = f"must be at most {_bound(declared, declared.maximum)}"
    raise ConfigError(f"{declared.flag} {text}", hint=declared.hint)


def _bound(declared: Setting, bound: float) -> str:
    if declared.duration:
        return format_duration(bound)
    return str(int(bound)) if bound == int(bound) else str(bound)
