"""The configuration layer shared by every command.

Precedence, lowest first: built-in defaults < config file (`wm.toml`) <
environment < command-line flags. Each setting is declared once, in `Settings`,
with the environment variables that feed it; the CLI builds its options from the
same declarations so names cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import platformdirs

from website_monitor.errors import ConfigError
from website_monitor.store.url import redact

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

APP_NAME = "website-monitor"
#: Arrays of tables in the same file that are not settings: the alerting's
#: `[[notifier]]`, `[[alert]]`, `[[maintenance]]` and `[[slo]]` (`alerts.rules` reads them).
ALERTING_TABLES = ("notifier", "alert", "maintenance", "slo")
CONFIG_ENVVAR = "WM_CONFIG"
DATA_DIR_ENVVAR = "WM_DATA_DIR"


def _setting(
    default: Any,
    *envvars: str,
    secret: bool = False,
    duration: bool = False,
    flag: str | None = None,
) -> Any:
    """Declare a setting: its default, the environment variables that feed it, and how to
    treat it (secrets are never shown; durations accept `30s`, `5m`…). `flag` is the
    option that sets it, named in errors; by default `--` and the name with dashes."""
    return dataclasses.field(
        default=default,
        metadata={"env": envvars, "secret": secret, "duration": duration, "flag": flag},
    )


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting any command reads, resolved from all sources."""

    # store
    db_connection_string: str | None = _setting(None, "WM_DB_CONNECTION_STRING", secret=True)
    data_dir: str | None = _setting(None, DATA_DIR_ENVVAR)
    # stream
    bootstrap_servers: tuple[str, ...] = _setting(
        (), "WM_STREAM_BOOTSTRAP_SERVER", "WM_STREAM_BOOTSTRAP_SERVERS"
    )
    topic: str = _setting("probes", "WM_STREAM_TOPIC")
    consumer_group_id: str = _setting("wm-flush", "WM_STREAM_CONSUMER_GROUP_ID")
    ssl: bool = _setting(False, "WM_STREAM_SSL")
    ssl_cafile: str | None = _setting(None, "WM_STREAM_SSL_CA_FILE")
    ssl_certfile: str | None = _setting(None, "WM_STREAM_SSL_CERT_FILE")
    ssl_keyfile: str | None = _setting(None, "WM_STREAM_SSL_KEY_FILE")
    sasl_mechanism: str | None = _setting(None, "WM_STREAM_SASL_MECHANISM")
    sasl_username: str | None = _setting(None, "WM_STREAM_SASL_USERNAME")
    sasl_password: str | None = _setting(None, "WM_STREAM_SASL_PASSWORD", secret=True)
    # logging
    log_level: str = _setting("info", "WM_LOG_LEVEL")
    log_format: str = _setting("text", "WM_LOG_FORMAT")
    # probe
    urls: tuple[str, ...] = _setting((), "WM_URL")
    urls_file: str | None = _setting(None, "WM_URLS_FILE")
    timeout: float = _setting(10.0, "WM_PROBE_TIMEOUT", duration=True)
    expect_status: int | None = _setting(None, "WM_PROBE_EXPECT_STATUS")
    expect_regex: str | None = _setting(None, "WM_PROBE_EXPECT_REGEX")
    every: float | None = _setting(None, "WM_PROBE_EVERY", duration=True)
    concurrency: int = _setting(10, "WM_PROBE_CONCURRENCY")
    # flush
    batch_size: int = _setting(10_000, "WM_FLUSH_BATCH_SIZE")
    drain: bool = _setting(False, "WM_FLUSH_DRAIN")
    idle_timeout: float = _setting(3.0, "WM_FLUSH_IDLE_TIMEOUT", duration=True)
    # tail: in a config file also `[tail] interval = "10s"` and so on
    tail_files: tuple[str, ...] = _setting((), "WM_TAIL_FILES", flag="FILE")
    tail_format: str = _setting("auto", "WM_TAIL_FORMAT", flag="--format")
    tail_from_start: bool = _setting(False, "WM_TAIL_FROM_START", flag="--from-start")
    tail_exit_at_eof: bool = _setting(False, "WM_TAIL_EXIT_AT_EOF", flag="--exit-at-eof")
    tail_interval: float = _setting(10.0, "WM_TAIL_INTERVAL", duration=True, flag="--interval")
    tail_lateness: float = _setting(5.0, "WM_TAIL_LATENESS", duration=True, flag="--lateness")
    tail_alert_window: float = _setting(
        120.0, "WM_TAIL_ALERT_WINDOW", duration=True, flag="--alert-window"
    )
    tail_threshold: float = _setting(10.0, "WM_TAIL_THRESHOLD", flag="--threshold")
    tail_hysteresis: float = _setting(0.1, "WM_TAIL_HYSTERESIS", flag="--hysteresis")
    tail_clock: str = _setting("log", "WM_TAIL_CLOCK", flag="--clock")
    tail_top: int = _setting(5, "WM_TAIL_TOP", flag="--top")
    tail_json: bool = _setting(False, "WM_TAIL_JSON", flag="--json")
    tail_alert_command: str | None = _setting(None, "WM_TAIL_ALERT_COMMAND", flag="--alert-command")
    tail_alert_webhook: str | None = _setting(None, "WM_TAIL_ALERT_WEBHOOK", flag="--alert-webhook")
    tail_record_alerts: bool = _setting(True, "WM_TAIL_RECORD_ALERTS", flag="--record-alerts")
    tail_publish: bool = _setting(False, "WM_TAIL_PUBLISH", flag="--publish")
    tail_ship: str | None = _setting(None, "WM_TAIL_SHIP", flag="--ship")
    tail_ship_token: str | None = _setting(None, "WM_SERVE_TOKEN", secret=True, flag="--ship-token")
    tail_ship_timeout: float = _setting(
        30.0, "WM_TAIL_SHIP_TIMEOUT", duration=True, flag="--ship-timeout"
    )
    tail_source: str | None = _setting(None, "WM_TAIL_SOURCE", flag="--source")
    tail_poll_interval: float = _setting(
        0.25, "WM_TAIL_POLL_INTERVAL", duration=True, flag="--poll-interval"
    )
    # listen: in a config file also `[listen] bind = "127.0.0.1:8125"` and so on
    listen_bind: str = _setting("127.0.0.1:8125", "WM_LISTEN_BIND", flag="--bind")
    listen_bucket: float = _setting(600.0, "WM_LISTEN_BUCKET", duration=True, flag="--bucket")
    listen_flush_interval: float = _setting(
        10.0, "WM_LISTEN_FLUSH_INTERVAL", duration=True, flag="--flush-interval"
    )
    listen_report_interval: float = _setting(
        60.0, "WM_LISTEN_REPORT_INTERVAL", duration=True, flag="--report-interval"
    )
    # serve: in a config file also `[serve] bind = "127.0.0.1:8080"` and so on
    serve_bind: str = _setting("127.0.0.1:8080", "WM_SERVE_BIND", flag="--bind")
    serve_token: str | None = _setting(None, "WM_SERVE_TOKEN", secret=True, flag="--token")
    serve_poll_interval: float = _setting(1.0, "WM_SERVE_POLL_INTERVAL", flag="--poll-interval")
    serve_max_body: int = _setting(1024 * 1024, "WM_SERVE_MAX_BODY", flag="--max-body")
    serve_max_lines: int = _setting(10_000, "WM_SERVE_MAX_LINES", flag="--max-lines")
    # top: in a config file also `[top] refresh = "2s"` and so on
    top_refresh: float = _setting(2.0, "WM_TOP_REFRESH", duration=True, flag="--refresh")
    top_window: float = _setting(3600.0, "WM_TOP_WINDOW", duration=True, flag="--window")

    @property
    def uses_kafka(self) -> bool:
        """Whether sources publish to Kafka rather than writing the store directly."""
        return bool(self.bootstrap_servers)

    @property
    def uses_ssl(self) -> bool:
        return self.ssl or any((self.ssl_cafile, self.ssl_certfile, self.ssl_keyfile))

    def store_url(self) -> str:
        """The connection string, or the embedded SQLite default in the data directory."""
        if self.db_connection_string:
            return self.db_connection_string
        return "sqlite:///" + str(self.data_path() / "wm.db")

    def data_path(self) -> Path:
        """Where website-monitor keeps its own files (embedded store, spool)."""
        return Path(self.data_dir or platformdirs.user_data_dir(APP_NAME))

    def __repr__(self) -> str:
        shown = []
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.metadata.get("secret") and value:
                value = redact(value) if field.name == "db_connection_string" else "***"
            shown.append(f"{field.name}={value!r}")
        return f"Settings({', '.join(shown)})"


