"""TLS to the broker (CA, client certificate and key), SASL options, secrets kept out of output."""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner

from tests.services import Broker, HTTPTestServer, TLSProxy, free_port
from website_monitor import config
from website_monitor.cli import main
from website_monitor.probes.queries import count_probes
from website_monitor.store import open_store
from website_monitor.transport.kafka import client_options


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A broker reachable only through a TLS proxy that requires a client certificate."""
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    server_context.verify_mode = ssl.CERT_REQUIRED
    ca.configure_trust(server_context)
    client = ca.issue_cert("wm-client")
    files = {
        "ca": tmp_path / "ca.pem",
        "cert": tmp_path / "client.pem",
        "key": tmp_path / "client.key",
    }
    ca.cert_pem.write_to_path(str(files["ca"]))
    client.cert_chain_pems[0].write_to_path(str(files["cert"]))
    client.private_key_pem.write_to_path(str(files["key"]))
    proxy_port = free_port()
    broker = Broker.start_tansu(advertised_port=proxy_port)
    proxy = TLSProxy(int(broker.bootstrap.rsplit(":", 1)[1]), server_context, port=proxy_port)
    try:
        yield f"127.0.0.1:{proxy_port}", {k: str(v) for k, v in files.items()}
    finally:
        proxy.close()
        broker.stop()


def test_probe_and_flush_over_tls(
    tls_broker: tuple[str, dict[str, str]], http_server: HTTPTestServer, pg_url: str, topic: str
) -> None:
    bootstrap, files = tls_broker
    tls = [
        "-b",
        bootstrap,
        "-t",
        topic,
        "-ca",
        files["ca"],
        "-ce",
        files["cert"],
        "-k",
        files["key"],
    ]
    runner = CliRunner()
    probed = runner.invoke(main, ["probe", http_server.url, *tls, "-q"])
    assert probed.exit_code == 0, probed.output
    flushed = runner.invoke(
        main,
        [
            "flush",
            "--drain",
            *tls,
            "-d",
            pg_url,
            "-c",
            f"g-{topic}",
            "--session-timeout-ms",
            "6000",
            "--idle-timeout",
            "2s",
        ],
    )
    assert flushed.exit_code == 0, flushed.output
    with open_store(pg_url) as repository:
        assert count_probes(repository) == 1


def test_plaintext_client_cannot_use_the_tls_listener(
    tls_broker: tuple[str, dict[str, str]], http_server: HTTPTestServer
) -> None:
    bootstrap, _ = tls_broker
    result = CliRunner().invoke(main, ["probe", http_server.url, "-b", bootstrap, "-q"])
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot reach Kafka at {bootstrap}")


def test_security_protocols_follow_the_options(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    plain = client_options(config.resolve({"bootstrap_servers": "k:9092"}, env={}))
    assert plain["security_protocol"] == "PLAINTEXT"
    tls = client_options(
        config.resolve({"bootstrap_servers": "k:9092", "ssl_cafile": str(ca)}, env={})
    )
    assert (tls["security_protocol"], tls["ssl_cafile"], tls["ssl_check_hostname"]) == (
        "SSL",
        str(ca),
        True,
    )
    sasl = client_options(
        config.resolve(
            {
                "bootstrap_servers": "k:9092",
                "ssl": True,
                "sasl_mechanism": "scram-sha-512",
                "sasl_username": "wm",
                "sasl_password": "pw",
            },
            env={},
        )
    )
    assert sasl["security_protocol"] == "SASL_SSL"
    assert (sasl["sasl_mechanism"], sasl["sasl_plain_username"], sasl["sasl_plain_password"]) == (
        "SCRAM-SHA-512",
        "wm",
        "pw",
    )
    plain_sasl = client_options(
        config.resolve({"bootstrap_servers": "k:9092", "sasl_mechanism": "PLAIN"}, env={})
    )
    assert plain_sasl["security_protocol"] == "SASL_PLAINTEXT"


def test_unsupported_sasl_mechanism() -> None:
    result = CliRunner().invoke(main, ["probe", "http://127.0.0.1/", "--sasl-mechanism", "GSSAPI"])
    assert result.exit_code == 2
    assert "'GSSAPI' is not one of 'plain', 'scram-sha-256', 'scram-sha-512'." in result.output


def test_secrets_never_appear_in_output_or_logs(
    http_server: HTTPTestServer, tmp_path: Path
) -> None:
    """Debug logs, errors and the spool message, with a password in every place one can be."""
    closed = f"127.0.0.1:{free_port()}"
    env = {
        "WM_STREAM_SASL_PASSWORD": "sasl-hunter2",
        "WM_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    probe = subprocess.run(
        [
            sys.executable,
            "-m",
            "website_monitor",
            "probe",
            http_server.url,
            "-b",
            closed,
            "--sasl-mechanism",
            "PLAIN",
            "--sasl-username",
            "wm",
            "--log-level",
            "debug",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert probe.returncode == 1
    stats = subprocess.run(
        [
            sys.executable,
            "-m",
            "website_monitor",
            "stats",
            "-d",
            f"postgresql://wm:db-hunter2@{closed}/wm",
            "--log-level",
            "debug",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert stats.returncode == 1
    for output in (probe.stdout, probe.stderr, stats.stdout, stats.stderr):
        assert "hunter2" not in output
    assert "postgresql://wm:***@" in stats.stderr
