"""UDP addresses for the listener and the sender: `host:port` or `[v6host]:port`."""

from __future__ import annotations

import socket

from website_monitor.errors import ConfigError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8125
DEFAULT_ADDRESS = f"{DEFAULT_HOST}:{DEFAULT_PORT}"
ADDRESS_HINT = "use host:port, e.g. 127.0.0.1:8125 or [::1]:8125"

Address = tuple[str, int]


def parse_address(value: str | Address) -> Address:
    """(host, port) from `host:port`, `[v6]:port` or an existing pair."""
    if isinstance(value, tuple):
        host, port = value
    else:
        text = value.strip()
        if text.startswith("["):
            host, sep, rest = text[1:].partition("]")
            if not sep or not rest.startswith(":"):
                raise ConfigError(f"invalid address {value!r}", hint=ADDRESS_HINT)
            port_text = rest[1:]
        else:
            host, sep, port_text = text.rpartition(":")
            if not sep or ":" in host:
                raise ConfigError(f"invalid address {value!r}", hint=ADDRESS_HINT)
        if not host:
            raise ConfigError(
                f"address {value!r} names no host",
                hint="name the interface explicitly, e.g. 127.0.0.1:8125 (or 0.0.0.0:8125 "
                "to listen on every interface)",
            )
        try:
            port = int(port_text)
        except ValueError:
            raise ConfigError(f"invalid port in {value!r}", hint=ADDRESS_HINT) from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"port {port} is out of range", hint="use a port from 0 to 65535")
    return host, port


def family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def show(address: Address) -> str:
    host, port = address[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
