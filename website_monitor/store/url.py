"""The connection string: which backend it names, where a SQLite file lives, how to show it.

Everything website-monitor knows about a connection string is here, so the
password is masked the same way in errors, logs, `wm db status` and spool names.
"""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import urlsplit, urlunsplit

from website_monitor.errors import ConfigError

CONNECTION_HINT = "use postgresql://user:password@host:5432/dbname or sqlite:///path/to/wm.db"
BACKENDS = ("postgresql", "sqlite")

_QUERY_PASSWORD = re.compile(r"((?:^|&)password=)[^&]*", re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class StoreURL:
    """A parsed connection string. `str()` and `repr()` never show the password."""

    text: str
    backend: str

    @classmethod
    def parse(cls, text: str) -> StoreURL:
        """The connection string `text`, or a ConfigError that echoes nothing secret."""
        return cls(text, backend_of(text))

    @property
    def sqlite_path(self) -> str:
        return sqlite_path(self.text)

    @property
    def redacted(self) -> str:
        return redact(self.text)

    @property
    def password(self) -> str | None:
        """The password, in the user part or the query (to mask it in a driver's messages)."""
        try:
            parts = urlsplit(self.text)
            if parts.password:
                return parts.password
        except ValueError:
            return None
        match = re.search(r"(?:^|&)password=([^&]*)", parts.query, re.IGNORECASE)
        return match.group(1) or None if match else None

    def mask(self, message: str) -> str:
        """`message` on one line, with this string's password replaced."""
        text = " ".join(message.split())
        password = self.password
        return text.replace(password, "***") if password else text

    def __str__(self) -> str:
        return self.redacted

    def __repr__(self) -> str:
        return f"StoreURL({self.redacted!r})"


def backend_of(url: str) -> str:
    """`postgresql` or `sqlite`, or a ConfigError naming the scheme."""
    try:
        scheme = urlsplit(url).scheme.lower() if "://" in url else ""
    except ValueError:  # e.g. an unclosed IPv6 bracket; the string may hold a password
        raise ConfigError("the connection string cannot be parsed", hint=CONNECTION_HINT) from None
    if scheme in ("postgres", "postgresql"):
        return "postgresql"
    if scheme == "sqlite":
        return "sqlite"
    if not scheme:  # not a URL, so no way to tell a password apart: echo nothing
        raise ConfigError("the connection string has no scheme", hint=CONNECTION_HINT)
    raise ConfigError(f"unsupported connection string scheme {scheme!r}", hint=CONNECTION_HINT)


def sqlite_path(url: str) -> str:
    """`sqlite:///rel.db` is relative, `sqlite:////abs.db` absolute, as is customary."""
    path = url.split("://", 1)[1]
    path = path[1:] if path.startswith("/") else path
    if not path:
        raise ConfigError("the SQLite connection string names no file", hint=CONNECTION_HINT)
    if "\x00" in path:
        raise ConfigError("the SQLite path contains a NUL character", hint=CONNECTION_HINT)
    return path


def redact(url: str) -> str:
    """The connection string with its password (in the user part or the query) replaced."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable connection string>"
    query = _QUERY_PASSWORD.sub(r"\1***", parts.query)
    if password is None and query == parts.query:
        return url  # nothing to hide; urlunsplit would also fold sqlite:////abs to sqlite://abs
    if password is not None:
        netloc = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{netloc}")
    return urlunsplit(parts._replace(query=query))
