"""Storing probe results: one bulk insert per batch, in the caller's transaction.

On PostgreSQL the batch goes in as COPY text, built here field by field
(`copy_rows`): the flush builds this text for every row it stores, and a
generic formatter takes almost four times as long.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import orjson

from website_monitor.probes.codec import ProbeResult
from website_monitor.store.base import RowsOf, Transaction
from website_monitor.store.copytext import NULL, copy_escape, text_of

PROBE_COLUMNS = (
    "event_id",
    "url",
    "timestamp",
    "http_status_code",
    "response_time_ms",
    "error",
    "error_detail",
    "content_match",
    "ok",
    "dns_ms",
    "connect_ms",
    "tls_ms",
    "ttfb_ms",
    "location",
    "cert_expires_at",
    "cert_issuer",
    "failed_condition",
)


def probe_row(probe: ProbeResult) -> tuple[Any, ...]:
    return tuple(getattr(probe, column) for column in PROBE_COLUMNS)


def write(tx: Transaction, probes: Sequence[ProbeResult]) -> int:
    """Insert the probes, skipping event ids already stored; returns the rows inserted."""
    return tx.insert(
        "url_probes",
        PROBE_COLUMNS,
        RowsOf(probes, probe_row),
        copy_text=text_of(probes, lambda: copy_rows(probes)),
    )


_UTC = timezone.utc


def _text_column(values: list[str]) -> list[str]:
    """`copy_escape` of each of `values` (none None): the list itself when none needs it.

    One scan of the joined column instead of four per value: ids and URLs
    almost never hold a backslash, tab or line break.
    """
    try:
        joined = "".join(values)
    except TypeError:  # (a None, though typed out: written as NULL, as before)
        return [NULL if value is None else copy_escape(value) for value in values]
    if "\\" in joined or "\t" in joined or "\n" in joined or "\r" in joined:
        return [copy_escape(value) for value in values]
    return values


def _timestamps(probes: Sequence[ProbeResult]) -> list[str]:
    """`timestamp.isoformat()` of each probe, in a quarter of the time.

    orjson writes an aware UTC datetime exactly as `isoformat` does (microseconds
    only when not zero, `+00:00`), for the whole batch in one call; any other
    time zone, a naive time or a datetime subclass gets `isoformat` itself.
    """
    times = [probe.timestamp for probe in probes]
    try:
        texts = orjson.dumps(times).decode()[2:-2].split('","')
    except TypeError:  # a datetime subclass: orjson refuses it (it might format itself)
        return [time.isoformat() for time in times]
    return [
        text if time.tzinfo is _UTC else time.isoformat()
        for text, time in zip(texts, times, strict=True)
    ]


def copy_rows(probes: Sequence[ProbeResult]) -> str:
    """The probes as COPY text, one line each, columns in PROBE_COLUMNS order.

    Written out field by field rather than through a generic formatter, the
    fields that are usually None tested inline, and ids, URLs and times
    formatted a column at a time.
    """
    if not probes:
        return ""
    null = NULL
    ids = _text_column([probe.event_id for probe in probes])
    urls = _text_column([probe.url for probe in probes])
    return "".join(
        [
            f"{event_id}\t{url}\t{stamp}\t"
            f"{null if p.http_status_code is None else str(p.http_status_code)}\t"
            f"{null if p.response_time_ms is None else str(p.response_time_ms)}\t"
            f"{null if p.error is None else copy_escape(p.error)}\t"
            f"{null if p.error_detail is None else copy_escape(p.error_detail)}\t"
            f"{null if p.content_match is None else ('t' if p.content_match else 'f')}\t"
            f"{null if p.ok is None else ('t' if p.ok else 'f')}\t"
            f"{null if p.dns_ms is None else str(p.dns_ms)}\t"
            f"{null if p.connect_ms is None else str(p.connect_ms)}\t"
            f"{null if p.tls_ms is None else str(p.tls_ms)}\t"
            f"{null if p.ttfb_ms is None else str(p.ttfb_ms)}\t{checks}"
            for p, event_id, url, stamp, checks in zip(
                probes, ids, urls, _timestamps(probes), _check_columns(probes), strict=True
            )
        ]
    )


def _check_columns(probes: Sequence[ProbeResult]) -> list[str]:
    """The last four columns (location, certificate, failed condition) of each row, with
    its line end: formatted once per distinct combination, since a batch repeats a few
    (one location, one certificate per URL). A time not in UTC, or of a datetime
    subclass, is formatted for its row alone (an equal time may be written otherwise)."""
    formatted: dict[tuple[Any, ...], str] = {}
    columns = []
    for p in probes:
        expires = p.cert_expires_at
        key = (p.location, expires, p.cert_issuer, p.failed_condition)
        if expires is not None and (type(expires) is not datetime or expires.tzinfo is not _UTC):
            columns.append(_checks_text(*key))  # (equal to a UTC time, written otherwise)
            continue
        text = formatted.get(key)
        if text is None:
            text = formatted[key] = _checks_text(*key)
        columns.append(text)
    return columns


def _checks_text(
    location: str | None, expires: datetime | None, issuer: str | None, failed: str | None
) -> str:
    null = NULL
    return (
        f"{null if location is None else copy_escape(location)}\t"
        f"{null if expires is None else expires.isoformat()}\t"
        f"{null if issuer is None else copy_escape(issuer)}\t"
        f"{null if failed is None else copy_escape(failed)}\n"
    )
