"""Logging set-up: human text or one JSON object per line, always to stderr."""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

LOGGER_NAME = "website_monitor"


class JSONFormatter(logging.Formatter):
    """One JSON object per record, with any `extra=` fields kept."""

    _standard = set(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._standard and not key.startswith("_"):
                data[key] = value
        return json.dumps(data, default=str)


def setup(level: str = "info", fmt: str = "text") -> None:
    """Route website-monitor's logs to stderr; third-party libraries stay at warning."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers[:] = [handler]
    logger.setLevel(level.upper())
    logger.propagate = False
    kafka_logger = logging.getLogger("kafka")
    kafka_logger.handlers[:] = [handler]
    # kafka-python logs every failed connection attempt; our own errors say it once.
    kafka_logger.setLevel("DEBUG" if level.lower() == "debug" else "CRITICAL")
    kafka_logger.propagate = False


def get(name: str) -> logging.Logger:
    return logging.getLogger(f"{LOGGER_NAME}.{name}")
