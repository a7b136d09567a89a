"""The UDP listener behind `wm listen`.

Two threads keep receiving apart from everything slow:

* the receive thread does nothing but `recvmsg` and append `(arrival time,
  bytes)` to an in-memory queue (bounded: past `max_pending` datagrams are
  counted as dropped by the listener rather than exhausting memory; it reads
  at most MAX_RECEIVE bytes of a datagram, one more than a valid one may have,
  so an oversized one is still counted as too large and the queue holds at
  most `max_pending` times about 1.2 kB);
  it also keeps the kernel's count of datagrams dropped for the socket
  (`website_monitor.telemetry.udp`);
* the worker thread decodes, aggregates into buckets, publishes the buckets'
  deltas every `flush_interval` (to Kafka or the store, through a
  `Publisher`) and logs a progress line every `report_interval` with the
  drops (by the kernel, by the listener) and the bad datagrams per reason.
  With nothing queued it blocks until a datagram arrives or the next flush
  or report is due, so an idle listener uses no CPU.

At every flush the listener also publishes its own counters as telemetry of
reserved names (`website_monitor.telemetry.health`), which `wm serve` exports
in `/metrics`.

Bad input is counted, never fatal; an unexpected error while handling one
datagram is logged and counted as `internal_error`. Deltas that could not be
published are kept and retried at the next flush. `stop()` (SIGTERM, Ctrl-C in
the CLI) stops receiving, handles what is queued and flushes every open bucket.
The socket binds to 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import collections
import dataclasses
import socket
import threading
import time
from collections.abc import Callable

from website_monitor import log
from website_monitor.errors import DeliveryError, WebsiteMonitorError
from website_monitor.telemetry import health, llpp, statsd, udp
from website_monitor.telemetry.buckets import DEFAULT_BUCKET_SECONDS, DEFAULT_MAX_SERIES, Aggregator
from website_monitor.telemetry.codec import TelemetryBucket
from website_monitor.telemetry.health import INTERNAL_ERROR
from website_monitor.telemetry.net import (
    DEFAULT_ADDRESS,
    Address,
    family,
    is_loopback,
    parse_address,
    show,
)
from website_monitor.telemetry.udp import ListenError, bind_error
from website_monitor.transport import Publisher

logger = log.get("listen")

__all__ = ["INTERNAL_ERROR", "RECEIVE_BUFFER", "ListenError", "Listener", "ListenerStats"]

_WILDCARD_TO_LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104 - only to send to
RECEIVE_BUFFER = udp.RECEIVE_BUFFER
#: Bytes read of a datagram: one more than a valid one may have. The kernel discards the rest
#: of a larger one, which then still counts as too large.
MAX_RECEIVE = llpp.MAX_DATAGRAM + 1
MAX_UNPUBLISHED = 100_000
WORK_BATCH = 5_000  # datagrams handled between two looks at the flush and report clocks
GATHER = 0.001  # seconds the worker lets datagrams gather after being woken by one


@dataclasses.dataclass(slots=True)
class ListenerStats:
    """Counters since start; read them from any thread (values may be a moment old)."""

    received: int = 0
    handled: int = 0
    #: dropped by the listener: its queue was full
    dropped: int = 0
    #: dropped by the kernel for the socket (its receive buffer was full), as of the
    #: latest datagram received; 0 where the kernel does not say (see `udp`)
    kernel_drops: int = 0
    messages: int = 0
    metrics: int = 0
    bad: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    flushes: int = 0
    buckets_published: int = 0
    publish_failures: int = 0
    unpublished: int = 0

    @property
    def bad_total(self) -> int:
        return sum(self.bad.values())


class Listener:
    """Receives llpp and StatsD datagrams on UDP and publishes aggregated buckets."""

    def __init__(
        self,
        publisher: Publisher,
        *,
        bind: str | Address = DEFAULT_ADDRESS,
        bucket_seconds: int = DEFAULT_BUCKET_SECONDS,
        flush_interval: float = 10.0,
        report_interval: float = 60.0,
        max_pending: int = 1_000_000,
        max_series: int = DEFAULT_MAX_SERIES,
        receive_buffer: int = RECEIVE_BUFFER,
        clock: Callable[[], float] = time.time,
        on_report: Callable[[ListenerStats], None] | None = None,
    ) -> None:
        if flush_interval <= 0 or report_interval <= 0:
            raise ValueError("intervals must be positive")
        self.receive_buffer = receive_buffer
        self.publisher = publisher
        self.bind = parse_address(bind)
        self.aggregator = Aggregator(bucket_seconds, max_series=max_series)
        self.flush_interval = flush_interval
        self.report_interval = report_interval
        self.max_pending = max_pending
        self.clock = clock
        self.on_report = on_report or _log_report
        self.stats = ListenerStats()
        self.health = health.HealthDeltas(self.aggregator.bucket_seconds)
        self.socket_info: udp.SocketInfo | None = None
        self._drops = udp.DropCounter()
        self._pending: collections.deque[tuple[float, bytes]] = collections.deque()
        self._unpublished: list[TelemetryBucket] = []
        self._stopping = threading.Event()
        # The worker blocks on `_wake` when idle; the receive thread sets it for the first
        # datagram while `_idle` says the worker waits (one attribute read per datagram).
        self._wake = threading.Event()
        self._idle = False
        self._flush_requests: collections.deque[threading.Event] = collections.deque()
        self._sock: socket.socket | None = None
        self._receiver: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self.address: Address = self.bind

    # --- life cycle -----------------------------------------------------------------

    def start(self) -> Address:
        """Bind the socket and start both threads; returns the bound address."""
        host, port = self.bind
        sock = socket.socket(family(host), socket.SOCK_DGRAM)
        try:
            info = udp.configure(sock, self.receive_buffer)
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise bind_error(self.bind, exc) from None
        self._sock = sock
        self.socket_info = info
        self.address = sock.getsockname()[:2]
        if not is_loopback(host):
            logger.warning("listening on %s: reachable from other hosts", show(self.address))
        self._receiver = threading.Thread(target=self._receive, name="wm-listen-recv", daemon=True)
        self._worker = threading.Thread(target=self._work, name="wm-listen-work", daemon=True)
        self._receiver.start()
        self._worker.start()
        logger.info(
            "listening on %s (udp), buckets of %ds, flush every %gs, receive buffer %d bytes "
            "granted (%d asked for)%s",
            show(self.address),
            self.aggregator.bucket_seconds,
            self.flush_interval,
            info.receive_buffer,
            info.requested_buffer,
            "" if info.counts_drops else "; kernel drops are not reported on this system",
            extra={
                "event": "listening",
                "address": show(self.address),
                "receive_buffer": info.receive_buffer,
            },
        )
        if info.capped:
            logger.warning(
                "the kernel granted a receive buffer of %d bytes, less than the %d asked for; "
                "on Linux raise net.core.rmem_max (sysctl -w net.core.rmem_max=%d)",
                info.receive_buffer,
                info.requested_buffer,
                info.requested_buffer,
                extra={"event": "receive_buffer_capped"},
            )
        return self.address

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop receiving, handle what is queued, flush every open bucket.

        Returns True when every bucket was published.
        """
        if self._sock is None:  # never started, or already stopped
            return not self._unpublished
        self._stopping.set()
        self._wake_receiver()
        self._wake.set()
        if self._receiver is not None:
            self._receiver.join(timeout)
        if self._worker is not None:
            self._worker.join(timeout)
        self._sock.close()
        self._sock = None
        return not self._unpublished

    def run(self, stop: threading.Event) -> bool:
        """Start, run until `stop` is set, then stop; returns what `stop()` returns."""
        self.start()
        try:
            stop.wait()
        finally:
            published = self.stop()
        return published

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """The receive and worker threads, once started (for measurements)."""
        return tuple(t for t in (self._receiver, self._worker) if t is not None)

    def flush_now(self, timeout: float = 30.0) -> None:
        """Handle every datagram received so far and publish the deltas (for tests and tools)."""
        done = threading.Event()
        self._flush_requests.append(done)
        self._wake.set()
        if not done.wait(timeout):
            raise TimeoutError("the listener did not flush in time")

    def wait_received(self, count: int, timeout: float = 10.0) -> None:
        """Block until `count` datagrams have been received (for tests)."""
        deadline = time.monotonic() + timeout
        while self.stats.received < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"received {self.stats.received} of {count} datagrams")
            time.sleep(0.002)

    def __enter__(self) -> Listener:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- receive thread -------------------------------------------------------------

    def _wake_receiver(self) -> None:
        """A blocked recv() returns on a datagram: send the socket an empty one."""
        if self._sock is None:
            return
        host, port = self.address
        host = _WILDCARD_TO_LOOPBACK.get(host, host)
        try:
            with socket.socket(family(host), socket.SOCK_DGRAM) as waker:
                waker.sendto(b"", (host, port))
        except OSError:
            self._sock.settimeout(0.1)  # recv then returns within 0.1 s

    def _receive(self) -> None:
        try:
            self._receive_loop()
        finally:
            self._wake.set()  # the worker finishes once the receive thread has

    def _receive_loop(self) -> None:
        assert self._sock is not None
        recvmsg = self._sock.recvmsg
        space = udp.DROPS_SPACE
        drops = self._drops
        pending = self._pending
        append = pending.append
        clock = self.clock
        stats = self.stats
        stopping = self._stopping
        wake = self._wake
        max_pending = self.max_pending
        last_count = b""  # the drop count's bytes as last seen: parsed only when they change
        while True:
            try:
                data, ancillary, _, _ = recvmsg(MAX_RECEIVE, space)
            except TimeoutError:
                if stopping.is_set():
                    self._drain()
                    return
                continue
            except OSError as exc:
                if stopping.is_set():
                    return
                logger.warning("receive failed: %s", exc, extra={"event": "recv_error"})
                time.sleep(0.01)
                continue
            if ancillary and ancillary[0][2] != last_count:
                last_count = ancillary[0][2]
                stats.kernel_drops = drops.seen(ancillary)
            if stopping.is_set():
                if data:  # sent before the stop; the empty datagram is the wake-up call
                    stats.received += 1
                    append((clock(), data))
                self._drain()
                return
            stats.received += 1
            if len(pending) >= max_pending:
                stats.dropped += 1
                continue
            append((clock(), data))
            if self._idle:  # once per wait: the worker may take a while to get the GIL back
                self._idle = False
                wake.set()

    def _drain(self) -> None:
        """On stop: take what the kernel still buffers, so nothing sent before the stop is lost."""
        assert self._sock is not None
        self._sock.setblocking(False)
        while True:
            try:
                data, ancillary, _, _ = self._sock.recvmsg(MAX_RECEIVE, udp.DROPS_SPACE)
            except OSError:
                return
            if ancillary:
                self.stats.kernel_drops = self._drops.seen(ancillary)
            if data:  # the empty datagram is the wake-up call
                self.stats.received += 1
                self._pending.append((self.clock(), data))

    # --- worker thread --------------------------------------------------------------

    def _work(self) -> None:
        pending = self._pending
        popleft = pending.popleft
        handle = self._handle
        next_flush = time.monotonic() + self.flush_interval
        next_report = time.monotonic() + self.report_interval
        while True:
            batch = 0
            while pending and batch < WORK_BATCH:  # bounded, so flushes happen under load too
                at, data = popleft()
                handle(at, data)
                batch += 1
            now = time.monotonic()
            if self._flush_requests:
                requests = []
                while self._flush_requests:
                    requests.append(self._flush_requests.popleft())
                while pending:  # whatever arrived before the request
                    at, data = popleft()
                    handle(at, data)
                self._flush()
                for request in requests:
                    request.set()
                next_flush = now + self.flush_interval
            elif now >= next_flush:
                self._flush()
                next_flush = now + self.flush_interval
            if now >= next_report:
                self._report()
                next_report = now + self.report_interval
            finished = self._stopping.is_set() and not (
                self._receiver and self._receiver.is_alive()
            )
            if finished:
                while pending:
                    at, data = popleft()
                    handle(at, data)
                self._flush(final=True)
                self._report()
                for request in self._flush_requests:
                    request.set()
                return
            if not batch:
                self._wait(min(next_flush, next_report) - now)

    def _wait(self, timeout: float) -> None:
        """Block until a datagram, a flush request or the stop, for `timeout` at most.

        Woken by a datagram, it lets more arrive for a moment (GATHER) before handling
        them: taking each datagram as it comes would hand the GIL back and forth with
        the receive thread once per datagram, which costs more than the handling.
        """
        wake = self._wake
        wake.clear()
        self._idle = True  # from here on the receive thread sets `_wake` for a datagram
        if not (self._pending or self._flush_requests or self._stopping.is_set()):
            wake.wait(max(0.0, timeout))
            self._idle = False
            if self._pending and not (self._flush_requests or self._stopping.is_set()):
                time.sleep(GATHER)
        elif self._stopping.is_set() and not self._pending and not self._flush_requests:
            wake.wait(0.05)  # the receive thread is draining; it sets `_wake` when done
        self._idle = False

    def _handle(self, at: float, data: bytes) -> None:
        stats = self.stats
        stats.handled += 1
        try:
            if len(data) > llpp.MAX_DATAGRAM:
                stats.bad[llpp.TOO_LARGE] += 1
            elif llpp.is_llpp(data):
                try:
                    self.aggregator.add_message(llpp.decode(data), at)
                except llpp.DatagramError as exc:
                    stats.bad[exc.reason] += 1
                    return
                stats.messages += 1
            else:
                metrics, errors = statsd.decode_lenient(data)
                for error in errors:
                    stats.bad[error.reason] += 1
                for metric in metrics:
                    try:
                        self.aggregator.add_metric(metric, at)
                    except llpp.DatagramError as exc:
                        stats.bad[exc.reason] += 1
                        continue
                    stats.metrics += 1
        except Exception:  # never stop on one datagram
            stats.bad[INTERNAL_ERROR] += 1
            logger.exception("unexpected error handling a datagram of %d bytes", len(data))

    def _flush(self, *, final: bool = False) -> None:
        now = self.clock()
        stats = self.stats
        own = health.counters(stats.received, stats.kernel_drops, stats.dropped, stats.bad)
        events = (
            self._unpublished
            + self.aggregator.flush(now, final=final)
            + self.health.events(own, now)
        )
        self._unpublished = []
        self.stats.flushes += 1
        if not events:
            return
        try:
            self.publisher.publish(events)
        except DeliveryError as exc:
            failed = [e for e in exc.undelivered if isinstance(e, TelemetryBucket)]
            self._keep(failed, exc)
        except WebsiteMonitorError as exc:
            self._keep(events, exc)
        else:
            self.stats.buckets_published += len(events)
            return
        self.stats.buckets_published += len(events) - len(self._unpublished)

    def _keep(self, events: list[TelemetryBucket], exc: WebsiteMonitorError) -> None:
        self.stats.publish_failures += 1
        if len(events) > MAX_UNPUBLISHED:
            logger.error("dropping %d unpublished buckets", len(events) - MAX_UNPUBLISHED)
            events = events[-MAX_UNPUBLISHED:]
        self._unpublished = events
        self.stats.unpublished = len(events)
        logger.warning(
            "%d buckets not published, retrying at the next flush: %s",
            len(events),
            exc.message,
            extra={"event": "publish_failed"},
        )

    def _report(self) -> None:
        self.stats.unpublished = len(self._unpublished)
        self.on_report(self.stats)


def describe_bad(bad: collections.Counter[str]) -> str:
    return ", ".join(f"{reason}={count}" for reason, count in sorted(bad.items())) or "none"


def _log_report(stats: ListenerStats) -> None:
    logger.info(
        "received %d datagrams (%d llpp messages, %d statsd metrics), %d dropped by the kernel "
        "(receive buffer full), %d dropped by the listener (queue full), %d bad: %s; "
        "%d bucket deltas published, %d pending",
        stats.received,
        stats.messages,
        stats.metrics,
        stats.kernel_drops,
        stats.dropped,
        stats.bad_total,
        describe_bad(stats.bad),
        stats.buckets_published,
        stats.unpublished,
        extra={
            "event": "listen_progress",
            "bad": dict(stats.bad),
            "kernel_drops": stats.kernel_drops,
            "dropped": stats.dropped,
        },
    )
