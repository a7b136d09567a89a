"""HTTP checks: time a request to each URL and turn the outcome into a `ProbeResult`.

Requests run concurrently on a bounded thread pool over one `requests.Session`,
so connections are reused within a run. The connection classes below time DNS
resolution, TCP connect and the TLS handshake when a new connection is opened;
on a reused connection those phases are None because they did not happen.
"""

from __future__ import annotations

import dataclasses
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError, NewConnectionError

from website_monitor import __version__
from website_monitor.errors import ConfigError, DeliveryError
from website_monitor.events import ProbeResult, utcnow
from website_monitor.transport import Publisher

USER_AGENT = f"website-monitor/{__version__} (+wm probe)"
#: The body is read to the end for timing, but at most this much is kept for --expect-regex.
MAX_BODY_FOR_MATCH = 4 * 1024 * 1024

_phases = threading.local()


def _record(name: str, seconds: float) -> None:
    timings = getattr(_phases, "timings", None)
    if timings is not None:
        timings[name] = round(seconds * 1000.0, 3)


class _TimedConnectionMixin:
    """Time name resolution and TCP connect separately, trying each address in turn."""

    _dns_host: str
    port: int

    def _new_conn(self) -> socket.socket:
        started = time.perf_counter()
        try:
            infos = socket.getaddrinfo(self._dns_host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self._dns_host, self, exc) from exc  # type: ignore[arg-type]
        resolved = time.perf_counter()
        _record("dns_ms", resolved - started)
        host = self._dns_host
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        last_error: Exception | None = None
        try:
            for address in addresses:
                self._dns_host = address
                try:
                    sock: socket.socket = super()._new_conn()  # type: ignore[misc]
                except NewConnectionError as exc:
                    last_error = exc
                    continue
                _record("connect_ms", time.perf_counter() - resolved)
                return sock
        finally:
            self._dns_host = host
        assert last_error is not None
        raise last_error


class TimedHTTPConnection(_TimedConnectionMixin, HTTPConnection):
    pass


class TimedHTTPSConnection(_TimedConnectionMixin, HTTPSConnection):
    def connect(self) -> None:
        started = time.perf_counter()
        super().connect()
        timings = getattr(_phases, "timings", None)
        if timings is not None and "connect_ms" in timings:
            total = (time.perf_counter() - started) * 1000.0
            tls = total - timings.get("dns_ms", 0.0) - timings["connect_ms"]
            timings["tls_ms"] = round(max(tls, 0.0), 3)


class _TimedHTTPPool(HTTPConnectionPool):
    ConnectionCls = TimedHTTPConnection


class _TimedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = TimedHTTPSConnection


class TimedAdapter(requests.adapters.HTTPAdapter):
    """An adapter whose pools open timed connections."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _TimedHTTPPool,
            "https": _TimedHTTPSPool,
        }


@dataclasses.dataclass(frozen=True)
class CheckOptions:
    """How to judge a response."""

    timeout: float = 10.0
    expect_status: int | None = None
    expect_regex: re.Pattern[str] | None = None


def compile_regex(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ConfigError(
            f"invalid --expect-regex {pattern!r}: {exc}", hint="use a Python regular expression"
        ) from None


def validate_url(url: str) -> str:
    """The URL, if it is an absolute http(s) URL; else a ConfigError."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"invalid URL {url!r}: {exc}", hint="e.g. https://example.org/") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"invalid URL {url!r}", hint="give an absolute http:// or https:// URL")
    return url


