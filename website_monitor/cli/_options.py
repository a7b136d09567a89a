"""Options shared by several commands, declared once.

Every option names the environment variables from `config.Settings`, so
`--help` shows them and the names cannot drift from the configuration layer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from website_monitor import config, log
from website_monitor.config import Settings

F = TypeVar("F", bound=Callable[..., Any])


def setting_option(name: str, *decls: str, **kwargs: Any) -> Callable[[F], F]:
    """A click option for the setting `name`, fed by that setting's environment variables.

    A `default` given here is only shown in `--help`: a value click takes from it counts
    as not given, so the config file still applies (see `load_settings`). It must be the
    setting's own default, written as on the command line.
    """
    kwargs.setdefault("default", None)
    return click.option(*decls, name, envvar=list(config.envvars(name)), show_envvar=True, **kwargs)


def _apply(func: F, decorators: list[Callable[[F], F]]) -> F:
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


existing_file = click.Path(exists=True, dir_okay=False)


def common_options(func: F) -> F:
    """--config and logging, on every command."""
    return _apply(
        func,
        [
            click.option(
                "--config",
                "config_file",
                envvar=config.CONFIG_ENVVAR,
                show_envvar=True,
                type=existing_file,
                help="Settings file (TOML); flags and environment override it.",
            ),
            setting_option(
                "log_level",
                "--log-level",
                type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
                help="Log verbosity (stderr).  [default: info]",
            ),
            setting_option(
                "log_format",
                "--log-format",
                type=click.Choice(["text", "json"]),
                help="Log as text or one JSON object per line.  [default: text]",
            ),
        ],
    )


def store_options(func: F) -> F:
    return _apply(
        func,
        [
            setting_option(
                "db_connection_string",
                "-d",
                "--db-connection-string",
                help="postgresql://user:pw@host:5432/db or sqlite:///path.db "
                "[default: SQLite in the data directory]",
            ),
            setting_option(
                "data_dir",
                "--data-dir",
                type=click.Path(file_okay=False),
                help="Where the embedded store and spool live.",
            ),
        ],
    )


def stream_options(func: F) -> F:
    return _apply(
        func,
        [
            setting_option(
                "bootstrap_servers",
                "-b",
                "--bootstrap-server",
                help="Kafka bootstrap server(s), host:port, comma-separated. "
                "Without one, results are written to the store directly.",
            ),
            setting_option("topic", "-t", "--topic", help="Kafka topic.  [default: probes]"),
            setting_option(
                "ssl", "--ssl/--no-ssl", is_flag=True, help="Connect to Kafka over TLS."
            ),
            setting_option(
                "ssl_cafile", "-ca", "--ssl-cafile", type=existing_file, help="CA file (PEM)."
            ),
            setting_option(
                "ssl_certfile",
                "-ce",
                "--ssl-certfile",
                type=existing_file,
                help="Client certificate (PEM).",
            ),
            setting_option(
                "ssl_keyfile", "-k", "--ssl-keyfile", type=existing_file, help="Client key (PEM)."
            ),
            setting_option(
                "sasl_mechanism",
                "--sasl-mechanism",
                type=click.Choice(list(config.SASL_MECHANISMS), case_sensitive=False),
                help="SASL mechanism for Kafka.",
            ),
            setting_option("sasl_username", "--sasl-username", help="SASL user name."),
            setting_option(
                "sasl_password", "--sasl-password", help="SASL password (prefer the env var)."
            ),
        ],
    )


def consumer_options(func: F) -> F:
    return setting_option(
        "consumer_group_id",
        "-c",
        "--consumer-group-id",
        help="Kafka consumer group.  [default: wm-flush]",
    )(func)


def load_settings(kwargs: dict[str, Any]) -> Settings:
    """Resolve settings from the command's options and set up logging.

    Settings options are removed from `kwargs`; what stays is the command's own.
    """
    config_file = kwargs.pop("config_file", None)
    explicit = {name: kwargs.pop(name) for name in list(kwargs) if name in config.FIELDS}
    ctx = click.get_current_context()
    for param in ctx.command.params:
        name = param.name
        if (
            name in explicit
            and ctx.get_parameter_source(name) is ParameterSource.DEFAULT
            and explicit[name] == param.get_default(ctx)  # not rewritten by the command
        ):
            explicit[name] = None
    settings = config.resolve(explicit, config_file=config_file, env={})
    log.setup(settings.log_level, settings.log_format, log.secrets_of(settings))
    return settings
