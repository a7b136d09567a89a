"""The alerting's part of `wm serve`: incidents and SLOs, their metrics and page panels."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Literal

from msgspec import Meta, Struct

from website_monitor.alerts import metrics, queries, rules, slo
from website_monitor.alerts.models import Incidents, Slos
from website_monitor.probes.public.status import PublicIncident
from website_monitor.store import Reader, Repository
from website_monitor.store.base import reading
from website_monitor.web.section import Endpoint, LiveStream, Section, time_param

Time = Annotated[str, Meta(description="ISO 8601 (naive means UTC) or an age such as 15m, 1h, 7d")]


class IncidentParams(Struct, kw_only=True):
    since: Annotated[Time, Meta(description="Open at any time since then")] | None = None
    state: Literal["open", "resolved"] | None = None
    kind: Annotated[
        list[Literal["down", "latency", "slo_burn", "traffic"]],
        Meta(description="Only these kinds (repeat the parameter)"),
    ] = []
    url: Annotated[list[str], Meta(description="Only these URLs (repeat the parameter)")] = []


def get_incidents(repository: Repository, params: IncidentParams) -> Incidents:
    return Incidents(
        incidents=queries.list_incidents(
            repository,
            since=time_param("since", params.since),
            state=params.state,
            kinds=tuple(params.kind),
            urls=tuple(params.url),
        )
    )


def public_incidents(reader: Reader, urls: Sequence[str]) -> list[PublicIncident]:
    """The open incidents of the status page's URLs: the rule's name, the URL and since when;
    nothing of the errors or notifications."""
    chosen = set(urls)
    return [
        PublicIncident(
            url=incident.url,
            title=incident.alert + (" (maintenance)" if incident.maintenance else ""),
            started_at=incident.started_at,
        )
        for incident in queries.list_incidents(reader, state="open", urls=tuple(urls))
        if incident.url in chosen
    ]


def get_slos(repository: Repository, params: None) -> Slos:
    now = datetime.now(timezone.utc)
    with reading(repository) as reader:
        return Slos(slos=[slo.report(reader, s, now) for s in rules.configured().slos])


INCIDENTS = Section(
    name="incidents",
    title="Incidents",
    endpoints=(
        Endpoint(
            "/api/incidents",
            "getIncidents",
            "Incidents (down, latency, SLO burn, traffic) with their notifications,"
            " as `wm incidents` prints them",
            get_incidents,
            Incidents,
            IncidentParams,
        ),
    ),
    metrics=(metrics.incident_metrics,),
    streams=(LiveStream("incidents", queries.transitions_seen, queries.incidents_after),),
    public_incidents=public_incidents,
    panel=Path(__file__).with_name("panel.js"),
)

SLOS = Section(
    name="slo",
    title="Service level objectives",
    endpoints=(
        Endpoint(
            "/api/slo",
            "getSlos",
            "Each [[slo]] of the server's config file: SLI, error budget and burn rates,"
            " as `wm slo` prints them",
            get_slos,
            Slos,
        ),
    ),
    metrics=(metrics.slo_metrics,),
    panel=Path(__file__).with_name("slo_panel.js"),
)
