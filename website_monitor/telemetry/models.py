"""What the telemetry queries return: typed documents for the CLI, the API and OpenAPI."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

Value = float | None | UnsetType


class Bucket(Struct, kw_only=True):
    """One station's (llpp) or StatsD metric's time bucket. Values are milliseconds for
    service times and timers; `variance` is the population variance. Which fields are
    present depends on `type`."""

    name: str
    type: Literal["station", "timer", "counter", "gauge"]
    bucket_start: str
    bucket_end: str
    bucket_seconds: int
    current: Annotated[bool, Meta(description="the bucket now open")]
    arrivals: int | UnsetType = UNSET
    departures: int | UnsetType = UNSET
    status: str | UnsetType | None = UNSET
    count: int
    total: float | UnsetType = UNSET
    mean: Value = UNSET
    variance: Value = UNSET
    min: Value = UNSET
    max: Value = UNSET
    first: Value = UNSET
    last: Value = UNSET
    sum: float | UnsetType = UNSET
    value: Annotated[Value, Meta(description="a gauge's last value")] = UNSET
    p50: Annotated[Value, Meta(description="a timer's median, within 0.5 %")] = UNSET
    p95: Annotated[Value, Meta(description="a timer's 95th percentile, within 0.5 %")] = UNSET
    p99: Annotated[Value, Meta(description="a timer's 99th percentile, within 0.5 %")] = UNSET


class Stations(Struct, kw_only=True):
    """What `wm stations` prints."""

    stations: list[Bucket]
