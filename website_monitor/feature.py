"""What a kind of data brings to website-monitor: every extension point, listed once.

A kind of data (probes, access-log hits, telemetry, dead letters, incidents…)
is one package that defines a `Feature` and one line in the registry
(`website_monitor.features.FEATURES`). Everything generic finds the kind
through it, and through nothing else:

* the codec and the sink decode its messages (`events[].decode`, and `events[].bulk`
  for a message holding many),
* the direct writer, the flush and the ingest store them (`events[].write`),
* the migration runner creates and upgrades its tables (`migrations`),
* the flush and the direct writer keep its derived tables current (`derived`),
* `wm serve` mounts its routes, OpenAPI, metrics, live streams and page panel,
  and `wm top` nothing more than it asks for (`web`, imported only by the server).

The built-in kinds use exactly this mechanism; a new one adds a package and a line.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from website_monitor.codec import BatchDecoder, Decoder, FastDecoder, ManyDecoder
from website_monitor.store.base import Reader, Repository, Transaction
from website_monitor.store.migrate import Migration

if TYPE_CHECKING:
    from website_monitor.web.section import Section


#: Stores events of one kind inside the caller's transaction; returns the rows inserted
#: (idempotent on `event_id`: a redelivered event inserts nothing).
Writer = Callable[[Transaction, Sequence[Any]], int]


@dataclasses.dataclass(frozen=True)
class EventKind:
    """One kind of message: its `kind` in the JSON, its type, how to read and store it."""

    kind: str
    type: type
    decode: Decoder
    write: Writer
    #: A faster decoder for valid messages (None: `decode` is the only one).
    decode_fast: FastDecoder | None = None
    #: A faster decoder for valid `batch` messages of this kind only (`codec.decode_many`).
    decode_batch_fast: BatchDecoder | None = None
    #: A message of its own holding many events of this kind (`hits`), if it has one.
    bulk: BulkMessage | None = None
    #: The COPY text `write` hands PostgreSQL for a batch of these events, if it uses one:
    #: the flush writes it on its polling thread (`transport.writer.prepare`), so that the
    #: writing thread's COPY waits only on the server.
    copy_text: Callable[[Sequence[Any]], str] | None = None


@dataclasses.dataclass(frozen=True)
class BulkMessage:
    """A kind of message holding many events of one kind, in a form of its own: fields
    said once per message, not once per event (`codec.decode_many` reads it)."""

    kind: str
    #: Field by field, or DecodeError saying why not.
    decode: ManyDecoder
    #: The events of a valid message, else None (then `decode` decides).
    decode_fast: BatchDecoder


class Frontier(Protocol):
    """How far the stored rows go, as read right after a write committed."""

    max_id: int


class Derived(Protocol):
    """Tables computed from a kind's raw rows (rollups), kept current in bulk after writes.

    The flush calls `catch_up` on a connection of its own whenever enough rows are
    pending and when idle; the direct writer after each write. Reads add the rows
    not caught up yet, so they never lag the store.
    """

    def frontier(self, repository: Repository) -> Any:
        """Where the stored rows end now (cheap: read after each write)."""
        ...

    def catch_up(
        self,
        repository: Repository,
        *,
        upto: Any = None,
        stop: threading.Event | None = None,
    ) -> int:
        """Cover the rows stored up to `upto` (a frontier read earlier; None: now)."""
        ...

    def pending(self, reader: Reader) -> int:
        """Rows stored but not caught up with yet (for `wm db status`)."""
        ...

    def rebuild(self, repository: Repository) -> dict[str, int]:
        """Recompute the derived tables from every raw row; table sizes."""
        ...

    def prune(self, repository: Repository, keep: float, now: float | None = None) -> Any:
        """Delete the raw rows older than `keep` seconds, once the derived tables hold them."""
        ...


@dataclasses.dataclass(frozen=True)
class Feature:
    """A kind of data: the one object through which the rest of website-monitor finds it."""

    #: Short name: the package, the migrations' namespace, the API tag, the page panel.
    name: str
    #: What the page and the API call it.
    title: str
    #: The messages it stores (none for data written by its own commands only).
    events: tuple[EventKind, ...] = ()
    #: Its released migrations, in order; never edited once released.
    migrations: tuple[Migration, ...] = ()
    #: Tables derived from its raw rows, kept current after writes.
    derived: Derived | None = None
    #: Its parts of `wm serve` (routes with OpenAPI, metrics, live streams, page panels),
    #: imported only when a server is built.
    web: Callable[[], Sequence[Section]] | None = None