def read_urls_file(path: str) -> list[str]:
    """URLs one per line; blank lines and `#` comments ignored."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read URLs file {path}: {exc}") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def classify(exc: BaseException) -> str:
    """A short error kind for a failed request."""
    if isinstance(exc, requests.exceptions.Timeout):
        return "timeout"
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls"
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return "redirects"
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema)):
        return "invalid"
    chain = list(_causes(exc))
    if any(isinstance(e, (NameResolutionError, socket.gaierror)) for e in chain):
        return "dns"
    if any(isinstance(e, ConnectionRefusedError) for e in chain):
        return "refused"
    if any(isinstance(e, urllib3.exceptions.SSLError) for e in chain):
        return "tls"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return "connection"
    return "other"


def describe(exc: BaseException) -> str:
    """The most specific message in the exception chain, on one line."""
    chain = list(_causes(exc))
    for candidate in chain:
        if isinstance(candidate, NameResolutionError):
            return f"cannot resolve host {candidate._host!r}"
    for candidate in chain:
        if isinstance(candidate, OSError) and candidate.strerror:
            return str(candidate.strerror)
    return " ".join(str(exc).split())[:300]


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend([current.__cause__, current.__context__])
        stack.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)


class Prober:
    """Checks URLs concurrently with a bounded pool, reusing connections across rounds."""

    def __init__(self, options: CheckOptions, concurrency: int = 10) -> None:
        self.options = options
        self.concurrency = concurrency
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        adapter = TimedAdapter(pool_connections=concurrency, pool_maxsize=concurrency)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="wm-probe")

    def check(self, url: str) -> ProbeResult:
        """Probe one URL; a failed request is a result, never an exception."""
        timings: dict[str, float] = {}
        _phases.timings = timings
        timestamp = utcnow()
        started = time.perf_counter()
        try:
            with self.session.get(url, timeout=self.options.timeout, stream=True) as response:
                headers_at = time.perf_counter()
                body = self._read_body(response)
                finished = time.perf_counter()
        except Exception as exc:  # any failure of the request becomes a result
            return ProbeResult(
                url=url,
                timestamp=timestamp,
                http_status_code=None,
                response_time_ms=None,
                error=classify(exc),
                error_detail=describe(exc),
                dns_ms=timings.get("dns_ms"),
                connect_ms=timings.get("connect_ms"),
                tls_ms=timings.get("tls_ms"),
            )
        finally:
            _phases.timings = None
        setup = sum(timings.get(k, 0.0) for k in ("dns_ms", "connect_ms", "tls_ms"))
        content_match = None
        if self.options.expect_regex is not None:
            text = body.decode(response.encoding or "utf-8", errors="replace")
            content_match = self.options.expect_regex.search(text) is not None
        ok = response.status_code < 400 and content_match is not False
        if self.options.expect_status is not None:
            ok = response.status_code == self.options.expect_status and content_match is not False
        return ProbeResult(
            url=url,
            timestamp=timestamp,
            http_status_code=response.status_code,
            response_time_ms=round((finished - started) * 1000.0, 3),
            content_match=content_match,
            ok=ok,
            ttfb_ms=round(max((headers_at - started) * 1000.0 - setup, 0.0), 3),
            dns_ms=timings.get("dns_ms"),
            connect_ms=timings.get("connect_ms"),
            tls_ms=timings.get("tls_ms"),
        )

    def _read_body(self, response: requests.Response) -> bytes:
        kept = bytearray()
        for chunk in response.iter_content(chunk_size=65536):
            if len(kept) < MAX_BODY_FOR_MATCH:
                kept.extend(chunk[: MAX_BODY_FOR_MATCH - len(kept)])
        return bytes(kept)

    def run(self, urls: Sequence[str]) -> list[ProbeResult]:
        """Probe every URL once, at most `concurrency` at a time, results in input order."""
        return list(self._pool.map(self.check, urls))

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.session.close()

    def __enter__(self) -> Prober:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def collect_urls(urls: Iterable[str], urls_file: str | None) -> list[str]:
    """All URLs to probe, validated and without duplicates, in the order given."""
    found = list(urls)
    if urls_file:
        found.extend(read_urls_file(urls_file))
    if not found:
        raise ConfigError(
            "no URL to probe", hint="give URLs as arguments, with -u/--url, WM_URL or --urls-file"
        )
    return list(dict.fromkeys(validate_url(url) for url in found))


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
