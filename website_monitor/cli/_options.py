"""Command-line options generated from the settings' declarations.

A command names the sections (or single settings) it takes; each becomes an
option with the setting's flags, environment variables, type, help and default
(`website_monitor.config.declare`), so `--help` always tells the truth and no
name is written twice. A default shown in `--help` counts as "not given" when
the command runs, so the config file still applies under it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from website_monitor import config
from website_monitor.config import Setting, Settings

F = TypeVar("F", bound=Callable[..., Any])


class SettingOption(click.Option):
    """An option that sets one setting; `setting` is its declaration."""

    def __init__(self, *args: Any, setting: Setting, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setting = setting


class SettingArgument(click.Argument):
    """The command's arguments, when they are a setting (`wm tail FILE...`)."""

    def __init__(self, *args: Any, setting: Setting, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.setting = setting


class _Lines(click.types.StringParamType):
    """A repeatable option whose environment variable holds one value per line."""

    envvar_list_splitter = "\n"


def _click_type(declared: Setting) -> Any:
    if declared.list_of == "lines":
        return _Lines()
    if declared.choices:
        return click.Choice(list(declared.choices), case_sensitive=declared.case_sensitive)
    if declared.path == "file":
        return click.Path(exists=True, dir_okay=False)
    if declared.path == "dir":
        return click.Path(file_okay=False)
    if declared.duration or declared.kind in (str, tuple):
        return click.STRING  # durations and lists are read by the configuration layer
    if declared.kind is int and (declared.minimum is not None or declared.maximum is not None):
        return click.IntRange(declared.minimum, declared.maximum)  # type: ignore[arg-type]
    return declared.kind


def setting_param(
    declared: Setting,
    *,
    shown_default: str | None = None,
    help: str | None = None,
    envvar: str | None = None,
) -> Callable[[F], F]:
    """The option (or arguments) for one setting. `shown_default`, `help` and `envvar`
    replace what `--help` says and where the value comes from when a command uses the
    setting its own way (`wm listen -t`, WM_LISTEN_TOPIC)."""
    if declared.argument:
        return click.argument(
            declared.key,
            cls=SettingArgument,
            setting=declared,
            nargs=-1,
            metavar=declared.argument,
            envvar=list(declared.env),
        )
    kwargs: dict[str, Any] = {
        "cls": SettingOption,
        "setting": declared,
        "envvar": [envvar] if envvar else list(declared.env),
        "show_envvar": True,
        "help": help or declared.help,
        "metavar": declared.metavar or ("DURATION" if declared.duration else None),
    }
    if declared.kind is bool:
        kwargs.update(is_flag=True, default=declared.default, show_default=True)
    else:
        kwargs.update(type=_click_type(declared), multiple=declared.multiple)
    if shown_default is not None:
        kwargs.update(default=None, show_default=shown_default)
    elif declared.described_default is not None:
        kwargs.update(default=None, show_default=declared.described_default)
    elif declared.kind is not bool and not declared.secret and not declared.multiple:
        kwargs.update(default=declared.shown_default, show_default=True)
    return click.option(*declared.flags, declared.key, **kwargs)


def _selected(selectors: tuple[str, ...]) -> list[Setting]:
    chosen: list[Setting] = []
    for selector in selectors:
        if "." in selector:
            chosen.append(config.declaration(selector))
        elif selector in config.SECTIONS:
            chosen.extend(d for d in config.DECLARATIONS if d.section == selector)
        else:
            raise KeyError(selector)
    return chosen


def settings_options(
    *selectors: str,
    shown_defaults: Mapping[str, str] | None = None,
    helps: Mapping[str, str] | None = None,
    envvars: Mapping[str, str] | None = None,
) -> Callable[[F], F]:
    """The options of the settings a command takes: whole sections (`"tail"`, `"store"`)
    or single settings (`"stream.topic"`), in that order; then --config and the logging
    options, which every command takes. `shown_defaults` and `helps`, by setting key,
    say what a command does differently with a shared setting, `envvars` the environment
    variable it reads it from instead."""
    shown_defaults = shown_defaults or {}
    helps = helps or {}
    envvars = envvars or {}
    params = [
        setting_param(
            d,
            shown_default=shown_defaults.get(d.key),
            help=helps.get(d.key),
            envvar=envvars.get(d.key),
        )
        for d in _selected((*selectors, "log"))
    ]
    config_option = click.option(
        "--config",
        "config_file",
        envvar=config.CONFIG_ENVVAR,
        show_envvar=True,
        type=click.Path(exists=True, dir_okay=False),
        help="Settings file (TOML); flags and environment override it.",
    )
    params.insert(len(params) - 2, config_option)  # before the logging options, as always

    def decorate(func: F) -> F:
        for param in reversed(params):
            func = param(func)
        return func

    return decorate


def given(name: str) -> bool:
    """Whether the option `name` of the running command was given (on the command line or
    in its environment variable), rather than left at its default."""
    source = click.get_current_context().get_parameter_source(name)
    return source in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)


def load_settings(kwargs: dict[str, Any], explicit: Mapping[str, Any] | None = None) -> Settings:
    """Resolve settings from the command's options and set up logging.

    Settings options are removed from `kwargs`; what stays is the command's own. An
    option left at its default counts as not given. `explicit` adds values the command
    worked out from its own arguments (by setting key).
    """
    from website_monitor import log

    config_file = kwargs.pop("config_file", None)
    ctx = click.get_current_context()
    values: dict[str, Any] = {}
    for param in ctx.command.params:
        declared = getattr(param, "setting", None)
        if declared is None or param.name is None:
            continue
        value = kwargs.pop(param.name)
        if ctx.get_parameter_source(param.name) is not ParameterSource.DEFAULT:
            values[declared.key] = value
    values.update(explicit or {})
    settings = config.resolve(values, config_file=config_file, env={})
    secrets = (*log.secrets_of(settings), *log.environment_secrets(os.environ))
    log.setup(settings.log.level, settings.log.format, secrets)
    return settings
