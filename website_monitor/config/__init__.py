"""The configuration layer shared by every command.

Precedence, lowest first: built-in defaults < config file (`wm.toml`) <
environment < command-line flags. Each setting is declared once, in a section of
`Settings` (`settings.store.url`, `settings.tail.interval`), with its type,
default, environment variables, flags and help; `DECLARATIONS` lists them all,
and the command line, the config file and the environment are read from them,
so their names cannot drift apart.

Importing this package is cheap (no third-party module): every command does it.
"""

from __future__ import annotations

from website_monitor.config.commands import (
    TAIL_CLOCKS,
    TAIL_FORMATS,
    FlushSettings,
    ListenSettings,
    ProbeSettings,
    ServeSettings,
    TailSettings,
    TopSettings,
)
from website_monitor.config.declare import Setting
from website_monitor.config.resolve import (
    ALERTING_TABLES,
    CONFIG_ENVVAR,
    declaration,
    resolve,
)
from website_monitor.config.settings import DECLARATIONS, SECTIONS, Settings
from website_monitor.config.shared import (
    APP_NAME,
    DATA_DIR_ENVVAR,
    LOG_LEVELS,
    SASL_MECHANISMS,
    LogSettings,
    RetentionSettings,
    StoreSettings,
    StreamSettings,
)
from website_monitor.config.values import (
    DURATION_HINT,
    MAX_DURATION,
    format_duration,
    parse_duration,
    parse_range,
    parse_time,
    split_list,
)

__all__ = [
    "ALERTING_TABLES",
    "APP_NAME",
    "CONFIG_ENVVAR",
    "DATA_DIR_ENVVAR",
    "DECLARATIONS",
    "DURATION_HINT",
    "LOG_LEVELS",
    "MAX_DURATION",
    "SASL_MECHANISMS",
    "SECTIONS",
    "TAIL_CLOCKS",
    "TAIL_FORMATS",
    "FlushSettings",
    "ListenSettings",
    "LogSettings",
    "ProbeSettings",
    "RetentionSettings",
    "ServeSettings",
    "Setting",
    "Settings",
    "StoreSettings",
    "StreamSettings",
    "TailSettings",
    "TopSettings",
    "declaration",
    "format_duration",
    "parse_duration",
    "parse_range",
    "parse_time",
    "resolve",
    "split_list",
]