FIELDS: dict[str, dataclasses.Field[Any]] = {f.name: f for f in dataclasses.fields(Settings)}


def envvars(name: str) -> tuple[str, ...]:
    """The environment variables that set `name`, for the CLI to declare."""
    return tuple(FIELDS[name].metadata["env"])


def resolve(
    explicit: Mapping[str, Any] | None = None,
    config_file: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Merge defaults, config file, environment and explicit values into `Settings`.

    `explicit` holds values given on the command line (None means "not given");
    click has already folded environment variables into them, so the CLI passes
    `env={}`. Library users pass `env=os.environ` (the default) instead.
    """
    explicit = explicit or {}
    env = os.environ if env is None else env
    path = config_file or env.get(CONFIG_ENVVAR)
    values: dict[str, Any] = {}
    if path:
        values.update(_read_config_file(Path(path)))
    for name, field in FIELDS.items():
        for var in field.metadata["env"]:
            if env.get(var):
                values[name] = _coerce(name, env[var], source=var)
                break
    for name, value in explicit.items():
        if name not in FIELDS:
            raise KeyError(name)
        if value is None or value == ():
            continue
        values[name] = _coerce(name, value, source=_flag(name))
    settings = Settings(**values)
    _check(settings)
    return settings


def _flag(name: str) -> str:
    flag: str | None = FIELDS[name].metadata["flag"]
    return flag or "--" + name.replace("_", "-")


def _read_config_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} does not exist", hint="check --config / WM_CONFIG"
        ) from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    values: dict[str, Any] = {}
    settings = {key: value for key, value in data.items() if key not in ALERTING_TABLES}
    for table, key, value in _flatten(settings):
        shown = f"{table}.{key}" if table else key
        name = _setting_name(table, key)
        if name is None:
            raise ConfigError(f"unknown setting {shown!r} in {path}", hint=_known(table, key))
        values[name] = _coerce(name, value, source=f"{path}:{shown}")
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


def _setting_name(table: str | None, key: str) -> str | None:
    """The setting `key` names, in `table` if any: a command's table takes short keys
    (`[tail] interval` is `tail_interval`), any table takes the global names
    (`[stream] topic` is `topic`). None if there is no such setting."""
    name = key.replace("-", "_")
    if name == "bootstrap_server":
        name = "bootstrap_servers"
    if table is not None:
        prefixed = f"{table.replace('-', '_')}_{name}"
        if prefixed in FIELDS:
            return prefixed
    return name if name in FIELDS else None


def _known(table: str | None, key: str) -> str:
    """What to say of an unknown key: the setting it was probably meant to be, or the list
    (of the table's own keys, in a command's table)."""
    prefix = f"{(table or '').replace('-', '_')}_"
    own = sorted(name.removeprefix(prefix) for name in FIELDS if name.startswith(prefix))
    known = own if table is not None and own else sorted(FIELDS)
    close = difflib.get_close_matches(key.replace("-", "_"), known, n=1)
    if close:
        return f"did you mean {close[0]!r}?"
    where = f"keys in [{table}]" if known is own else "settings"
    return f"known {where}: {', '.join(known)}"


_SEPARATORS = re.compile(r"[,\s]+")
#: Whitespace, or a comma that starts a new URL: a comma inside a URL stays.
_URL_SEPARATORS = re.compile(r"\s+|\s*,\s*(?=[A-Za-z][A-Za-z0-9+.-]*://)")


def split_list(values: str | Iterable[str], *, urls: bool = False) -> tuple[str, ...]:
    """Split values given as one string or many, separated by whitespace or commas.

    With `urls`, only a comma followed by `scheme://` separates, so
    `http://a/x,y` stays whole while `http://a,http://b` splits.
    """
    pattern = _URL_SEPARATORS if urls else _SEPARATORS
    items = [values] if isinstance(values, str) else list(values)
    out: list[str] = []
    for item in items:
        out.extend(part for part in pattern.split(str(item)) if part)
    return tuple(out)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(name: str, value: Any, *, source: str) -> Any:
    """Turn a raw value from a file, the environment or a flag into the field's type."""
    field = FIELDS[name]
    kind = str(field.type)
    try:
        if field.metadata["duration"]:
            return parse_duration(value) if value is not None else None
        if kind.startswith("tuple"):
            if name == "tail_files":
                return _paths(value)
            return split_list(value, urls=name == "urls")
        if kind.startswith("bool"):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE | _FALSE:
                return text in _TRUE
            raise ValueError(f"expected true or false, got {value!r}")
        if kind.startswith("int"):
            if isinstance(value, bool):
                raise ValueError(f"expected an integer, got {value!r}")
            return int(value)
        if kind.startswith("float"):
            if isinstance(value, bool):
                raise ValueError(f"expected a number, got {value!r}")
            return float(value)
        return str(value) if value is not None else None
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc.message}", hint=exc.hint) from None
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _paths(value: str | Iterable[str]) -> tuple[str, ...]:
    """File paths: a list is taken item by item (a path may hold commas and spaces); one
    string is split on whitespace, as click splits an environment variable."""
    if isinstance(value, str):
        return tuple(value.split())
    return tuple(str(item) for item in value)


