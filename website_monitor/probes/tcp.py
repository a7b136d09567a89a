"""TCP checks (`tcp://host:port`): time the connect, optionally send a line and wait for a banner.

Phases: `dns_ms` the name's resolution (0 for an IP address), `connect_ms` the
TCP handshake, `ttfb_ms` from connected to the first byte received (with
`expect=` only), `response_time_ms` the whole check. What the server sent
until the expected text appeared, the server closed, 64 KiB arrived or the
time was up is the `body` conditions read; a server that sent nothing by then
is a timeout. The check runs under the same `--timeout` as an HTTP request.
"""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import datetime

from website_monitor.probes.codec import ProbeResult
from website_monitor.probes.conditions import Facts
from website_monitor.probes.judge import CheckOptions, judge
from website_monitor.probes.targets import TcpTarget

#: What is kept of the server's answer while waiting for `expect=`.
MAX_RECEIVED = 64 * 1024


class _Timing:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.dns_ms: float | None = None
        self.connect_ms: float | None = None
        self.ttfb_ms: float | None = None

    def since(self, mark: float) -> float:
        return round((time.perf_counter() - mark) * 1000.0, 3)


async def check(
    url: str, target: TcpTarget, options: CheckOptions, timestamp: datetime
) -> ProbeResult:
    """One TCP check; a failure is a result, never an exception."""
    timing = _Timing()
    try:
        received = await _exchange(target, timing, time.monotonic() + options.timeout)
    except Exception as exc:  # any failure of the check becomes a result
        return _failure(url, timestamp, timing, exc, options)
    total = timing.since(timing.started)
    facts = Facts(
        kind="tcp",
        total_ms=total,
        dns_ms=timing.dns_ms,
        connect_ms=timing.connect_ms,
        ttfb_ms=timing.ttfb_ms,
        body=received,
    )
    verdict = judge(facts, options, own=target.conditions)
    return ProbeResult(
        url=url,
        timestamp=timestamp,
        http_status_code=None,
        response_time_ms=total,
        error=verdict.error,
        error_detail=verdict.error_detail,
        ok=verdict.ok,
        dns_ms=timing.dns_ms,
        connect_ms=timing.connect_ms,
        ttfb_ms=timing.ttfb_ms,
        location=options.location,
        failed_condition=verdict.failed_condition,
    )


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


async def _exchange(target: TcpTarget, timing: _Timing, deadline: float) -> bytes:
    """Resolve, connect, send, and read until `expect` arrives, the server closes, 64 KiB were
    read, or the deadline: what arrived by then is judged (the conditions say whether it
    was enough); nothing at all by the deadline is a timeout."""
    loop = asyncio.get_running_loop()
    mark = time.perf_counter()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM), _left(deadline)
    )
    timing.dns_ms = 0.0 if _is_address(target.host) else timing.since(mark)
    family, _, proto, _, address = infos[0]
    mark = time.perf_counter()
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(*address[:2], family=family, proto=proto), _left(deadline)
    )
    try:
        connected = time.perf_counter()
        timing.connect_ms = timing.since(mark)
        if target.send:
            writer.write(target.send)
            await asyncio.wait_for(writer.drain(), _left(deadline))
        received = bytearray()
        if target.expect is not None:
            wanted = target.expect.encode("utf-8")
            while wanted not in received and len(received) < MAX_RECEIVED:
                try:
                    chunk = await asyncio.wait_for(
                        reader.read(MAX_RECEIVED - len(received)), _left(deadline)
                    )
                except (TimeoutError, asyncio.TimeoutError):
                    if received:
                        break  # judged on what the server sent
                    raise
                if not chunk:
                    break
                if timing.ttfb_ms is None:
                    timing.ttfb_ms = timing.since(connected)
                received.extend(chunk)
        return bytes(received)
    finally:
        writer.close()


def _is_address(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def _failure(
    url: str, timestamp: datetime, timing: _Timing, exc: BaseException, options: CheckOptions
) -> ProbeResult:
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        kind, detail = "timeout", f"no answer within {options.timeout:g}s"
    elif isinstance(exc, socket.gaierror):
        kind, detail = "dns", f"cannot resolve host: {exc.strerror or exc}"
    elif isinstance(exc, ConnectionRefusedError):
        kind, detail = "refused", "connection refused"
    elif isinstance(exc, OSError):
        kind, detail = "connection", exc.strerror or type(exc).__name__
    else:
        kind, detail = "other", " ".join(str(exc).split())[:300] or type(exc).__name__
    return ProbeResult.failed(
        url,
        timestamp,
        kind,
        detail,
        dns_ms=timing.dns_ms,
        connect_ms=timing.connect_ms,
        location=options.location,
    )
