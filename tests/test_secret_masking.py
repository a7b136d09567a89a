"""Masking secrets: URLs shown redacted, and the logging filter on every handler."""

from __future__ import annotations

import base64
import http.server
import json
import logging
import threading
from pathlib import Path

import pytest

from tests.alerting import URL, Timeline, run, store
from website_monitor import config, log
from website_monitor.store.url import StoreURL, mask, redact, url_secrets
from website_monitor.transport.kafka import client_options, servers

SECRET = "s3cret-hunter2"
DOWN = [False] * 3


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://wm:pw@db:5432/wm", "postgresql://wm:***@db:5432/wm"),
        ("postgresql://wm@db/wm?password=pw&sslmode=require", "postgresql://wm@db/wm?password=***&sslmode=require"),
        ("https://hooks.example/h?token=abc&channel=ops", "https://hooks.example/h?token=***&channel=ops"),
        ("https://h.example/x?access_token=a&api_key=b&sig=c&n=1", "https://h.example/x?access_token=***&api_key=***&sig=***&n=1"),
        ("http://u:p%40ss@h:8080/api/logs", "http://u:***@h:8080/api/logs"),
        ("wm:pw@kafka:9092", "wm:***@kafka:9092"),
        ("kafka:9092", "kafka:9092"),
        ("sqlite:////var/lib/wm.db", "sqlite:////var/lib/wm.db"),
        ("https://plain.example/a?b=c", "https://plain.example/a?b=c"),
        ("postgresql://wm:pw@[::1/wm", "<unparseable URL>"),
    ],
)  # fmt: skip
def test_redact(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_url_secrets_as_written_and_decoded() -> None:
    assert url_secrets("http://u:p%40ss@h/x?token=t%2Bk&n=1") == ("p%40ss", "t%2Bk", "p@ss", "t+k")
    assert url_secrets("wm:pw@kafka:9092") == ("pw",)
    assert url_secrets("https://plain.example/") == ()
    assert url_secrets("https://h.example/?sortkey=1&token=tok-1") == ("tok-1",)
    assert url_secrets("postgresql://wm:pw@[::1/wm") == ("postgresql://wm:pw@[::1/wm",)


def test_mask_finds_a_secret_as_reprs_show_it() -> None:
    secret = "pä'ss"
    sent = bytearray(b"\x00wm\x00" + secret.encode())
    text = f"Send: {sent!r}; config {{'password': {secret!r}}}; plain {secret}"
    masked = mask(text, [secret])
    assert "p\\xc3\\xa4" not in masked and "pä" not in masked
    assert masked.count("***") == 3
    assert mask("abcdef", ["abc", "abcdef"]) == "***"  # the longest first
    assert StoreURL.parse("postgresql://u@h/d?password=pw").mask("bad\n password pw") == (
        "bad password ***"
    )


def test_kafka_options_never_show_the_password() -> None:
    settings = config.resolve(
        {
            "bootstrap_servers": "wm:pw-hunter2@kafka:9092,k2:9092",
            "sasl_mechanism": "PLAIN",
            "sasl_username": "wm",
            "sasl_password": SECRET,
        },
        env={},
    )
    options = client_options(settings)
    assert options["sasl_plain_password"] == SECRET  # what the client gets is the password
    assert options["sasl_plain_password"].encode() == SECRET.encode()
    for shown in (repr(options), str(options), f"{options}", repr([options])):
        assert SECRET not in shown
        assert "'sasl_plain_password': '***'" in shown
    assert servers(settings) == "wm:***@kafka:9092,k2:9092"


def test_secrets_of_settings(tmp_path: Path) -> None:
    settings = config.resolve(
        {
            "db_connection_string": "postgresql://wm:db-pw@h/wm",
            "sasl_password": "sasl-pw",
            "serve_token": "serve-tok",
            "tail_ship_token": "ship-tok",
            "tail_ship": "http://u:ship-pw@h/api/logs?access_token=ship-q",
            "tail_alert_webhook": "https://hooks.example/h?token=hook-q",
            "bootstrap_servers": "u:kafka-pw@k:9092",
        },
        env={},
    )
    assert set(log.secrets_of(settings)) == {
        "db-pw",
        "sasl-pw",
        "serve-tok",
        "ship-tok",
        "ship-pw",
        "ship-q",
        "hook-q",
        "kafka-pw",
    }
    assert log.secrets_of(config.resolve({}, env={})) == ()


def test_secrets_in_the_environment_whoever_reads_them() -> None:
    environ = {
        "WM_SERVE_TOKEN": "serve-tok",
        "WM_DB_CONNECTION_STRING": "postgresql://wm:db-pw@h/wm",
        "WM_STREAM_SASL_PASSWORD": "sasl-pw",
        "WM_SERVE_BIND": "127.0.0.1:8080",
        "HOME": "/root",
    }
    assert set(log.environment_secrets(environ)) == {"serve-tok", "db-pw", "sasl-pw"}


@pytest.fixture
def logging_setup() -> object:
    """log.setup as a command runs it; the handlers it adds are removed afterwards."""
    root = logging.getLogger()
    before = list(root.handlers)
    yield log.setup
    for handler in root.handlers:
        if handler not in before:
            root.removeHandler(handler)
    logging.getLogger(log.LOGGER_NAME).handlers.clear()
    logging.getLogger("kafka").handlers.clear()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_every_record_is_masked_whoever_logs_it(
    logging_setup: object, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    log.setup("debug", fmt, [SECRET, ""])
    log.setup("debug", fmt, [SECRET])  # again, as each command does: one root handler
    log.get("test").info("ours: %s", SECRET, extra={"url": f"http://u:{SECRET}@h/"})
    logging.getLogger("kafka.admin.client").debug("configuration: %s", {"sasl": SECRET})
    logging.getLogger("urllib3.connectionpool").warning("retrying /x?token=%s", SECRET)
    logging.getLogger("some.library").info("not shown: below warning")
    try:
        raise RuntimeError(f"failed with {SECRET}")
    except RuntimeError:
        log.get("test").exception("with a traceback")
    err = capsys.readouterr().err
    assert "hunter2" not in err
    assert err.count("***") >= 4, err
    assert "not shown" not in err
    if fmt == "json":
        records = [json.loads(line) for line in err.splitlines()]
        assert [r["logger"] for r in records] == [
            "website_monitor.test",
            "kafka.admin.client",
            "urllib3.connectionpool",
            "website_monitor.test",
        ]
        assert records[0]["url"] == "http://u:***@h/"
        assert records[3]["exception"].endswith("RuntimeError: failed with ***")
    else:
        assert "RuntimeError: failed with ***" in err
        assert err.count("retrying /x?token=***") == 1


def test_text_logs_escape_control_characters(
    logging_setup: object, capsys: pytest.CaptureFixture[str]
) -> None:
    log.setup("info", "text")
    log.get("test").warning("cannot read %s", "/logs/\x1b]2;PWNED\x07access.log")
    err = capsys.readouterr().err
    assert "cannot read /logs/\\x1b]2;PWNED\\x07access.log" in err
    assert "\x1b" not in err and "\x07" not in err


class EchoingReceiver:
    """A receiver that refuses every POST and says back what it was sent, as many servers'
    error pages do (`Cannot POST /path?query`, the request's JSON, its credentials)."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                auth = self.headers.get("Authorization", "")
                if auth.lower().startswith("basic "):
                    auth = base64.b64decode(auth[6:]).decode()
                said = f"Cannot POST {self.path} ({auth}) {body.decode()[:120]}".encode()
                self.send_response(403)
                self.send_header("Content-Length", str(len(said)))
                self.end_headers()
                self.wfile.write(said)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_receiver_that_echoes_what_it_got_never_shows_a_secret(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = {
        "webhook query token": "hook-q-hunter2",
        "webhook header": "hdr-tok-hunter2",
        "slack path": "SLACKPATHhunter2",
        "pagerduty key": "pd-key-hunter2",
        "alertmanager password": "am-pw-hunter2",
    }
    monkeypatch.setenv("WM_TEST_PD_KEY", secrets["pagerduty key"])
    echo = EchoingReceiver()
    try:
        wm_toml = tmp_path / "wm.toml"
        wm_toml.write_text(
            f"""
[[notifier]]
name = "hook"
type = "webhook"
url = "http://{echo.address}/hook?token={secrets["webhook query token"]}"
headers = {{ Authorization = "Bearer {secrets["webhook header"]}" }}

[[notifier]]
name = "chat"
type = "slack"
url = "http://{echo.address}/services/T000/B000/{secrets["slack path"]}"

[[notifier]]
name = "pager"
type = "pagerduty"
routing_key_env = "WM_TEST_PD_KEY"
url = "http://{echo.address}/v2/enqueue"

[[notifier]]
name = "am"
type = "alertmanager"
url = "http://wm:{secrets["alertmanager password"]}@{echo.address}"

[[alert]]
name = "site down"
urls = ["{URL}"]
notify = ["hook", "chat", "pager", "am"]
"""
        )
        store(sqlite_url, Timeline()(DOWN))
        output = run(
            "alert", "--once", "-d", sqlite_url, "--config", str(wm_toml), "--log-level", "debug",
            code=1,
        )  # fmt: skip
        listed = run("incidents", "-d", sqlite_url)
        tests = [
            run("alert", "test", name, "-d", sqlite_url, "--config", str(wm_toml), code=1)
            for name in ("hook", "chat", "pager", "am")
        ]
    finally:
        echo.close()
    for said in tests:  # the CLI's Error: line, masked as the stored reason is
        assert "answered HTTP 403: Cannot POST" in said and "hunter2" not in said, said
    [incident] = json.loads(listed)["incidents"]
    errors = {n["notifier"]: n["error"] for n in incident["notified"]}
    assert set(errors) == {"hook", "chat", "pager", "am"}, incident["notified"]
    assert all("answered HTTP 403: Cannot POST" in error for error in errors.values()), errors
    for what, secret in secrets.items():
        assert "hunter2" not in listed, (what, listed)
        assert secret not in output, (what, output)
    assert "***" in errors["hook"] and "***" in errors["chat"] and "***" in errors["pager"]


def test_a_command_that_says_the_environment_never_shows_a_secret(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command notifier inherits the environment, where the settings' secrets may be."""
    monkeypatch.setenv("WM_SERVE_TOKEN", "serve-tok-hunter2")
    monkeypatch.setenv("WM_STREAM_SASL_PASSWORD", "sasl-pw-hunter2")
    wm_toml = tmp_path / "wm.toml"
    wm_toml.write_text(
        f"""
[[notifier]]
name = "page"
type = "command"
command = ["sh", "-c", "echo token $WM_SERVE_TOKEN sasl $WM_STREAM_SASL_PASSWORD >&2; exit 3"]

[[alert]]
name = "site down"
urls = ["{URL}"]
notify = ["page"]
"""
    )
    store(sqlite_url, Timeline()(DOWN))
    output = run(
        "alert", "--once", "-d", sqlite_url, "--config", str(wm_toml), "--log-level", "debug",
        code=1,
    )  # fmt: skip
    listed = run("incidents", "-d", sqlite_url)
    [incident] = json.loads(listed)["incidents"]
    assert incident["notified"][0]["error"] == "sh exited with 3: token *** sasl ***"
    assert "hunter2" not in output + listed


@pytest.mark.parametrize(
    ("kind", "key", "value"),
    [
        ("webhook", "secret", "73105523"),
        ("pagerduty", "routing_key", "[\"R0UT1NGKEY\", 1]"),
        ("slack", "url", "{ token = \"xoxb-1\" }"),
    ],
)  # fmt: skip
def test_a_secret_of_the_wrong_type_is_not_shown_in_the_error(
    sqlite_url: str, tmp_path: Path, kind: str, key: str, value: str
) -> None:
    wm_toml = tmp_path / "wm.toml"
    url = 'url = "https://hooks.example/h"' if kind == "webhook" else ""
    wm_toml.write_text(
        f"""
[[notifier]]
name = "n"
type = "{kind}"
{url}
{key} = {value}

[[alert]]
name = "site down"
urls = ["{URL}"]
notify = ["n"]
"""
    )
    output = run("alert", "--once", "-d", sqlite_url, "--config", str(wm_toml), code=1)
    assert f"[[notifier]] 'n': {key}: expected a non-empty string (a secret: not shown)" in output
    for shown in ("73105523", "R0UT1NGKEY", "xoxb"):
        assert shown not in output
