"""How a setting is declared: once, with everything every layer needs to know of it.

A section of the settings is a frozen dataclass whose fields are made with
`setting()`: the field's annotation is the setting's type and its default the
built-in default; the rest (environment variables, flags, help, bounds…) rides
in the field's metadata. `collect()` turns a section into `Setting`
declarations, which the resolver, the command line and reference documentation
read.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, Literal

from website_monitor.config.values import format_duration, parse_duration

ListKind = Literal["items", "urls", "paths", "lines"]
PathKind = Literal["file", "dir"]


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting: where it lives, its type and default, and how every layer names it."""

    section: str
    """The section it belongs to: `settings.tail.interval` is in `tail`."""
    name: str
    """Its attribute in the section."""
    key: str
    """Its config-file key at the top level (`tail_interval`), and its name in `resolve()`
    and on the command's function."""
    table_key: str
    """Its key in the section's table of the config file: `[tail] interval`."""
    annotation: Any
    """The declared type, e.g. `float | None`."""
    kind: type
    """The type without None: bool, int, float, str, or tuple (a tuple of str)."""
    optional: bool
    default: Any
    flags: tuple[str, ...]
    """Its options: `-d`, `--db-connection-string`; `--ssl/--no-ssl` for a switch."""
    env: tuple[str, ...]
    """The environment variables that set it, the first set one winning."""
    help: str
    aliases: tuple[str, ...] = ()
    """Other top-level keys the config file may use for it."""
    shown: str | None = None
    """The default as written on the command line (`10s`), when not just `str(default)`."""
    described_default: str | None = None
    """In words, a default computed at run time (`SQLite in the data directory`)."""
    secret: bool = False
    """Never printed: not in `--help`, not in `repr`, not in logs."""
    duration: bool = False
    """Seconds, written `500ms`, `30s`, `5m`, `1h`, `7d` or as a bare number."""
    choices: tuple[str, ...] = ()
    case_sensitive: bool = True
    noun: str | None = None
    """What an unknown choice is called in errors: `unknown log level 'x'`."""
    minimum: float | None = None
    maximum: float | None = None
    positive: bool = False
    invalid: str | None = None
    """How an error words a value out of bounds or choices, when not the usual way: a
    template with `{flag}` and `{value}`."""
    hint: str | None = None
    """The hint of an error about a value out of bounds or choices."""
    list_of: ListKind = "items"
    """How a list is split: items on commas and blanks, URLs on blanks and commas before
    a scheme, paths (a list item by item, a string on blanks), lines (a list item by item,
    a string one item per line: for values that hold blanks and commas)."""
    path: PathKind | None = None
    """A file that must exist, or a directory."""
    multiple: bool = False
    """The flag may be repeated."""
    argument: str | None = None
    """Given as the command's arguments (with this metavar) rather than a flag."""
    metavar: str | None = None
    label: str | None = None
    """How errors name it, when its flag is ambiguous."""

    @property
    def path_name(self) -> str:
        """`section.name`, as Python code reads it."""
        return f"{self.section}.{self.name}"

    @property
    def file_keys(self) -> tuple[str, ...]:
        """Every way the config file names it: `tail_interval`, `tail.interval`."""
        return (self.key, *self.aliases, f"{self.section}.{self.table_key}")

    @property
    def flag(self) -> str:
        """How errors name it: the declared label, FILE for an argument, or its long flag."""
        if self.label:
            return self.label
        if self.argument:
            return self.argument.rstrip(".")
        longs = [f for flags in self.flags for f in flags.split("/") if f.startswith("--")]
        return longs[0] if longs else "--" + self.key.replace("_", "-")

    @property
    def shown_default(self) -> str | None:
        """The default as written on the command line, or None when there is none."""
        if self.shown is not None:
            return self.shown
        if self.default is None or self.default == ():
            return None
        if self.duration:
            return format_duration(self.default)
        if self.kind is bool:
            return "true" if self.default else "false"
        return str(self.default)

    @property
    def type_name(self) -> str:
        """The type for a reference: `duration`, `int`, `list of str`, `str | None`…"""
        if self.duration:
            text = "duration"
        elif self.kind is tuple:
            text = "list of str"
        else:
            text = self.kind.__name__
        return f"{text} | None" if self.optional else text


