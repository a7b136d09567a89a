"""Checks: time a request to each URL and turn the outcome into a `ProbeResult`.

HTTP(S) checks are made here; `tcp://` and `dns://` URLs go to `probes.tcp`
and `probes.dns` on the same loop, and every answer is judged by `probes.judge`.

Checks run as asyncio tasks on one event loop owned by the `Prober`, over one
aiohttp session whose connection pool lives as long as the Prober, so rounds
with `--every` reuse connections. One loop thread instead of a thread per
request keeps the CPU cost per check low, and the recorded times are not
inflated by threads waiting for the interpreter lock.

Phases are measured on new connections only (None on a reused one, because
they did not happen): DNS by the session's trace hooks (the DNS cache is off,
so every new connection resolves), TCP connect up to the moment the connected
socket is handed to the transport, TLS from then until the connection is ready.
"""

from __future__ import annotations

import asyncio
import codecs
import contextvars
import dataclasses
import functools
import os
import ssl
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from types import SimpleNamespace
from typing import Any, TypeVar

import aiohttp
from aiohttp.client_proto import ResponseHandler

from website_monitor import __version__
from website_monitor.codec import utcnow
from website_monitor.errors import DeliveryError
from website_monitor.probes import certs, dns, targets, tcp
from website_monitor.probes.codec import ProbeResult
from website_monitor.probes.conditions import Facts
from website_monitor.probes.judge import CheckOptions, compile_regex, judge
from website_monitor.probes.targets import collect_urls, read_urls_file, validate_url
from website_monitor.transport import Publisher

__all__ = [
    "CheckOptions",
    "Prober",
    "RoundOutcome",
    "collect_urls",
    "compile_regex",
    "read_urls_file",
    "run_rounds",
    "validate_url",
]

USER_AGENT = f"website-monitor/{__version__} (+wm probe)"
#: The body is read to the end for timing, but at most this much is kept for conditions.
MAX_BODY_FOR_MATCH = 4 * 1024 * 1024
#: Redirects followed before a check fails with the `redirects` error kind.
MAX_REDIRECTS = 30

_T = TypeVar("_T")


@dataclasses.dataclass
class _Phases:
    """Timestamps (perf_counter) of one check's connection phases, summed over its connections.

    A check can open more than one connection when it follows redirects; the
    phase durations add up, so `ttfb_ms` can subtract all the setup.
    """

    tls: bool = False
    create_start: float | None = None
    dns_start: float | None = None
    dns_end: float | None = None
    tcp_connected: float | None = None
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    #: The TLS object of the connection the last request went out on (new or reused).
    ssl_object: Any = None

    def request_start(self, url: str) -> None:
        self.tls = url.startswith("https:")

    def dns_started(self) -> None:
        self.dns_start = time.perf_counter()

    def dns_ended(self) -> None:
        self.dns_end = time.perf_counter()

    def connection_start(self) -> None:
        self.create_start = time.perf_counter()
        self.dns_start = self.dns_end = self.tcp_connected = None

    def connected(self) -> None:
        """The TCP connection is up; the TLS handshake (if any) starts now."""
        self.tcp_connected = time.perf_counter()
        if self.create_start is None:  # not a connection this check asked for
            return
        if self.dns_start is not None and self.dns_end is not None:
            self.dns_ms = _add(self.dns_ms, self.dns_end - self.dns_start)
            connect_from = self.dns_end
        else:  # an IP address: nothing to resolve
            self.dns_ms = _add(self.dns_ms, 0.0)
            connect_from = self.create_start
        self.connect_ms = _add(self.connect_ms, self.tcp_connected - connect_from)

    def connection_end(self) -> None:
        if self.tls and self.tcp_connected is not None:
            self.tls_ms = _add(self.tls_ms, time.perf_counter() - self.tcp_connected)
        self.create_start = None

    def setup_ms(self) -> float:
        return sum(v for v in (self.dns_ms, self.connect_ms, self.tls_ms) if v is not None)


def _add(total: float | None, seconds: float) -> float:
    return (total or 0.0) + max(seconds, 0.0) * 1000.0


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


#: The phases of the check running in the current task; read when a socket connects.
_current_phases: contextvars.ContextVar[_Phases | None] = contextvars.ContextVar(
    "wm_probe_phases", default=None
)


def _phases_of(ctx: SimpleNamespace) -> _Phases | None:
    phases = ctx.trace_request_ctx
    return phases if isinstance(phases, _Phases) else None


#: A trace hook of aiohttp's: (session, trace context, event parameters) -> None.
_Hook = Callable[[aiohttp.ClientSession, SimpleNamespace, Any], Coroutine[Any, Any, None]]


def _hook(mark: Callable[[_Phases, Any], None]) -> _Hook:
    """A trace hook that hands the event to the check's phases (requests of others: ignored)."""

    async def hook(session: aiohttp.ClientSession, ctx: SimpleNamespace, params: Any) -> None:
        phases = _phases_of(ctx)
        if phases is not None:
            mark(phases, params)

    return hook


