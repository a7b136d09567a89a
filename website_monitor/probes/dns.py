"""DNS checks (`dns://name?type=A&server=host:port&expect=…`): time one query, check the answers.

The query goes to `server` (a name there is resolved first, not timed) or to
the system's resolvers (`/etc/resolv.conf`), through dnspython, under the same
`--timeout` as an HTTP request. `response_time_ms` and `dns_ms` are the
query's time. The answers (normalized as `targets.normalize_answer` says: TXT
strings joined, names without the final dot) are what `answers` and `body`
read in conditions; each `expect=` must be one of them. A name that does not
exist, a server failure or an empty answer is the `dns` error.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import time
from datetime import datetime

import dns.asyncresolver
import dns.exception
import dns.resolver

from website_monitor.probes.codec import ProbeResult
from website_monitor.probes.conditions import Facts
from website_monitor.probes.judge import CheckOptions, judge
from website_monitor.probes.targets import DnsTarget, normalize_answer


@functools.lru_cache(maxsize=1)
def _system_resolver() -> dns.asyncresolver.Resolver:
    return dns.asyncresolver.Resolver(configure=True)


async def _resolver(target: DnsTarget) -> dns.asyncresolver.Resolver:
    if target.server is None:
        return _system_resolver()
    host, port = target.server
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [str(infos[0][4][0])]
    resolver.port = port
    return resolver


async def check(
    url: str, target: DnsTarget, options: CheckOptions, timestamp: datetime
) -> ProbeResult:
    """One DNS query; a failure is a result, never an exception."""
    try:
        resolver = await _resolver(target)
    except (OSError, dns.exception.DNSException) as exc:
        return _failure(url, timestamp, options, "dns", f"cannot use the server: {_text(exc)}")
    started = time.perf_counter()
    try:
        answer = await resolver.resolve(
            target.name + ".",
            target.type,
            lifetime=options.timeout,
            raise_on_no_answer=False,
            search=False,
        )
    except dns.exception.Timeout:
        return _failure(
            url, timestamp, options, "timeout", f"no answer within {options.timeout:g}s"
        )
    except dns.resolver.NXDOMAIN:
        return _failure(url, timestamp, options, "dns", f"{target.name} does not exist (NXDOMAIN)")
    except dns.resolver.NoNameservers as exc:
        return _failure(url, timestamp, options, "dns", f"no server answered: {_text(exc)}")
    except (dns.exception.DNSException, OSError) as exc:
        return _failure(url, timestamp, options, "dns", _text(exc))
    elapsed = round((time.perf_counter() - started) * 1000.0, 3)
    answers = [_answer(target.type, rdata) for rdata in (answer.rrset or ())]
    if not answers:
        return _failure(
            url, timestamp, options, "dns", f"no {target.type} record for {target.name}", elapsed
        )
    facts = Facts(kind="dns", total_ms=elapsed, dns_ms=elapsed, answers=answers)
    verdict = judge(facts, options, own=target.conditions)
    return ProbeResult(
        url=url,
        timestamp=timestamp,
        http_status_code=None,
        response_time_ms=elapsed,
        error=verdict.error,
        error_detail=verdict.error_detail,
        ok=verdict.ok,
        dns_ms=elapsed,
        location=options.location,
        failed_condition=verdict.failed_condition,
    )


def _answer(record: str, rdata: object) -> str:
    strings = getattr(rdata, "strings", None)
    if record == "TXT" and strings is not None:
        return b"".join(strings).decode("utf-8", errors="replace")
    return normalize_answer(record, str(rdata))


def _text(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__


def _failure(
    url: str,
    timestamp: datetime,
    options: CheckOptions,
    kind: str,
    detail: str,
    elapsed: float | None = None,
) -> ProbeResult:
    return ProbeResult.failed(
        url, timestamp, kind, detail, dns_ms=elapsed, location=options.location
    )
