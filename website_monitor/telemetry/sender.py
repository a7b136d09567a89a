"""Sending telemetry to `wm listen` from Python: one line per event, fire and forget.

    from website_monitor.telemetry.sender import send_arrival, send_departure, send_status

    send_arrival("checkout")                          # a request arrived at station "checkout"
    send_departure("checkout", service_ms=12.5)       # it left after 12.5 ms of service
    send_status("checkout", "degraded: db slow")      # the station's latest status text
    send_metric("api.latency", 12.5, "ms")            # a StatsD line (timer, "c" or "g")

Each function sends one UDP datagram to `addr` (default `127.0.0.1:8125`) and
returns; nothing waits for the listener, so a missing listener costs nothing.
To send many, keep one `Sender` (it reuses its socket)::

    with Sender("127.0.0.1:8125") as sender:
        sender.arrival("checkout")
        sender.departure("checkout", 12.5)

Invalid input (empty station, names over 255 bytes in UTF-8, negative or
non-finite service time) raises `DatagramError`; an OS-level send failure
raises `SendError`. Both are `WebsiteMonitorError`s.
"""

from __future__ import annotations

import math
import socket
from types import TracebackType

from website_monitor.errors import WebsiteMonitorError
from website_monitor.telemetry import llpp, statsd
from website_monitor.telemetry.llpp import DatagramError
from website_monitor.telemetry.net import DEFAULT_ADDRESS, Address, family, parse_address, show

__all__ = [
    "DEFAULT_ADDRESS",
    "SendError",
    "Sender",
    "send_arrival",
    "send_departure",
    "send_metric",
    "send_status",
]


class SendError(WebsiteMonitorError):
    """The operating system refused to send a datagram."""


def service_ns(service_ms: float) -> int:
    """Milliseconds as whole nanoseconds, as a departure carries them."""
    if not isinstance(service_ms, (int, float)) or not math.isfinite(service_ms) or service_ms < 0:
        raise DatagramError(
            llpp.LENGTH_MISMATCH,
            f"invalid service time {service_ms!r} ms",
            hint="give a finite, non-negative number of milliseconds",
        )
    nanoseconds = round(service_ms * 1_000_000)
    if nanoseconds >= 2**64:
        raise DatagramError(
            llpp.LENGTH_MISMATCH,
            f"service time {service_ms!r} ms is too long",
            hint="at most about 584 years",
        )
    return nanoseconds


class Sender:
    """A UDP socket aimed at one listener."""

    def __init__(self, addr: str | Address = DEFAULT_ADDRESS) -> None:
        self.address = parse_address(addr)
        self.sock = socket.socket(family(self.address[0]), socket.SOCK_DGRAM)

    def send(self, datagram: bytes) -> None:
        try:
            self.sock.sendto(datagram, self.address)
        except OSError as exc:
            raise SendError(
                f"cannot send to {show(self.address)}: {exc.strerror or exc}",
                hint="check the address given with --to",
            ) from None

    def arrival(self, station: str) -> None:
        self.send(llpp.encode_arrival(station))

    def departure(self, station: str, service_ms: float) -> None:
        self.send(llpp.encode_departure(station, service_ns(service_ms)))

    def status(self, station: str, text: str) -> None:
        self.send(llpp.encode_status(station, text))

    def metric(self, name: str, value: float, type: str = statsd.TIMER, rate: float = 1.0) -> None:
        data = statsd.encode(statsd.Metric(name, float(value), type, rate))
        statsd.decode(data)  # the same checks the listener makes, raised here
        self.send(data)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Sender:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def send_arrival(station: str, addr: str | Address = DEFAULT_ADDRESS) -> None:
    """Send an llpp arrival at `station`."""
    with Sender(addr) as sender:
        sender.arrival(station)


def send_departure(station: str, service_ms: float, addr: str | Address = DEFAULT_ADDRESS) -> None:
    """Send an llpp departure from `station` after `service_ms` milliseconds of service."""
    with Sender(addr) as sender:
        sender.departure(station, service_ms)


def send_status(station: str, text: str, addr: str | Address = DEFAULT_ADDRESS) -> None:
    """Send an llpp status text (at most 255 bytes in UTF-8) for `station`."""
    with Sender(addr) as sender:
        sender.status(station, text)


def send_metric(
    name: str,
    value: float,
    type: str = statsd.TIMER,
    rate: float = 1.0,
    addr: str | Address = DEFAULT_ADDRESS,
) -> None:
    """Send one StatsD line: `type` is "ms" (timer), "c" (counter, with `rate`) or "g"."""
    with Sender(addr) as sender:
        sender.metric(name, value, type, rate)
