"""`wm tail --ship URL`: send the raw lines to a `wm serve` (POST /api/logs) in batches.

Lines are queued per file (a batch never mixes files, so the server detects each
file's format on its own) and sent at most every `every` seconds or once a batch
is full. A batch that fails for a temporary reason (no connection, a timeout, 408,
429, 5xx) stays queued and is retried with exponential backoff; every batch
carries an id, so a retry of a batch the server did store stores nothing twice.
A permanent refusal (401, 400, 413…) is logged and counted, not retried. For W3C
logs the file's latest `#Fields:` directive is sent first in every batch, since
the server reads each batch with a fresh parser.

Sending happens in the `wm tail` loop: with the server unreachable a send costs
at most `timeout` seconds, and only once per backoff period.

The URL is only ever shown redacted (`shown_url`), and every message that may
echo it or the token (a connection error names the path and query) is masked.
"""

from __future__ import annotations

import collections
import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests

from website_monitor import log
from website_monitor.errors import ConfigError
from website_monitor.store.url import mask, redact, url_secrets

logger = log.get("tail")

BATCH_LINES = 1000
#: Bytes of lines per batch: well under the server's default 1 MiB body limit.
BATCH_BYTES = 512 * 1024
#: Lines kept while the server is unreachable; beyond this the oldest are dropped (and counted).
MAX_QUEUED = 200_000
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclasses.dataclass
class Batch:
    file: str
    lines: list[str]
    header: str | None
    batch_id: str
    attempts: int = 0


class Shipper:
    """Queues raw lines and posts them to `url` as `{"source", "lines", "format", "batch"}`."""

    def __init__(
        self,
        url: str,
        source: str,
        *,
        fmt: str = "auto",
        token: str | None = None,
        every: float = 1.0,
        timeout: float = 5.0,
        backoff: tuple[float, float] = (0.5, 30.0),
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"--ship {redact(url)!r} is not an http(s) URL",
                hint="e.g. http://127.0.0.1:8080/api/logs",
            )
        self.url = url
        #: The URL as messages show it: without its password or token.
        self.shown_url = redact(url)
        self.secrets = (*url_secrets(url), *([token] if token else []))
        self.source = source
        self.fmt = fmt
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.every = every
        self.timeout = timeout
        self.backoff = backoff
        self.clock = clock
        self.session = session or requests.Session()
        self.prefix = uuid.uuid4().hex
        self.sequence = 0
        self.pending: dict[str, list[str]] = {}
        self.pending_bytes: dict[str, int] = {}
        self.fields: dict[str, str] = {}
        self.ready: collections.deque[Batch] = collections.deque()
        self.queued = 0
        self.last_send = clock()
        self.retry_at = 0.0
        self.delay = backoff[0]
        #: Lines the server took (stored, or ignored as blank lines and directives).
        self.shipped = 0
        #: Lines the server answered as not valid (they are in no table).
        self.rejected = 0
        self.failed = 0
        self.dropped = 0

    # --- queueing ---------------------------------------------------------------------

    def add(self, file: str, lines: list[str], reset: bool = False) -> None:
        if reset:
            self._seal(file)
            self.fields.pop(file, None)
        for line in lines:
            if line[:8].lower() == "#fields:":
                self._seal(file)  # lines before it belong to the previous layout
                self.fields[file] = line
                continue
            batch = self.pending.setdefault(file, [])
            batch.append(line)
            self.pending_bytes[file] = self.pending_bytes.get(file, 0) + len(line) + 8
            self.queued += 1
            if len(batch) >= BATCH_LINES or self.pending_bytes[file] >= BATCH_BYTES:
                self._seal(file)
        self._bound()

    def _seal(self, file: str) -> None:
        lines = self.pending.pop(file, None)
        self.pending_bytes.pop(file, None)
        if lines:
            self.sequence += 1
            batch_id = f"{self.prefix}-{self.sequence}"
            self.ready.append(Batch(file, lines, self.fields.get(file), batch_id))

    def _bound(self) -> None:
        while self.queued > MAX_QUEUED and self.ready:
            batch = self.ready.popleft()
            self.queued -= len(batch.lines)
            self.dropped += len(batch.lines)
            logger.error(
                "--ship: %d lines dropped: more than %d lines waiting for %s",
                len(batch.lines),
                MAX_QUEUED,
                self.shown_url,
            )

    # --- sending ----------------------------------------------------------------------

    def pump(self, force: bool = False) -> None:
        """Seal what is pending if it is time, and send what is ready unless backing off."""
        now = self.clock()
        if force or now - self.last_send >= self.every:
            for file in list(self.pending):
                self._seal(file)
            self.last_send = now
        while self.ready and now >= self.retry_at:
            if not self._send(self.ready[0]):
                self.retry_at = self.clock() + self.delay
                self.delay = min(self.delay * 2, self.backoff[1])
                return
            self.ready.popleft()
            self.delay = self.backoff[0]

    def _send(self, batch: Batch) -> bool:
        """True when the batch is done with (stored, or refused for good)."""
        batch.attempts += 1
        lines = ([batch.header] if batch.header else []) + batch.lines
        body: dict[str, Any] = {
            "source": self.source,
            "lines": lines,
            "format": self.fmt,
            "batch": batch.batch_id,
        }
        try:
            response = self.session.post(
                self.url, json=body, headers=self.headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            self._temporary(batch, f"{type(exc).__name__}: {self._mask(str(exc))}")
            return False
        if response.status_code in RETRY_STATUSES:
            self._temporary(batch, f"HTTP {response.status_code} {self._mask(_error(response))}")
            return False
        self.queued -= len(batch.lines)
        if response.status_code != 200:
            self.failed += len(batch.lines)
            logger.error(
                "--ship: %s refused %d lines: HTTP %d %s",
                self.shown_url,
                len(batch.lines),
                response.status_code,
                self._mask(_error(response)),
            )
            return True
        answer = response.json()
        rejected = [r for r in answer.get("rejected", []) if not (batch.header and r["line"] == 0)]
        self.rejected += len(rejected)
        self.shipped += len(batch.lines) - len(rejected)
        if rejected:
            logger.warning(
                "--ship: %d lines of %s rejected, e.g. line %d: %s",
                len(rejected),
                batch.file,
                rejected[0]["line"],
                rejected[0]["reason"],
            )
        return True

    def _temporary(self, batch: Batch, reason: str) -> None:
        if batch.attempts == 1 or batch.attempts % 10 == 0:
            logger.warning(
                "--ship: %s: %s; %d lines waiting, retrying in %.1fs",
                self.shown_url,
                reason,
                self.queued,
                self.delay,
            )

    def _mask(self, text: str) -> str:
        return mask(text, self.secrets)

    def close(self, deadline: float) -> None:
        """Send everything, retrying until `deadline` (clock time); count what is left."""
        self.pump(force=True)
        while self.ready and self.clock() < deadline:
            time.sleep(max(0.0, min(self.retry_at - self.clock(), deadline - self.clock())))
            self.pump(force=True)
        left = sum(len(batch.lines) for batch in self.ready)
        self.failed += left
        self.session.close()

    @property
    def lost(self) -> int:
        return self.failed + self.dropped


def _error(response: requests.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except ValueError:
        return response.text[:200]