def _trace_config() -> aiohttp.TraceConfig:
    config = aiohttp.TraceConfig()
    config.on_request_start.append(_hook(lambda p, params: p.request_start(str(params.url))))
    config.on_connection_create_start.append(_hook(lambda p, _: p.connection_start()))
    config.on_connection_create_end.append(_hook(lambda p, _: p.connection_end()))
    config.on_dns_resolvehost_start.append(_hook(lambda p, _: p.dns_started()))
    config.on_dns_resolvehost_end.append(_hook(lambda p, _: p.dns_ended()))
    return config


def _timed_protocol(factory: Callable[[], ResponseHandler]) -> ResponseHandler:
    """Called by the event loop with an already connected socket, before any TLS handshake."""
    phases = _current_phases.get()
    if phases is not None:
        phases.connected()
    return factory()


class _TimedConnector(aiohttp.TCPConnector):
    """A connector that marks when TCP is connected, to tell connect time from TLS time.

    aiohttp reports a connection's creation as one span (DNS, TCP and TLS). The
    protocol factory is called by `loop.create_connection` once the socket is
    connected and before the TLS handshake starts, so wrapping it splits the span.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._factory = functools.partial(_timed_protocol, self._factory)

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:
        """A connection for one request, new or from the pool: its TLS object is noted for
        the check, whose response may release the connection before it is read."""
        connection = await super().connect(req, traces, timeout)
        phases = _current_phases.get()
        transport = connection.transport
        if phases is not None and transport is not None:
            phases.ssl_object = transport.get_extra_info("ssl_object")
        return connection


def classify(exc: BaseException) -> str:
    """A short error kind for a failed request."""
    if isinstance(exc, asyncio.TimeoutError):  # includes the client's own timeout errors
        return "timeout"
    if isinstance(exc, (aiohttp.ClientSSLError, ssl.SSLError)):
        return "tls"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "redirects"
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return "invalid"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return "dns"
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(
        exc.os_error, ConnectionRefusedError
    ):
        return "refused"
    if isinstance(exc, (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError)):
        return "connection"
    if isinstance(exc, aiohttp.ClientResponseError):  # a malformed response
        return "connection"
    return "other"


def describe(exc: BaseException, timeout: float | None = None) -> str:
    """The most specific message for a failed request, on one line."""
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        return f"cannot resolve host {exc.host!r}"
    if isinstance(exc, asyncio.TimeoutError):
        limit = f" within {timeout:g}s" if timeout is not None else ""
        if isinstance(exc, aiohttp.ConnectionTimeoutError):
            return f"no connection{limit}"
        return f"no complete response{limit}"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return f"more than {MAX_REDIRECTS} redirects"
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        if isinstance(cert_error, ssl.SSLCertVerificationError) and cert_error.verify_message:
            return f"certificate verify failed: {cert_error.verify_message}"
        return _one_line(str(cert_error))
    if isinstance(exc, aiohttp.ClientConnectorError):
        return _os_message(exc.os_error)
    if isinstance(exc, OSError):
        return _os_message(exc)
    return _one_line(str(exc)) or type(exc).__name__


def _os_message(exc: OSError) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    if exc.errno:
        return os.strerror(exc.errno)
    return _one_line(str(exc)) or type(exc).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split())[:300]


def _charset(response: aiohttp.ClientResponse) -> str:
    """The response's charset if Python knows it, else utf-8."""
    charset = response.charset
    if charset:
        try:
            return codecs.lookup(charset).name
        except LookupError:
            pass
    return "utf-8"


