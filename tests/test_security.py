"""TLS to the broker (CA, client certificate and key), SASL options, secrets kept out of output."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner

from tests.services import Broker, HTTPTestServer, TLSProxy, flush_args, free_port
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


# --- secrets in the logs of real runs, at debug level, in both formats -------------------

#: Every secret below contains this, so one check finds any of them in any output.
MARK = "hunter2"


def _wm(args: list[str], tmp_path: Path, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "website_monitor", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"WM_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", **env},
    )


def _finish(runs: dict[str, subprocess.Popen[str]]) -> dict[str, tuple[int, str, str]]:
    """Wait for runs started together: name -> (exit code, stdout, stderr)."""
    done = {}
    for name, process in runs.items():
        stdout, stderr = process.communicate(timeout=120)
        done[name] = (process.returncode, stdout, stderr)
    return done


def _assert_secret_free(name: str, stdout: str, stderr: str, fmt: str) -> None:
    assert MARK not in stdout, f"{name}: secret on stdout:\n{stdout}"
    assert MARK not in stderr, f"{name}: secret on stderr:\n{stderr}"
    if fmt == "json":  # every log line is JSON; only the final error line is not
        for line in stderr.splitlines():
            if not line.startswith("Error: "):
                json.loads(line)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_kafka_client_debug_logs_keep_the_sasl_password_out(
    kafka_bootstrap: str, http_server: HTTPTestServer, tmp_path: Path, topic: str, fmt: str
) -> None:
    """SASL against the real broker, which does not speak it: the clients dump their
    configuration at debug level, retry, and give up with an error."""
    sasl = ["-b", kafka_bootstrap, "-t", topic, "--sasl-mechanism", "PLAIN"]
    sasl += ["--sasl-username", "wm", "--log-level", "debug", "--log-format", fmt]
    env = {"WM_STREAM_SASL_PASSWORD": f"sasl-{MARK}"}
    log = tmp_path / "access.log"
    log.write_text('10.0.0.1 - - [09/May/2018:16:00:01 +0000] "GET /a HTTP/1.1" 200 5\n')
    db = f"sqlite:///{tmp_path / 'wm.db'}"
    runs = _finish(
        {
            "flush": _wm(
                ["flush", *sasl, "--drain", "--idle-timeout", "1s", "-d", db], tmp_path, **env
            ),
            "probe": _wm(["probe", http_server.url, *sasl], tmp_path, **env),
            "tail": _wm(
                ["tail", str(log), "--from-start", "--exit-at-eof", "--publish", *sasl],
                tmp_path,
                **env,
            ),
        }
    )
    for name, (code, stdout, stderr) in runs.items():
        assert code == 1, (name, stderr)
        _assert_secret_free(name, stdout, stderr, fmt)
        assert "SaslHandshakeRequest" in stderr, (name, stderr)  # the client's debug logs
    # kafka-python's admin client dumped its configuration, with the password masked.
    assert "'sasl_plain_password': '***'" in runs["flush"][2]
    assert f"Error: cannot reach Kafka at {kafka_bootstrap}" in runs["flush"][2]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_a_whole_run_at_debug_level_shows_no_secret(
    kafka_bootstrap: str,
    http_server: HTTPTestServer,
    pg_url: str,
    tmp_path: Path,
    topic: str,
    fmt: str,
) -> None:
    """Probe to Kafka, flush into PostgreSQL: a password in the connection string (trust
    authentication ignores it) and a SASL password the broker never asks for."""
    db = pg_url.replace("postgres@", f"postgres:db-{MARK}@", 1)
    assert db != pg_url
    env = {"WM_STREAM_SASL_PASSWORD": f"sasl-{MARK}", "WM_SERVE_TOKEN": f"token-{MARK}"}
    debug = ["--log-level", "debug", "--log-format", fmt]
    probe = _finish(
        {
            "probe": _wm(
                ["probe", http_server.url, "-b", kafka_bootstrap, "-t", topic, *debug],
                tmp_path,
                **env,
            )
        }
    )
    flush = _finish(
        {
            "flush": _wm(
                [*flush_args(kafka_bootstrap, topic, db, f"g-{topic}"), "--drain", *debug],
                tmp_path,
                **env,
            )
        }
    )
    for name, (code, stdout, stderr) in {**probe, **flush}.items():
        assert code == 0, (name, stderr)
        _assert_secret_free(name, stdout, stderr, fmt)
    assert "partitions assigned" in flush["flush"][2]  # the consumer's own logs were there
    with open_store(pg_url) as repository:
        assert count_probes(repository) == 1


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_url_valued_options_never_show_their_secrets(tmp_path: Path, fmt: str) -> None:
    """Each URL-valued option with a password in the user part and a token in the query,
    pointed at nothing, or malformed: retries, warnings and errors show it redacted."""
    closed = free_port()
    log = tmp_path / "access.log"
    log.write_text(
        "".join(
            f'10.0.0.1 - - [09/May/2018:16:00:{s:02d} +0000] "GET /a HTTP/1.1" 200 5\n'
            for s in range(40)
        )
    )
    tail = ["tail", str(log), "--from-start", "--exit-at-eof", "--no-record-alerts"]
    debug = ["--log-level", "debug", "--log-format", fmt]
    ship = f"http://wm:ship-{MARK}@127.0.0.1:{closed}/api/logs?access_token=tok-{MARK}"
    hook = f"http://wm:hook-{MARK}@127.0.0.1:{closed}/hook?token=tok-{MARK}&channel=ops"
    db = f"postgresql://wm:db-{MARK}@127.0.0.1:{closed}/wm"
    commands = {
        "ship": [*tail, "--ship", ship, "--ship-token", f"bearer-{MARK}", "--ship-timeout", "1s"],
        "ship-scheme": [*tail, "--ship", f"ftp://wm:ship-{MARK}@127.0.0.1/x"],
        "webhook": [*tail, "--alert-webhook", hook, "--threshold", "0.01"],
        "webhook-scheme": [*tail, "--alert-webhook", f"ftp://wm:hook-{MARK}@h/x?token=t-{MARK}"],
        "db-tail": [*tail, "--publish", "-d", db],
        "db-status": ["db", "status", "-d", db],
        "db-query": ["stats", "-d", f"postgresql://wm@127.0.0.1:{closed}/wm?password=db-{MARK}"],
        "db-unparseable": ["stats", "-d", f"postgresql://wm:db-{MARK}@[::1/wm"],
        "bootstrap": ["probe", "http://127.0.0.1:1/", "-b", f"wm:kafka-{MARK}@127.0.0.1:{closed}"],
    }
    runs = _finish({name: _wm([*args, *debug], tmp_path) for name, args in commands.items()})
    expected = {
        "ship": f"not shipped to http://wm:***@127.0.0.1:{closed}/api/logs?access_token=***",
        "ship-scheme": "--ship 'ftp://wm:***@127.0.0.1/x' is not an http(s) URL",
        "webhook": f"--alert-webhook failed: cannot connect to http://127.0.0.1:{closed}",
        "webhook-scheme": "--alert-webhook 'ftp://wm:***@h/x?token=***' is not an http(s) URL",
        "db-tail": f"postgresql://wm:***@127.0.0.1:{closed}/wm",
        "db-status": f"postgresql://wm:***@127.0.0.1:{closed}/wm",
        "db-query": f"postgresql://wm@127.0.0.1:{closed}/wm?password=***",
        "db-unparseable": "Error: ",
        "bootstrap": f"Error: cannot reach Kafka at wm:***@127.0.0.1:{closed}",
    }
    for name, (code, stdout, stderr) in runs.items():
        _assert_secret_free(name, stdout, stderr, fmt)
        assert expected[name] in stderr, (name, stderr)
        if name != "webhook":  # a failed notification is a warning, not a failure
            assert code == 1, (name, stderr)
    assert "retrying in" in runs["ship"][2]  # the retry warnings were printed, masked