def _check(settings: Settings) -> None:
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "urls_file"):
        path = getattr(settings, name)
        if path and not Path(path).is_file():
            raise ConfigError(f"{_flag(name)}: file {path!r} does not exist")
    if settings.concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    if settings.batch_size < 1:
        raise ConfigError("--batch-size must be at least 1")
    if not 0 < settings.timeout <= 3600:
        raise ConfigError("--timeout must be positive and at most 1h")
    for server in settings.bootstrap_servers:
        host, _, port = server.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                f"invalid bootstrap server {server!r}", hint="use host:port, e.g. kafka:9092"
            )
    if settings.every is not None and settings.every <= 0:
        raise ConfigError("--every must be positive")
    if settings.sasl_mechanism and settings.sasl_mechanism.upper() not in SASL_MECHANISMS:
        raise ConfigError(
            f"unsupported SASL mechanism {settings.sasl_mechanism!r}",
            hint="use one of " + ", ".join(SASL_MECHANISMS),
        )
    for name in (
        "listen_bucket",
        "listen_flush_interval",
        "listen_report_interval",
        "top_refresh",
        "top_window",
    ):
        if getattr(settings, name) <= 0:
            raise ConfigError(f"{_flag(name)} must be positive")
    if settings.listen_bucket != int(settings.listen_bucket):
        raise ConfigError(
            f"--bucket {f'{settings.listen_bucket:g}s'!r} is not a whole number of seconds"
            " (at least 1s)"
        )
    # Flags and their variables are checked by click already; these catch the file's.
    if not 0.1 <= settings.serve_poll_interval <= 60:
        raise ConfigError("--poll-interval of wm serve must be between 0.1 and 60 seconds")
    if settings.serve_max_body < 1024:
        raise ConfigError("--max-body must be at least 1024")
    if settings.serve_max_lines < 1:
        raise ConfigError("--max-lines must be at least 1")
    if settings.log_level.lower() not in ("debug", "info", "warning", "error"):
        raise ConfigError(
            f"unknown log level {settings.log_level!r}", hint="use debug, info, warning or error"
        )
    if settings.log_format not in ("text", "json"):
        raise ConfigError(f"unknown log format {settings.log_format!r}", hint="use text or json")


SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
DURATION_HINT = "use a number with a unit, e.g. 500ms, 30s, 5m, 1h, 7d"


#: The longest duration accepted anywhere; past it times overflow the platform's clock.
MAX_DURATION = 100 * 365 * 86400.0


def parse_duration(value: str | float | int) -> float:
    """Seconds in a duration like `30s`, `5m`, `1h`, `7d`, `500ms` or a bare number."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ConfigError(f"invalid duration {value!r}", hint=DURATION_HINT)
        number, unit = match.groups()
        seconds = float(number) * _UNIT_SECONDS[unit or "s"]
    if not 0 <= seconds <= MAX_DURATION:  # also rejects inf and nan
        raise ConfigError(f"duration {value!r} is out of range", hint="at most 100 years")
    return seconds


def parse_time(value: str, now: datetime | None = None) -> datetime:
    """A point in time: ISO 8601 (naive means UTC) or a duration ago (`1h`, `7d`)."""
    now = now or datetime.now(timezone.utc)
    if _DURATION.match(value):
        try:
            return now - timedelta(seconds=parse_duration(value))
        except OverflowError:
            raise ConfigError(
                f"time {value!r} is before year 1", hint="give a shorter age"
            ) from None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        raise ConfigError(
            f"invalid time {value!r}", hint="use ISO 8601 (2026-11-23T10:00:00Z) or an age (1h, 7d)"
        ) from None
