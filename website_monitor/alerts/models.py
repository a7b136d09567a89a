"""What the alerting queries return: typed documents for `wm incidents`, `wm slo`, the API
and OpenAPI (generated from these, so the three cannot disagree)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

Time = Annotated[str, Meta(description="ISO 8601 UTC")]
Burn = Annotated[float, Meta(description="times the rate that spends the budget over the window")]


class Notified(Struct, kw_only=True):
    """One notification of one transition to one notifier, and how its delivery went."""

    notifier: str
    transition: Annotated[str, Meta(description="open, remind-N or resolve")]
    dedup_key: Annotated[str, Meta(description="incident id and transition: the same on retries")]
    state: Annotated[
        Literal["pending", "sent", "failed", "suppressed"],
        Meta(description="failed: given up after the retries; suppressed: maintenance, a silence"),
    ]
    attempts: int
    sent_at: Time | None
    error: Annotated[str | None, Meta(description="why the last attempt failed (or why held back)")]


class Incident(Struct, kw_only=True):
    """A URL down or slow, an SLO burning its budget, or high traffic seen by `wm tail`."""

    id: str
    alert: Annotated[str, Meta(description="the [[alert]] or [[slo]] name")]
    url: str | None
    kind: Literal["down", "latency", "slo_burn", "traffic"]
    state: Literal["open", "resolved"]
    started_at: Time
    resolved_at: Time | None
    failures: Annotated[int, Meta(description="failed checks during the incident")]
    last_error: str | None
    notified: list[Notified]
    source: Annotated[str | None, Meta(description="traffic: the wm tail --source")] = None
    severity: Literal["page", "notify"] = "page"
    peak: Annotated[
        float | None, Meta(description="latency ms, burn rate or hits/s at its worst")
    ] = None
    threshold: float | None = None
    maintenance: Annotated[bool, Meta(description="it happened in a maintenance window")] = False


class Incidents(Struct, kw_only=True):
    """What `wm incidents` prints, oldest first."""

    incidents: list[Incident]


class BurnRates(Struct, kw_only=True):
    w1h: Burn | None = msgspec.field(name="1h")
    w6h: Burn | None = msgspec.field(name="6h")
    w1d: Burn | None = msgspec.field(name="1d")
    w3d: Burn | None = msgspec.field(name="3d")


class SloReport(Struct, kw_only=True):
    """One service level objective over its rolling window."""

    name: str
    objective: Annotated[float, Meta(description="percent of good checks")]
    window: str
    good: int
    total: int
    sli: Annotated[float | None, Meta(description="good / total (null without checks)")]
    error_budget_remaining: Annotated[
        float | None, Meta(description="1 - bad share / budget: 1 untouched, 0 spent, < 0 over")
    ]
    burn_rates: BurnRates
    urls: list[str] = []


class Slos(Struct, kw_only=True):
    """What `wm slo` prints."""

    slos: list[SloReport]


class Silence(Struct, kw_only=True):
    """Notifications of a URL held back until `ends_at` (`wm alert silence`)."""

    id: str
    url: str
    starts_at: Time
    ends_at: Time
    reason: str | None


class Silenced(Struct, kw_only=True):
    silence: Silence


class SentTest(Struct, kw_only=True):
    """What `wm alert test` prints once the notifier accepted the test."""

    notifier: str
    type: str
    dedup_key: str
    sent: bool
