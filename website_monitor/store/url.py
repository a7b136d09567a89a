"""The connection string: which backend it names, where a SQLite file lives, how to show it.

Everything website-monitor knows about a connection string is here, so the
password is masked the same way in errors, logs, `wm db status` and spool names.
The same masking serves every other URL-valued option (`--ship`, `--alert-webhook`,
bootstrap servers): `redact` shows a URL without its secrets, `url_secrets` lists
them, and `mask` takes them out of free text such as a driver's error message.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

from website_monitor.errors import ConfigError

CONNECTION_HINT = "use postgresql://user:password@host:5432/dbname or sqlite:///path/to/wm.db"
BACKENDS = ("postgresql", "sqlite")

#: Query parameters whose value is a secret: `password=`, `token=`, `access_token=`,
#: `api_key=`, `secret=`, `sig=`, `auth=`… (a webhook often carries its token there).
_QUERY_SECRET = re.compile(
    r"((?:^|&)[^=&]*(?:pass|pwd|token|secret|key|sig|auth|cred)[^=&]*=)([^&]*)", re.IGNORECASE
)
MASK = "***"
#: The shortest query value `url_secrets` reports (see there).
QUERY_SECRET_MIN = 4


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
        """`message` on one line, with this string's secrets replaced."""
        return mask(" ".join(message.split()), url_secrets(self.text))

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
    """The URL with its secrets replaced: the password of the user part, and the value of
    each query parameter named like a secret (`password=`, `token=`, `api_key=`…).

    A URL without a scheme (`user:pw@host:9092`, as a bootstrap server may be written)
    is read as a host with a user part.
    """
    if _schemeless(url):
        return redact("//" + url)[2:]
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return "<unparseable URL>"
    query = _QUERY_SECRET.sub(rf"\1{MASK}", parts.query)
    if password is None and query == parts.query:
        return url  # nothing to hide; urlunsplit would also fold sqlite:////abs to sqlite://abs
    if password is not None:
        netloc = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username or ''}:{MASK}@{netloc}")
    return urlunsplit(parts._replace(query=query))


def url_secrets(url: str) -> tuple[str, ...]:
    """What `redact` hides in `url`, as written and percent-decoded, to mask it elsewhere.

    A URL that cannot be parsed is a secret as a whole: nothing tells its password apart.
    A query value shorter than `QUERY_SECRET_MIN` is left out unless its parameter is
    `password`: the others are only named like secrets (`sortkey=1`), and masking every
    `1` would garble every message.
    """
    if _schemeless(url):
        url = "//" + url
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
    except ValueError:
        found = [url]
    else:
        for match in _QUERY_SECRET.finditer(parts.query):
            name, value = match.group(1).strip("&=").lower(), match.group(2)
            if name == "password" or len(value) >= QUERY_SECRET_MIN:
                found.append(value)
    decoded = [unquote(value) for value in found]
    return tuple(dict.fromkeys(value for value in (*found, *decoded) if value))


def _schemeless(url: str) -> bool:
    """`user:pw@host:port`: a host with a user part but no scheme."""
    return "@" in url and "://" not in url and not url.startswith("//")


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every one of `secrets` replaced (the longest first, so none shows in part).

    Each secret is also looked for as a repr shows it, as a string and as UTF-8 bytes: a
    client library's debug log prints the requests it sends as bytes.
    """
    forms = {form for secret in secrets if secret for form in _forms(secret)}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text


def _forms(secret: str) -> set[str]:
    """The secret, and its body in the repr of a str, of bytes and of a bytearray (which
    escapes a quote that bytes would not)."""
    shown = {secret, repr(secret)[1:-1], repr(secret.encode())[2:-1]}
    return shown | {form.replace("'", "\\'") for form in shown}
