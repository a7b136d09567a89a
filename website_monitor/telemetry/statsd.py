"""StatsD lines: `name:value|ms` (timer), `name:value|c[|@rate]` (counter), `name:value|g` (gauge).

A datagram holds one or more lines separated by newlines (empty lines are
ignored). Timers are in milliseconds. A counter's sample rate `@r` (0 < r <= 1)
says the sender sent one in 1/r events, so each line counts `value / r`; on
timers the rate is accepted and ignored (every received sample is kept), on
gauges it is an error. Gauges set a value; signed deltas are not supported (a
leading sign is part of the number). Malformed lines raise `StatsdError` with a
`reason` from `REASONS`.
"""

from __future__ import annotations

import math

import msgspec

from website_monitor.telemetry.llpp import INVALID_UTF8, MAX_DATAGRAM, TOO_LARGE, DatagramError

TIMER = "ms"
COUNTER = "c"
GAUGE = "g"
TYPES = {TIMER: "timer", COUNTER: "counter", GAUGE: "gauge"}
MAX_NAME = 255

SYNTAX = "statsd_syntax"
BAD_NAME = "statsd_name"
BAD_VALUE = "statsd_value"
BAD_TYPE = "statsd_type"
BAD_RATE = "statsd_rate"
REASONS = (SYNTAX, BAD_NAME, BAD_VALUE, BAD_TYPE, BAD_RATE, INVALID_UTF8, TOO_LARGE)


class StatsdError(DatagramError):
    """A malformed StatsD line or datagram."""


class Metric(msgspec.Struct, frozen=True, gc=False):
    name: str
    value: float
    type: str  # "ms", "c" or "g"
    rate: float = 1.0

    @property
    def kind(self) -> str:
        """`timer`, `counter` or `gauge`: the bucket's metric type."""
        return TYPES[self.type]


def parse_line(line: str) -> Metric:
    """One `name:value|type[|@rate]` line."""
    name, sep, rest = line.partition(":")
    if not sep:
        raise StatsdError(SYNTAX, f"no ':' in {_short(line)}")
    if (
        not name
        or len(name.encode("utf-8")) > MAX_NAME
        or not name.isprintable()
        or (name != name.strip())
    ):
        raise StatsdError(BAD_NAME, f"invalid metric name {_short(name)}")
    fields = rest.split("|")
    if len(fields) < 2 or len(fields) > 3:
        raise StatsdError(SYNTAX, f"expected value|type[|@rate] in {_short(line)}")
    kind = fields[1]
    if kind not in TYPES:
        raise StatsdError(BAD_TYPE, f"unknown metric type {_short(kind)}")
    value = _number(fields[0], BAD_VALUE, "value")
    if kind == TIMER and value < 0:
        raise StatsdError(BAD_VALUE, f"negative timer {_short(fields[0])}")
    rate = 1.0
    if len(fields) == 3:
        if not fields[2].startswith("@") or kind == GAUGE:
            raise StatsdError(BAD_RATE, f"invalid sample rate {_short(fields[2])}")
        rate = _number(fields[2][1:], BAD_RATE, "sample rate")
        if not 0 < rate <= 1:
            raise StatsdError(BAD_RATE, f"sample rate {_short(fields[2])} is not in (0, 1]")
    return Metric(name, value, kind, rate)


def decode(data: bytes) -> list[Metric]:
    """Every line of a datagram; the first malformed one raises `StatsdError`."""
    metrics, errors = decode_lenient(data)
    if errors:
        raise errors[0]
    return metrics


def decode_lenient(data: bytes) -> tuple[list[Metric], list[StatsdError]]:
    """The good lines of a datagram and an error for each bad one (a bad line spoils no other)."""
    if len(data) > MAX_DATAGRAM:
        return [], [StatsdError(TOO_LARGE, f"{len(data)} bytes, at most {MAX_DATAGRAM}")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return [], [StatsdError(INVALID_UTF8, "the datagram is not valid UTF-8")]
    metrics: list[Metric] = []
    errors: list[StatsdError] = []
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        if not line:
            continue
        try:
            metrics.append(parse_line(line))
        except StatsdError as exc:
            errors.append(exc)
    if not metrics and not errors:
        errors.append(StatsdError(SYNTAX, "an empty datagram"))
    return metrics, errors


def _number(text: str, reason: str, what: str) -> float:
    stripped = text.strip()
    if stripped != text or not stripped:
        raise StatsdError(reason, f"invalid {what} {_short(text)}")
    try:
        number = float(text)
    except ValueError:
        raise StatsdError(reason, f"invalid {what} {_short(text)}") from None
    if not math.isfinite(number) or abs(number) > 1e15:
        raise StatsdError(reason, f"{what} {_short(text)} is not a finite number up to 1e15")
    return number


def _short(value: str, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def encode(metric: Metric) -> bytes:
    rate = f"|@{metric.rate!r}" if metric.rate != 1.0 else ""
    return f"{metric.name}:{metric.value!r}|{metric.type}{rate}".encode()
