"""The sections several commands share: the store, Kafka, logging."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from website_monitor.config.declare import setting, without_secrets
from website_monitor.errors import ConfigError

APP_NAME = "website-monitor"
DATA_DIR_ENVVAR = "WM_DATA_DIR"
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
LOG_LEVELS = ("debug", "info", "warning", "error")


@dataclasses.dataclass(frozen=True, repr=False)
class StoreSettings:
    """Where results are kept."""

    url: str | None = setting(
        None,
        "-d",
        "--db-connection-string",
        key="db_connection_string",
        env="WM_DB_CONNECTION_STRING",
        secret=True,
        described_default="SQLite in the data directory",
        help="postgresql://user:pw@host:5432/db or sqlite:///path.db",
    )
    data_dir: str | None = setting(
        None,
        "--data-dir",
        env=DATA_DIR_ENVVAR,
        path="dir",
        described_default="the user data directory",
        help="Where the embedded store and spool live.",
    )

    __repr__ = without_secrets

    def data_path(self) -> Path:
        """Where website-monitor keeps its own files (embedded store, spool)."""
        if self.data_dir:
            return Path(self.data_dir)
        import platformdirs

        return Path(platformdirs.user_data_dir(APP_NAME))

    def effective_url(self) -> str:
        """The connection string in use: `url`, or the embedded SQLite database in the
        data directory."""
        return self.url or "sqlite:///" + str(self.data_path() / "wm.db")

    def reading_url(self) -> str:
        """The connection string for a command that only reads. The embedded default that
        does not exist yet (nothing stored on this machine) reads as an empty store and is
        not created; a store named explicitly is read as it is (missing: an error)."""
        if self.url is None and not (self.data_path() / "wm.db").exists():
            return "sqlite:///:memory:"
        return self.effective_url()


@dataclasses.dataclass(frozen=True, repr=False)
class StreamSettings:
    """Kafka, when results go through it rather than straight to the store."""

    bootstrap_servers: tuple[str, ...] = setting(
        (),
        "-b",
        "--bootstrap-server",
        env=("WM_STREAM_BOOTSTRAP_SERVER", "WM_STREAM_BOOTSTRAP_SERVERS"),
        aliases=("bootstrap_server",),
        help="Kafka bootstrap server(s), host:port, comma-separated. "
        "Without one, results are written to the store directly.",
    )
    topic: str = setting("probes", "-t", "--topic", env="WM_STREAM_TOPIC", help="Kafka topic.")
    ssl: bool = setting(
        False, "--ssl/--no-ssl", env="WM_STREAM_SSL", help="Connect to Kafka over TLS."
    )
    ssl_cafile: str | None = setting(
        None, "-ca", "--ssl-cafile", env="WM_STREAM_SSL_CA_FILE", path="file", help="CA file (PEM)."
    )
    ssl_certfile: str | None = setting(
        None,
        "-ce",
        "--ssl-certfile",
        env="WM_STREAM_SSL_CERT_FILE",
        path="file",
        help="Client certificate (PEM).",
    )
    ssl_keyfile: str | None = setting(
        None,
        "-k",
        "--ssl-keyfile",
        env="WM_STREAM_SSL_KEY_FILE",
        path="file",
        help="Client key (PEM).",
    )
    sasl_mechanism: str | None = setting(
        None,
        "--sasl-mechanism",
        env="WM_STREAM_SASL_MECHANISM",
        choices=SASL_MECHANISMS,
        case_sensitive=False,
        invalid="unsupported SASL mechanism {value!r}",
        hint="use one of " + ", ".join(SASL_MECHANISMS),
        help="SASL mechanism for Kafka.",
    )
    sasl_username: str | None = setting(
        None, "--sasl-username", env="WM_STREAM_SASL_USERNAME", help="SASL user name."
    )
    sasl_password: str | None = setting(
        None,
        "--sasl-password",
        env="WM_STREAM_SASL_PASSWORD",
        secret=True,
        help="SASL password (prefer the env var).",
    )

    __repr__ = without_secrets

    @property
    def uses_kafka(self) -> bool:
        """Whether sources publish to Kafka rather than writing the store directly."""
        return bool(self.bootstrap_servers)

    @property
    def uses_ssl(self) -> bool:
        return self.ssl or any((self.ssl_cafile, self.ssl_certfile, self.ssl_keyfile))

    def check(self) -> None:
        for server in self.bootstrap_servers:
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ConfigError(
                    f"invalid bootstrap server {server!r}", hint="use host:port, e.g. kafka:9092"
                )


@dataclasses.dataclass(frozen=True, repr=False)
class LogSettings:
    """What every command logs, on stderr."""

    level: str = setting(
        "info",
        "--log-level",
        env="WM_LOG_LEVEL",
        choices=LOG_LEVELS,
        case_sensitive=False,
        noun="log level",
        help="Log verbosity (stderr).",
    )
    format: str = setting(
        "text",
        "--log-format",
        env="WM_LOG_FORMAT",
        choices=("text", "json"),
        noun="log format",
        help="Log as text or one JSON object per line.",
    )

    __repr__ = without_secrets


@dataclasses.dataclass(frozen=True, repr=False)
class RetentionSettings:
    """How long raw rows are kept (`wm db prune`, and once a day by `wm flush` and the
    direct writer); their rollups are kept for good."""

    keep_raw: float | None = setting(
        None,
        "--keep-raw",
        env="WM_KEEP_RAW",
        duration=True,
        positive=True,
        described_default="kept for good",
        help="Delete raw probes and hits older than this (e.g. 90d); their rollups stay.",
    )
    keep_dead_letters: float | None = setting(
        None,
        "--keep-dead-letters",
        env="WM_KEEP_DEAD_LETTERS",
        duration=True,
        positive=True,
        described_default="kept for good",
        help="Delete dead letters received longer ago than this (e.g. 30d).",
    )

    __repr__ = without_secrets