def setting(
    default: Any,
    *flags: str,
    env: str | tuple[str, ...],
    help: str,
    key: str | None = None,
    aliases: tuple[str, ...] = (),
    described_default: str | None = None,
    secret: bool = False,
    duration: bool = False,
    choices: tuple[str, ...] = (),
    case_sensitive: bool = True,
    noun: str | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    positive: bool = False,
    invalid: str | None = None,
    hint: str | None = None,
    list_of: ListKind = "items",
    path: PathKind | None = None,
    multiple: bool = False,
    argument: str | None = None,
    metavar: str | None = None,
    label: str | None = None,
) -> Any:
    """Declare a setting as a field of a section (see `Setting` for each part). A duration's
    default may be written as on the command line (`"10s"`), and is shown that way."""
    shown = None
    if duration and isinstance(default, str):
        shown, default = default, parse_duration(default)
    declared = {
        "key": key,
        "shown": shown,
        "flags": flags,
        "env": (env,) if isinstance(env, str) else env,
        "help": help,
        "aliases": aliases,
        "described_default": described_default,
        "secret": secret,
        "duration": duration,
        "choices": choices,
        "case_sensitive": case_sensitive,
        "noun": noun,
        "minimum": minimum,
        "maximum": maximum,
        "positive": positive,
        "invalid": invalid,
        "hint": hint,
        "list_of": list_of,
        "path": path,
        "multiple": multiple,
        "argument": argument,
        "metavar": metavar,
        "label": label,
    }
    return dataclasses.field(default=default, metadata={"setting": declared})


def collect(section: str, cls: type, *, prefixed: bool) -> tuple[Setting, ...]:
    """The declarations of the section `cls`, in the order they are written.

    With `prefixed`, top-level keys carry the section's name (`tail_interval`, and
    `interval` in `[tail]`); otherwise a key is the setting's own name unless declared
    (`db_connection_string`), the same at the top level and in the table.
    """
    hints = typing.get_type_hints(cls)
    declared = []
    for field in dataclasses.fields(cls):
        given = dict(field.metadata["setting"])
        annotation = hints[field.name]
        kind, optional = _base(annotation)
        key = given.pop("key") or (f"{section}_{field.name}" if prefixed else field.name)
        declared.append(
            Setting(
                section=section,
                name=field.name,
                key=key,
                table_key=key.removeprefix(f"{section}_") if prefixed else key,
                annotation=annotation,
                kind=kind,
                optional=optional,
                default=field.default,
                **given,
            )
        )
    return tuple(declared)


def _base(annotation: Any) -> tuple[type, bool]:
    """(the type without None, whether None is allowed) of `int | None`, `tuple[str, ...]`…"""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        rest = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"a setting has one type besides None, not {annotation}")
        return _base(rest[0])[0], True
    origin = typing.get_origin(annotation) or annotation
    if origin not in (bool, int, float, str, tuple):
        raise TypeError(f"unsupported setting type {annotation}")
    return origin, False


def without_secrets(section: Any) -> str:
    """A section's repr, each secret that is set shown as *** (a connection string keeps
    everything but its password)."""
    shown = []
    for field in dataclasses.fields(section):
        value = getattr(section, field.name)
        declared = field.metadata["setting"]
        if declared["secret"] and value:
            if declared["key"] == "db_connection_string":
                from website_monitor.store.url import redact

                value = redact(value)
            else:
                value = "***"
        shown.append(f"{field.name}={value!r}")
    return f"{type(section).__name__}({', '.join(shown)})"
