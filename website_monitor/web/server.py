"""Listening and serving: the socket is bound here, so a busy port is a clear error."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from types import FrameType

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from website_monitor.errors import WebsiteMonitorError

log = logging.getLogger(__name__)

DEFAULT_BIND = "127.0.0.1:8080"


class ServeError(WebsiteMonitorError):
    """The server cannot listen where it was told to."""


def parse_bind(bind: str) -> tuple[str, int]:
    """`host:port` or `[v6]:port` -> (host, port)."""
    text = bind.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ServeError(
            f"invalid bind address {bind!r}", hint="use HOST:PORT, e.g. 127.0.0.1:8080"
        )
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(bind: str) -> socket.socket:
    """A listening socket on `bind`, or a ServeError saying why not."""
    host, port = parse_bind(bind)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ServeError(
            f"cannot resolve bind address {host!r}: {exc.strerror}",
            hint="use an IP address such as 127.0.0.1",
        ) from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"cannot listen on {bind}: address already in use",
                hint="stop what is using that port or pick another with --bind HOST:PORT",
            ) from None
        if exc.errno == errno.EACCES:
            raise ServeError(
                f"cannot listen on {bind}: permission denied",
                hint="ports below 1024 need privileges; use a port above 1024",
            ) from None
        raise ServeError(f"cannot listen on {bind}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


def address_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


#: How long a client may take to send a request's line and headers, from when it connects
#: or its previous response ends: a connection that sends nothing (or a few bytes a
#: minute) is closed instead of being held for ever.
HEADER_TIMEOUT = 10.0
#: How long an idle keep-alive connection stays open between requests.
KEEP_ALIVE_TIMEOUT = 5.0
#: The most bytes of a request's line and headers held while they arrive. h11's default,
#: 16 KiB, refused a `?url=` holding a URL of 8,192 characters percent-encoded (24 KiB),
#: or answered the app's own 400 or its own, by how the bytes happened to arrive.
MAX_REQUEST_HEAD = 128 * 1024


class _TimedH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing connections whose headers do not arrive in time.

    uvicorn times out a keep-alive connection only once it was idle after a response,
    and cancels even that at the first byte received: a client that opens a connection
    and sends nothing, or sends its headers a byte at a time, would keep it for ever.
    """

    header_timeout = HEADER_TIMEOUT
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the request's headers are in
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self.transport.close()


class _Uvicorn(uvicorn.Server):
    """uvicorn that tells the app it is stopping and exits 0 on SIGTERM or Ctrl-C.

    (uvicorn itself re-raises the signal after a graceful shutdown, so the
    process would end by the signal instead of with the exit code 0 `wm` uses.)
    """

    def __init__(self, config: uvicorn.Config, stopping: threading.Event) -> None:
        super().__init__(config)
        self.stopping = stopping

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.stopping.set()
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class WebServer:
    """uvicorn over an already bound socket; `run()` blocks, `start()` uses a thread.

    `stopping` is set when the server starts to shut down: long-lived responses
    (the live event stream) watch it and end, so shutdown is quick and clean.
    """

    def __init__(
        self,
        app: ASGIApp,
        sock: socket.socket,
        *,
        stopping: threading.Event | None = None,
        log_level: str = "warning",
    ) -> None:
        self.sock = sock
        self.stopping = stopping or threading.Event()
        self.config = uvicorn.Config(
            app,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            http=_TimedH11Protocol,
            timeout_keep_alive=int(KEEP_ALIVE_TIMEOUT),
            h11_max_incomplete_event_size=MAX_REQUEST_HEAD,
            # Live-event streams never end on their own: cut them short on shutdown.
            timeout_graceful_shutdown=2,
        )
        self.server = _Uvicorn(self.config, self.stopping)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> str:
        return address_of(self.sock)

    def run(self) -> None:
        """Serve until SIGTERM or Ctrl-C (uvicorn handles both)."""
        self.server.run(sockets=[self.sock])

    def start(self) -> None:
        """Serve in a background thread (no signal handling), for embedding and tests."""
        self._thread = threading.Thread(target=self._run_in_thread, daemon=True)
        self._thread.start()

    def _run_in_thread(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
        self.sock.close()
