"""The certificates an HTTPS server presented: the earliest expiry among them and the leaf's issuer.

The chain as sent by the server (not as verified, which would end at a root
from the local trust store) comes from the TLS object's
`get_unverified_chain`; Python has it on every supported version, public from
3.13, on the underlying `_ssl` object before. Where it is missing, the leaf
alone (`getpeercert`) is read. One connection presents one chain, so it is
read once per connection and kept while the connection lives.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ssl
import weakref
from datetime import datetime, timezone
from typing import Any

#: Short names of the attributes in an issuer, as RFC 4514 writes them.
_SHORT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}


@dataclasses.dataclass(frozen=True)
class CertInfo:
    expires_at: datetime
    issuer: str | None

    def days_left(self, now: datetime) -> float:
        return (self.expires_at - now).total_seconds() / 86400.0


_seen: weakref.WeakKeyDictionary[Any, CertInfo | None] = weakref.WeakKeyDictionary()


def peer_certificates(ssl_object: Any) -> CertInfo | None:
    """What the server's certificates say, or None when nothing could be read."""
    if ssl_object is None:
        return None
    try:
        return _seen[ssl_object]
    except (KeyError, TypeError):
        pass
    info = _read(ssl_object)
    with contextlib.suppress(TypeError):  # not weakly referenceable: read each time
        _seen[ssl_object] = info
    return info


def _read(ssl_object: Any) -> CertInfo | None:
    certificates = _chain(ssl_object)
    if not certificates:
        return None
    expiries = []
    for certificate in certificates:
        not_after = certificate.get("notAfter")
        if isinstance(not_after, str):
            try:
                expiries.append(ssl.cert_time_to_seconds(not_after))
            except (ValueError, OverflowError):
                continue
    if not expiries:
        return None
    try:
        earliest = datetime.fromtimestamp(min(expiries), timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return CertInfo(expires_at=earliest, issuer=issuer_name(certificates[0].get("issuer")))


def _chain(ssl_object: Any) -> list[dict[str, Any]]:
    """The decoded certificates the peer sent, leaf first."""
    inner = getattr(ssl_object, "_sslobj", ssl_object)
    get_chain = getattr(inner, "get_unverified_chain", None)
    if get_chain is not None:
        try:
            chain = get_chain() or []
            decoded = [cert.get_info() for cert in chain if hasattr(cert, "get_info")]
        except (ssl.SSLError, ValueError, AttributeError):
            decoded = []
        if decoded:
            return decoded
    try:
        leaf = ssl_object.getpeercert()
    except (ssl.SSLError, ValueError, AttributeError):
        return []
    return [leaf] if leaf else []


def issuer_name(issuer: Any) -> str | None:
    """An issuer as decoded by the ssl module, in RFC 4514 form: `CN=R3,O=Let's Encrypt,C=US`."""
    if not issuer:
        return None
    parts = []
    try:
        for rdn in reversed(issuer):
            parts.append(
                "+".join(
                    f"{_SHORT_NAMES.get(key, key)}={_escape(str(value))}" for key, value in rdn
                )
            )
    except (TypeError, ValueError):
        return None
    return ",".join(parts)[:1024] or None


def _escape(value: str) -> str:
    escaped = "".join("\\" + ch if ch in ',+"\\<>;=' else ch for ch in value)
    if escaped.startswith(("#", " ")):
        escaped = "\\" + escaped
    if escaped.endswith(" "):
        escaped = escaped[:-1] + "\\ "
    return escaped.replace("\x00", "")
