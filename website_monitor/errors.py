"""The exception tree.

Every failure the library expects carries a message fit for an operator and a
hint saying what to try; the CLI prints them as one `Error:` line. Anything else
reaching the top is a bug.

    WebsiteMonitorError
    ├── ConfigError            a setting, argument or request parameter is wrong
    ├── StoreError             the store refused an operation
    │   ├── StoreUnavailable   it cannot be reached or is overloaded: retry later
    │   └── StoreDataError     it refused the data itself (too long, malformed): do not retry
    ├── TransportError         the message broker failed
    │   ├── BrokerUnavailable  it cannot be reached: retry later
    │   └── DeliveryError      some events were not delivered (`undelivered` holds them)
    │       └── EventsRefused  the store refused some events' data; they were dead-lettered
    └── DecodeError            bytes that are not a valid event (`reason` says why)

The database drivers' errors become store errors in one place each
(`store.postgres.translate`, `store.sqlite.translate`), by SQLSTATE class or
SQLite result code, so retrying code asks `isinstance(exc, StoreUnavailable)`.
"""

from __future__ import annotations

from collections.abc import Sequence


class WebsiteMonitorError(Exception):
    """Base of every error website-monitor raises on purpose."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(WebsiteMonitorError):
    """A setting is missing, malformed or contradicts another."""


class StoreError(WebsiteMonitorError):
    """The store refused an operation."""


class StoreUnavailable(StoreError):
    """The store cannot be reached (or is overloaded); retrying later may succeed."""


class StoreDataError(StoreError):
    """The store refused the data itself (a value too long to index, out of range, a broken
    constraint): the same write fails again, so it is not retried."""


class TransportError(WebsiteMonitorError):
    """The message broker failed."""


class BrokerUnavailable(TransportError):
    """The broker cannot be reached; retrying later may succeed."""


class DeliveryError(TransportError):
    """Some events were not delivered; `undelivered` holds them so nothing is lost."""

    def __init__(
        self, message: str, hint: str | None = None, undelivered: Sequence[object] = ()
    ) -> None:
        super().__init__(message, hint)
        self.undelivered = list(undelivered)


class EventsRefused(DeliveryError):
    """The store refused the data of some events and they were kept in `dead_letters` instead:
    nothing is left to retry or spool, but `refused` of them are not stored where they
    belong (the others are)."""

    def __init__(self, message: str, hint: str | None = None, refused: int = 0) -> None:
        super().__init__(message, hint)
        self.refused = refused


class DecodeError(WebsiteMonitorError):
    """Bytes that are not a valid event; `reason` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
