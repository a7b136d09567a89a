"""`Settings`: every section, and the declarations of every setting in one list."""

from __future__ import annotations

import dataclasses

from website_monitor.config.commands import (
    FlushSettings,
    ListenSettings,
    ProbeSettings,
    ServeSettings,
    TailSettings,
    TopSettings,
)
from website_monitor.config.declare import Setting, collect
from website_monitor.config.shared import (
    LogSettings,
    RetentionSettings,
    StoreSettings,
    StreamSettings,
)


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every setting any command reads, resolved from all sources, by section:
    `settings.store.url`, `settings.tail.interval`."""

    store: StoreSettings = dataclasses.field(default_factory=StoreSettings)
    retention: RetentionSettings = dataclasses.field(default_factory=RetentionSettings)
    stream: StreamSettings = dataclasses.field(default_factory=StreamSettings)
    log: LogSettings = dataclasses.field(default_factory=LogSettings)
    probe: ProbeSettings = dataclasses.field(default_factory=ProbeSettings)
    flush: FlushSettings = dataclasses.field(default_factory=FlushSettings)
    tail: TailSettings = dataclasses.field(default_factory=TailSettings)
    listen: ListenSettings = dataclasses.field(default_factory=ListenSettings)
    serve: ServeSettings = dataclasses.field(default_factory=ServeSettings)
    top: TopSettings = dataclasses.field(default_factory=TopSettings)


#: Each section's class, and whether its top-level keys carry its name: the sections of
#: one command do (`tail_interval`, `log_level`), the shared ones do not (`topic`).
SECTIONS: dict[str, tuple[type, bool]] = {
    "store": (StoreSettings, False),
    "retention": (RetentionSettings, False),
    "stream": (StreamSettings, False),
    "log": (LogSettings, True),
    "probe": (ProbeSettings, False),
    "flush": (FlushSettings, False),
    "tail": (TailSettings, True),
    "listen": (ListenSettings, True),
    "serve": (ServeSettings, True),
    "top": (TopSettings, True),
}

#: Every setting, section by section, in the order they are declared.
DECLARATIONS: tuple[Setting, ...] = tuple(
    declared
    for name, (cls, prefixed) in SECTIONS.items()
    for declared in collect(name, cls, prefixed=prefixed)
)
