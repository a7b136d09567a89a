"""What a check URL names: an HTTP(S) URL, `tcp://host:port` or `dns://name`, validated at start.

    http://… https://…                        an HTTP request (GET)
    tcp://host:port[?send=TEXT][&expect=TEXT]  a TCP connect, optionally a banner exchange
    dns://name[?type=A][&server=host[:port]][&expect=VALUE…]   a DNS query

Query values are percent-encoded (`send=PING%0D%0A`). A TCP `expect=TEXT` is
the condition `body contains "TEXT"` on what the server sent; each DNS
`expect=VALUE` is `answers contains "VALUE"`, so their failures are reported
like any `--expect` (`failed_condition`). The `url` of a result is the URL as
given.
"""

from __future__ import annotations

import dataclasses
import functools
import ipaddress
import json
from collections.abc import Iterable
from urllib.parse import parse_qs, urlsplit

from website_monitor.errors import ConfigError
from website_monitor.probes.codec import MAX_URL_LENGTH
from website_monitor.probes.conditions import Condition, parse

SCHEMES = ("http", "https", "tcp", "dns")
DNS_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "SRV", "PTR", "CAA")
URL_HINT = "give an absolute http:// or https:// URL, tcp://host:port or dns://name"


@dataclasses.dataclass(frozen=True)
class TcpTarget:
    host: str
    port: int
    send: bytes | None = None
    expect: str | None = None
    conditions: tuple[Condition, ...] = ()


@dataclasses.dataclass(frozen=True)
class DnsTarget:
    name: str
    type: str = "A"
    #: (host, port) of the server to ask; None: the system's resolvers.
    server: tuple[str, int] | None = None
    conditions: tuple[Condition, ...] = ()


def kind_of(url: str) -> str:
    """http, https, tcp or dns (the URL validated already)."""
    return url.split(":", 1)[0].lower()


def validate_url(url: str) -> str:
    """The URL, if it is a check URL this version understands; else a ConfigError."""
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ConfigError(
            f"URL {url[:60]!r}… is {len(url)} characters long",
            hint=f"a URL may have at most {MAX_URL_LENGTH} characters",
        )
    if "\x00" in url:
        raise ConfigError(f"URL {url[:60]!r} contains a NUL character")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"invalid URL {url!r}: {exc}", hint=URL_HINT) from None
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise ConfigError(f"invalid URL {url!r}", hint=URL_HINT)
    if parts.scheme == "tcp":
        tcp_target(url)
    elif parts.scheme == "dns":
        dns_target(url)
    return url


def _query(url: str, allowed: Iterable[str]) -> dict[str, list[str]]:
    parts = urlsplit(url)
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise ConfigError(f"invalid query in {url!r}", hint="use name=value&name=value") from None
    allowed = tuple(allowed)
    for name in query:
        if name not in allowed:
            raise ConfigError(
                f"unknown parameter {name!r} in {url!r}", hint=f"known: {', '.join(allowed)}"
            )
    return query


def _one(query: dict[str, list[str]], name: str, url: str) -> str | None:
    values = query.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise ConfigError(f"parameter {name!r} is given more than once in {url!r}")
    return values[0]


def _literal(text: str) -> str:
    """`text` as a string literal of the condition language."""
    return json.dumps(text, ensure_ascii=True)


@functools.lru_cache(maxsize=4096)
def tcp_target(url: str) -> TcpTarget:
    parts = urlsplit(url)
    if parts.port is None or parts.hostname is None:
        raise ConfigError(f"invalid URL {url!r}: no port", hint="e.g. tcp://db.internal:5432")
    if parts.path not in ("", "/") or parts.username or parts.password:
        raise ConfigError(f"invalid URL {url!r}", hint="tcp://host:port?send=…&expect=…")
    query = _query(url, ("send", "expect"))
    send = _one(query, "send", url)
    expect = _one(query, "expect", url)
    if expect == "":
        raise ConfigError(f"empty expect= in {url!r}", hint="give the text the server sends")
    conditions = (parse(f"body contains {_literal(expect)}"),) if expect is not None else ()
    return TcpTarget(
        host=parts.hostname,
        port=parts.port,
        send=send.encode("utf-8") if send else None,
        expect=expect,
        conditions=conditions,
    )


@functools.lru_cache(maxsize=4096)
def dns_target(url: str) -> DnsTarget:
    parts = urlsplit(url)
    name = parts.hostname
    if not name or parts.port is not None or parts.path not in ("", "/"):
        raise ConfigError(
            f"invalid URL {url!r}", hint="dns://name?type=A&server=host:port&expect=value"
        )
    query = _query(url, ("type", "server", "expect"))
    record = (_one(query, "type", url) or "A").upper()
    if record not in DNS_TYPES:
        raise ConfigError(
            f"unsupported DNS type {record!r} in {url!r}", hint=f"use one of {', '.join(DNS_TYPES)}"
        )
    server_text = _one(query, "server", url)
    server = _server(server_text, url) if server_text else None
    conditions = tuple(
        parse(f"answers contains {_literal(normalize_answer(record, value))}")
        for value in query.get("expect", [])
        if value
    )
    return DnsTarget(name=name.rstrip("."), type=record, server=server, conditions=conditions)


def _server(text: str, url: str) -> tuple[str, int]:
    try:
        parts = urlsplit("//" + text)
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host:
        raise ConfigError(
            f"invalid server {text!r} in {url!r}", hint="use host, host:port or [v6]:port"
        )
    return host, port or 53


def normalize_answer(record: str, value: str) -> str:
    """How an answer is compared: addresses in canonical form, names lowercase without the
    final dot, everything else as the server's text with names' final dots dropped."""
    value = value.strip()
    if record in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value
    if record in ("CNAME", "NS", "PTR"):
        return value.lower().rstrip(".")
    if record in ("MX", "SRV", "SOA"):
        return " ".join(part.rstrip(".") for part in value.split())
    return value


def read_urls_file(path: str) -> list[str]:
    """URLs one per line; blank lines and `#` comments ignored."""
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read URLs file {path}: {exc}") from None
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


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