class Prober:
    """Checks URLs concurrently, reusing connections across rounds.

    The Prober owns an event loop and one session for its whole life; `run` and
    `check` drive that loop from the calling thread, one call at a time.
    """

    def __init__(self, options: CheckOptions, concurrency: int = 10) -> None:
        self.options = options
        self.concurrency = max(1, concurrency)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._closed = False
        try:
            self._session = self._loop.run_until_complete(self._open_session())
        except BaseException:
            self._loop.close()
            raise

    async def _open_session(self) -> aiohttp.ClientSession:
        connector = _TimedConnector(
            limit=self.concurrency,
            use_dns_cache=False,  # every new connection resolves, so dns_ms is a real lookup
            # the system's trust store (SSL_CERT_FILE / SSL_CERT_DIR are honoured)
            ssl=ssl.create_default_context(),
        )
        return aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": USER_AGENT},
            timeout=aiohttp.ClientTimeout(total=self.options.timeout),
            trace_configs=[_trace_config()],
        )

    def check(self, url: str) -> ProbeResult:
        """Probe one URL; a failed request is a result, never an exception."""
        return self._run(self._check(url))

    def run(self, urls: Sequence[str]) -> list[ProbeResult]:
        """Probe every URL once, at most `concurrency` at a time, results in input order."""
        return self._run(self._check_all(list(urls)))

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        with self._lock:
            if self._closed:
                coro.close()
                raise RuntimeError("the Prober is closed")
            return self._loop.run_until_complete(coro)

    async def _check_all(self, urls: list[str]) -> list[ProbeResult]:
        """A fixed set of workers takes the next URL, so at most `concurrency` are in flight."""
        results: list[ProbeResult | None] = [None] * len(urls)
        queue = iter(enumerate(urls))

        async def worker() -> None:
            for index, url in queue:
                results[index] = await self._check(url)

        await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(urls)))))
        return [result for result in results if result is not None]

    async def _check(self, url: str) -> ProbeResult:
        kind = targets.kind_of(url)
        if kind == "tcp":
            return await tcp.check(url, targets.tcp_target(url), self.options, utcnow())
        if kind == "dns":
            return await dns.check(url, targets.dns_target(url), self.options, utcnow())
        return await self._check_http(url)

    async def _check_http(self, url: str) -> ProbeResult:
        options = self.options
        phases = _Phases()
        token = _current_phases.set(phases)
        timestamp = utcnow()
        started = time.perf_counter()
        try:
            async with self._session.get(
                url, max_redirects=MAX_REDIRECTS + 1, trace_request_ctx=phases
            ) as response:
                headers_at = time.perf_counter()
                cert = certs.peer_certificates(phases.ssl_object)
                body = await self._read_body(response)
                finished = time.perf_counter()
        except Exception as exc:  # any failure of the request becomes a result
            return ProbeResult.failed(
                url,
                timestamp,
                classify(exc),
                describe(exc, options.timeout),
                dns_ms=_ms(phases.dns_ms),
                connect_ms=_ms(phases.connect_ms),
                tls_ms=_ms(phases.tls_ms),
                location=options.location,
            )
        finally:
            _current_phases.reset(token)
        content_match = None
        if options.expect_regex is not None:
            text = body.decode(_charset(response), errors="replace")
            content_match = options.expect_regex.search(text) is not None
        facts = Facts(
            kind="https" if response.url.scheme == "https" else "http",
            status=response.status,
            total_ms=round((finished - started) * 1000.0, 3),
            dns_ms=_ms(phases.dns_ms),
            connect_ms=_ms(phases.connect_ms),
            tls_ms=_ms(phases.tls_ms),
            ttfb_ms=round(max((headers_at - started) * 1000.0 - phases.setup_ms(), 0.0), 3),
            body=body,
            charset=_charset(response),
            headers=response.headers,
            cert_days=None if cert is None else cert.days_left(timestamp),
        )
        verdict = judge(facts, options, content_match=content_match)
        return ProbeResult(
            url=url,
            timestamp=timestamp,
            http_status_code=response.status,
            response_time_ms=facts.total_ms,
            error=verdict.error,
            error_detail=verdict.error_detail,
            content_match=content_match,
            ok=verdict.ok,
            ttfb_ms=facts.ttfb_ms,
            dns_ms=facts.dns_ms,
            connect_ms=facts.connect_ms,
            tls_ms=facts.tls_ms,
            location=options.location,
            cert_expires_at=None if cert is None else cert.expires_at,
            cert_issuer=None if cert is None else cert.issuer,
            failed_condition=verdict.failed_condition,
        )

    @staticmethod
    async def _read_body(response: aiohttp.ClientResponse) -> bytes:
        """Read to the end (the timing covers the whole body) but keep only what a match needs."""
        kept = bytearray()
        async for chunk in response.content.iter_any():
            if len(kept) < MAX_BODY_FOR_MATCH:
                kept.extend(chunk[: MAX_BODY_FOR_MATCH - len(kept)])
        return bytes(kept)

    def close(self) -> None:
        """Close the connections, then the loop, leaving no task or thread behind."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop = self._loop
            try:
                pending = asyncio.all_tasks(loop)
                for task in pending:  # left over if a round was interrupted (Ctrl-C)
                    task.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(self._session.close())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()

    def __enter__(self) -> Prober:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclasses.dataclass
class RoundOutcome:
    """One round of checks and whether its results were delivered."""

    results: list[ProbeResult]
    error: DeliveryError | None = None


def run_rounds(
    prober: Prober,
    publisher: Publisher,
    urls: Sequence[str],
    *,
    every: float | None,
    stop: threading.Event,
    on_round: Callable[[RoundOutcome], None],
) -> int:
    """Probe and publish one round, or one every `every` seconds until `stop` is set.

    Rounds start on a fixed schedule (not after the previous one ends), so a slow
    site does not make the interval drift. Returns the number of rounds whose
    results were not all delivered.
    """
    failed = 0
    next_start = time.monotonic()
    while True:
        results = prober.run(urls)
        outcome = RoundOutcome(results)
        try:
            publisher.publish(results)
        except DeliveryError as exc:
            outcome.error = exc
            failed += 1
        on_round(outcome)
        if every is None:
            return failed
        next_start += every
        now = time.monotonic()
        if next_start < now:  # a round overran: skip the missed slots instead of bursting
            next_start += every * ((now - next_start) // every + 1)
        if stop.wait(max(0.0, next_start - now)):
            return failed
