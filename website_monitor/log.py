"""Logging set-up: human text or one JSON object per line, always to stderr.

Every record that reaches website-monitor's handlers passes `SecretFilter` first,
at every level and in both formats: website-monitor's own records, kafka-python's
(routed here, they dump the client configuration at debug level), librdkafka's
(through `website_monitor.kafka`) and any other library's warnings (the root
handler). The filter masks the configured secrets (`secrets_of`: the SASL
password, the tokens, the secrets in every URL-valued setting) wherever they
appear: message, arguments, traceback, extra fields.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from website_monitor.display import printable
from website_monitor.store.url import mask, url_secrets

LOGGER_NAME = "website_monitor"
#: Settings that are URLs (or lists of them) whose user part or query may hold a secret.
URL_SETTINGS = ("db_connection_string", "tail_ship", "tail_alert_webhook", "bootstrap_servers")
"""Settings (by their config-file key) that may hold a URL with a password or a token."""

_STANDARD = frozenset(vars(logging.makeLogRecord({})))


class JSONFormatter(logging.Formatter):
    """One JSON object per record, with any `extra=` fields kept and the traceback, if any,
    under `exception`."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            data["exception"] = record.exc_text
        return json.dumps(data, default=str)


class TextFormatter(logging.Formatter):
    """`time LEVEL message`, with control characters escaped (a logged path, station name or
    server answer cannot restyle the terminal); a traceback keeps its line breaks."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return "\n".join(printable(line) for line in super().format(record).split("\n"))


class SecretFilter(logging.Filter):
    """Masks `secrets` in every record a handler emits, whichever library logged it.

    The record itself is rewritten (message with its arguments, traceback, string
    extras), so every handler after this one sees it masked too.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: shown with its arguments, still masked
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = mask(message, self.secrets), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = mask(record.stack_info, self.secrets)
        for key, value in vars(record).items():
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, mask(value, self.secrets))
        return True


def secrets_of(settings: Any) -> tuple[str, ...]:
    """What to mask in logs: every secret setting, and the secrets in URL-valued settings.

    `settings` is a `config.Settings`; its settings are listed in `config.DECLARATIONS`.
    """
    from website_monitor.config import DECLARATIONS

    found: list[str] = []
    for declared in DECLARATIONS:
        value = getattr(getattr(settings, declared.section), declared.name)
        if declared.secret and isinstance(value, str):
            found.extend(url_secrets(value) if "://" in value else [value])
        elif declared.key in URL_SETTINGS:
            for url in [value] if isinstance(value, str) else value or ():
                found.extend(url_secrets(url))
    return tuple(dict.fromkeys(found))


def environment_secrets(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The secrets in the environment variables of every secret or URL-valued setting,
    whether or not the running command reads them: a notifier's command inherits them."""
    from website_monitor.config import DECLARATIONS

    found: list[str] = []
    for declared in DECLARATIONS:
        if not (declared.secret or declared.key in URL_SETTINGS):
            continue
        for name in declared.env:
            value = environ.get(name, "")
            if value and declared.secret:
                found.extend(url_secrets(value) if "://" in value else [value])
            elif value:
                found.extend(url_secrets(value))
    return tuple(dict.fromkeys(found))


class _Stderr(logging.Handler):
    """Writes to whatever `sys.stderr` is when a record is emitted (as `logging.lastResort`)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:
            self.handleError(record)


_root_handler: logging.Handler | None = None
#: The filter of the handlers `setup` made last, to which `also_mask` adds.
_masking: SecretFilter | None = None


def setup(level: str = "info", fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Route website-monitor's logs to stderr, with `secrets` masked in every record;
    third-party libraries stay at warning."""
    global _root_handler, _masking
    formatter = JSONFormatter() if fmt == "json" else TextFormatter()
    masking = _masking = SecretFilter(secrets)
    handler = _Stderr()
    handler.setFormatter(formatter)
    handler.addFilter(masking)
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
    kafka_logger = logging.getLogger("kafka")
    kafka_logger.handlers[:] = [handler]
    # kafka-python logs every failed connection attempt; our own errors say it once.
    kafka_logger.setLevel("DEBUG" if level.lower() == "debug" else "CRITICAL")
    kafka_logger.propagate = False
    # Other libraries' warnings: formatted and masked like ours rather than printed raw.
    root = logging.getLogger()
    if _root_handler is not None:
        root.removeHandler(_root_handler)
    _root_handler = _Stderr()
    _root_handler.setLevel(logging.WARNING)
    _root_handler.setFormatter(formatter)
    _root_handler.addFilter(masking)
    root.addHandler(_root_handler)


def also_mask(secrets: Iterable[str]) -> None:
    """Mask `secrets` too (those a command learns after `setup`: a notifier's)."""
    if _masking is not None:
        found = {*_masking.secrets, *(s for s in secrets if s)}
        _masking.secrets = tuple(sorted(found, key=len, reverse=True))


def masked_secrets() -> tuple[str, ...]:
    """What every record is masked of now (`setup`'s secrets and `also_mask`'s), for text
    stored rather than logged."""
    return _masking.secrets if _masking is not None else ()


class LogRate:
    """At most `most` log lines of a kind per `window` seconds: a flood of bad input, or a
    client failing the same way, must not become a flood of log lines (a stall of its own).

    `take(kind)` says whether to log now, and how many lines of that kind were held
    back since the last one logged, for that line to say.
    """

    def __init__(self, most: int, window: float) -> None:
        self.most = most
        self.window = window
        self._kinds: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def take(self, kind: str = "") -> int | None:
        """None when this line is held back, else how many were held back before it."""
        now = time.monotonic()
        with self._lock:
            window = self._kinds.get(kind) or self._kinds.setdefault(kind, _Window())
            if now - window.started >= self.window:
                window.started, window.logged = now, 0
            if window.logged >= self.most:
                window.held_back += 1
                return None
            window.logged += 1
            held_back, window.held_back = window.held_back, 0
            return held_back


@dataclasses.dataclass
class _Window:
    """A kind's current window: when it started, lines logged in it, lines held back."""

    started: float = -math.inf
    logged: int = 0
    held_back: int = 0


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}")
