"""The registry of kinds of data: everything generic finds them here, and only here.

Adding a kind is one package defining a `Feature` (see `website_monitor.feature`
for every extension point) and one line below. Order matters twice: migrations
run in this order, and the page shows the panels in it.
"""

from __future__ import annotations

from website_monitor import alerts, deadletters, logs, probes, telemetry
from website_monitor.feature import EventKind, Feature

FEATURES: tuple[Feature, ...] = (
    deadletters.FEATURE,
    probes.FEATURE,
    alerts.FEATURE,  # before logs: the traffic alerts' migration moves them to incidents
    logs.FEATURE,
    telemetry.FEATURE,
)


def event_kinds() -> list[EventKind]:
    """Every kind of message, across the features."""
    return [kind for feature in FEATURES for kind in feature.events]


def kind_of(event_type: type) -> EventKind:
    """The registered kind of an event class, or KeyError."""
    for kind in event_kinds():
        if kind.type is event_type:
            return kind
    raise KeyError(event_type.__name__)


def named(name: str) -> Feature:
    """The feature called `name`, or KeyError."""
    for feature in FEATURES:
        if feature.name == name:
            return feature
    raise KeyError(name)
