"""Each notifier against a real receiver: Alertmanager (Debian's prometheus-alertmanager),
an SMTP server with STARTTLS and AUTH (aiosmtpd, a certificate made by trustme), and local
receivers checking Slack's and PagerDuty's documented formats; a command."""

from __future__ import annotations

import json
import logging
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.alerting import (
    URL,
    Receiver,
    Script,
    Timeline,
    alert_once,
    config,
    incidents,
    run,
    store,
)
from tests.conftest import unavailable
from tests.services import free_port, wait_for_port, wait_until

DOWN, UP = [False] * 3, [True] * 2
ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


def rule(notifier: str, url: str = URL) -> str:
    return f"""
[[alert]]
name = "site down"
urls = ["{url}"]
notify = ["{notifier}"]
"""


def outage(store_url: str, wm_toml: Path, url: str = URL) -> tuple[Any, Any]:
    """An incident opened and resolved; `wm alert --once` after each half."""
    timeline = Timeline(url=url)
    store(store_url, timeline(DOWN))
    alert_once(store_url, wm_toml)
    opened = incidents(store_url)
    store(store_url, timeline(UP))
    alert_once(store_url, wm_toml)
    return opened, incidents(store_url)


# --- Alertmanager ---------------------------------------------------------------------------


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    if not Path(ALERTMANAGER).is_file():
        unavailable("prometheus-alertmanager is missing (apt-get install prometheus-alertmanager)")
    (tmp_path / "am.yml").write_text('route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n')
    port = free_port()
    process = subprocess.Popen(
        [
            ALERTMANAGER,
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port("127.0.0.1", port)
        assert wait_until(lambda: requests.get(base + "/-/ready", timeout=2).ok, 30)
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_alertmanager_shows_the_alert_then_resolves_it(
    alertmanager: str, sqlite_url: str, tmp_path: Path
) -> None:
    wm_toml = config(
        tmp_path / "wm.toml",
        f"""
[[notifier]]
name = "am"
type = "alertmanager"
url = "{alertmanager}"
labels = {{team = "web"}}
{rule("am")}
""",
    )
    timeline = Timeline()
    store(sqlite_url, timeline(DOWN))
    alert_once(sqlite_url, wm_toml)
    [incident] = incidents(sqlite_url)
    [shown] = requests.get(alertmanager + "/api/v2/alerts", timeout=10).json()
    assert shown["status"]["state"] == "active"
    assert shown["labels"] == {
        "alertname": "site down",
        "kind": "down",
        "severity": "page",
        "incident": incident["id"],
        "url": URL,
        "team": "web",
    }
    assert shown["annotations"]["dedup_key"] == f"{incident['id']}:open"
    started = datetime.fromisoformat(incident["started_at"])  # Alertmanager keeps milliseconds
    assert abs(datetime.fromisoformat(shown["startsAt"]) - started) < timedelta(milliseconds=1)
    store(sqlite_url, timeline(UP))
    alert_once(sqlite_url, wm_toml)
    assert requests.get(alertmanager + "/api/v2/alerts", timeout=10).json() == []
    [incident] = incidents(sqlite_url)
    assert [(n["transition"], n["state"]) for n in incident["notified"]] == [
        ("open", "sent"),
        ("resolve", "sent"),
    ]


# --- email --------------------------------------------------------------------------------

PASSWORD = "correct horse battery staple"


class SMTPServer:
    """aiosmtpd on loopback: STARTTLS required before AUTH, AUTH required before mail."""

    def __init__(self, tmp_path: Path) -> None:
        try:
            import trustme
            from aiosmtpd.controller import Controller
            from aiosmtpd.smtp import AuthResult, LoginPassword
        except ImportError:
            unavailable("aiosmtpd and trustme are needed (pip install -e '.[dev]')")
        # aiosmtpd's own log (a deprecation it warns of itself) is not wm's output.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        ca = trustme.CA()
        self.ca_file = tmp_path / "smtp-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_file))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.messages: list[Any] = []
        self.logins: list[tuple[bytes, bool]] = []
        server = self

        class Inbox:
            async def handle_DATA(self, smtp: Any, session: Any, envelope: Any) -> str:
                server.messages.append(envelope)
                return "250 Message accepted for delivery"

        def authenticate(
            smtp: Any, session: Any, envelope: Any, mechanism: str, data: Any
        ) -> AuthResult:
            good = (
                isinstance(data, LoginPassword)
                and data.login == b"wm"
                and data.password == PASSWORD.encode()
            )
            server.logins.append((getattr(data, "login", b""), good))
            return AuthResult(success=good, handled=False)

        self.port = free_port()
        self.controller = Controller(
            Inbox(),
            hostname="127.0.0.1",
            port=self.port,
            tls_context=context,
            require_starttls=True,
            authenticator=authenticate,
            auth_require_tls=True,
            auth_required=True,
        )
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[SMTPServer]:
    server = SMTPServer(tmp_path)
    yield server
    server.close()


def mail_config(tmp_path: Path, smtp: SMTPServer) -> Path:
    return config(
        tmp_path / "wm.toml",
        f"""
[[notifier]]
name = "mail"
type = "email"
host = "127.0.0.1"
port = {smtp.port}
from = "wm@example.org"
to = ["oncall@example.org", "lead@example.org"]
username = "wm"
password_env = "WM_TEST_SMTP_PASSWORD"
ca_file = "{smtp.ca_file}"
{rule("mail")}
""",
    )


def test_email_through_starttls_and_auth(
    smtp_server: SMTPServer, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WM_TEST_SMTP_PASSWORD", PASSWORD)
    wm_toml = mail_config(tmp_path, smtp_server)
    tested = json.loads(run("alert", "test", "mail", "--config", str(wm_toml)))
    assert tested["sent"] is True and tested["type"] == "email"
    timeline = Timeline()
    output = ""
    for phase in (DOWN, UP):
        store(sqlite_url, timeline(phase))
        output += run(
            "alert", "--once", "-d", sqlite_url, "--config", str(wm_toml), "--log-level", "debug"
        )
        if phase is DOWN:
            opened = incidents(sqlite_url)
    resolved = incidents(sqlite_url)
    assert "sent " in output and PASSWORD not in output
    assert all(good for _, good in smtp_server.logins)
    test_mail, open_mail, resolve_mail = smtp_server.messages
    assert open_mail.mail_from == "wm@example.org"
    assert open_mail.rcpt_tos == ["oncall@example.org", "lead@example.org"]
    key = opened[0]["id"]
    from email import message_from_bytes

    parsed = [message_from_bytes(m.original_content) for m in (open_mail, resolve_mail)]
    assert parsed[0]["Subject"] == f"[OPEN] site down: {URL}"
    assert parsed[1]["Subject"] == f"[RESOLVED] site down: {URL}"
    assert parsed[0]["X-WM-Dedup-Key"] == f"{key}:open"
    assert parsed[0]["Message-ID"] == f"<{key}.open@website-monitor>"
    assert "is down: 3 failed checks" in parsed[0].get_payload()
    assert "test notification" in message_from_bytes(test_mail.original_content).get_payload()
    assert [n["state"] for n in resolved[0]["notified"]] == ["sent", "sent"]


def test_a_wrong_password_is_a_failure_that_never_shows_it(
    smtp_server: SMTPServer, sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "not the password at all"
    monkeypatch.setenv("WM_TEST_SMTP_PASSWORD", wrong)
    wm_toml = mail_config(tmp_path, smtp_server)
    store(sqlite_url, Timeline()(DOWN))
    output = run(
        "alert", "--once", "-d", sqlite_url, "--config", str(wm_toml), "--log-level", "debug",
        code=1,
    )  # fmt: skip
    assert "refused the login of wm (535)" in output
    assert wrong not in output and PASSWORD not in output
    [incident] = incidents(sqlite_url)
    assert incident["notified"][0]["state"] == "pending"
    assert wrong not in json.dumps(incident)
    assert smtp_server.messages == []
    monkeypatch.delenv("WM_TEST_SMTP_PASSWORD")
    missing = run("alert", "--once", "-d", sqlite_url, "--config", str(wm_toml), code=1)
    assert missing.strip() == (
        f"Error: {wm_toml}: [[notifier]] 'mail': password_env: the environment variable"
        " WM_TEST_SMTP_PASSWORD is not set (hint: export WM_TEST_SMTP_PASSWORD=… before starting)"
    )


# --- Slack and PagerDuty, checked against their documented formats -------------------------

SLACK_BLOCKS = {"header", "section", "context", "divider"}


def check_slack_message(body: dict[str, Any]) -> None:
    """Slack incoming webhooks: `text` (the notification fallback) and Block Kit `blocks`."""
    assert set(body) <= {"text", "blocks"}
    assert isinstance(body["text"], str) and body["text"]
    assert 0 < len(body["blocks"]) <= 50
    for block in body["blocks"]:
        assert block["type"] in SLACK_BLOCKS
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert 0 < len(block["text"]["text"]) <= 150
        elif block["type"] == "section":
            assert "text" in block or "fields" in block
            if "text" in block:
                assert block["text"]["type"] in ("mrkdwn", "plain_text")
                assert 0 < len(block["text"]["text"]) <= 3000
            for field in block.get("fields", []):
                assert field["type"] in ("mrkdwn", "plain_text")
                assert 0 < len(field["text"]) <= 2000
            assert len(block.get("fields", [])) <= 10
        elif block["type"] == "context":
            assert 0 < len(block["elements"]) <= 10
            for element in block["elements"]:
                assert element["type"] in ("mrkdwn", "plain_text") and element["text"]


def test_slack_messages(sqlite_url: str, tmp_path: Path) -> None:
    marked = "https://shop.example/<script>?a=1&b=<@U123>"
    with Receiver(Script(status=200, answer=b"ok")) as slack:
        wm_toml = config(
            tmp_path / "wm.toml",
            f"""
[[notifier]]
name = "chat"
type = "slack"
url = "{slack.url}/services/T000/B000/XXXXSECRET"
{rule("chat", marked)}
""",
        )
        outage(sqlite_url, wm_toml, url=marked)
        bodies = slack.bodies()
        paths = {r.path for r in slack.received}
    assert paths == {"/services/T000/B000/XXXXSECRET"}
    assert len(bodies) == 2
    for body in bodies:
        check_slack_message(body)
        mrkdwn = json.dumps([b for b in body["blocks"] if b["type"] != "header"])
        assert "<script>" not in mrkdwn and "<@U123>" not in mrkdwn
        assert "&lt;script&gt;" in mrkdwn and "&lt;@U123&gt;" in mrkdwn
    assert bodies[0]["blocks"][0]["text"]["text"].startswith("[OPEN] site down")
    assert bodies[1]["blocks"][0]["text"]["text"].startswith("[RESOLVED] site down")


def test_a_failing_slack_webhook_never_shows_its_secret_path(
    sqlite_url: str, tmp_path: Path
) -> None:
    with Receiver(Script(fail=10, fail_status=404)) as slack:
        wm_toml = config(
            tmp_path / "wm.toml",
            f"""
[[notifier]]
name = "chat"
type = "slack"
url = "{slack.url}/services/T000/B000/XXXXSECRET"
{rule("chat")}
""",
        )
        store(sqlite_url, Timeline()(DOWN))
        output = run("alert", "--once", "-d", sqlite_url, "--config", str(wm_toml), code=1)
    assert "answered HTTP 404" in output
    assert "XXXXSECRET" not in output
    assert "XXXXSECRET" not in json.dumps(incidents(sqlite_url))


def check_pagerduty_event(body: dict[str, Any], routing_key: str) -> None:
    """Events API v2: routing_key, event_action, dedup_key; a trigger's payload."""
    assert body["routing_key"] == routing_key
    assert body["event_action"] in ("trigger", "acknowledge", "resolve")
    assert isinstance(body["dedup_key"], str) and 0 < len(body["dedup_key"]) <= 255
    if body["event_action"] == "trigger":
        payload = body["payload"]
        assert isinstance(payload["summary"], str) and 0 < len(payload["summary"]) <= 1024
        assert isinstance(payload["source"], str) and payload["source"]
        assert payload["severity"] in ("critical", "error", "warning", "info")
        datetime.fromisoformat(payload["timestamp"])
        assert isinstance(payload.get("custom_details", {}), dict)


def test_pagerduty_trigger_and_resolve(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY01"
    monkeypatch.setenv("WM_TEST_PD_KEY", key)
    answer = b'{"status":"success","message":"Event processed","dedup_key":"x"}'
    with Receiver(Script(status=202, answer=answer)) as pagerduty:
        wm_toml = config(
            tmp_path / "wm.toml",
            f"""
[[notifier]]
name = "pager"
type = "pagerduty"
routing_key_env = "WM_TEST_PD_KEY"
url = "{pagerduty.url}/v2/enqueue"
{rule("pager")}
""",
        )
        opened, _ = outage(sqlite_url, wm_toml)
        output = run("alert", "test", "pager", "--config", str(wm_toml))
        bodies = pagerduty.bodies()
        assert {r.path for r in pagerduty.received} == {"/v2/enqueue"}
    assert key not in output
    trigger, resolve, test = bodies
    for body in bodies:
        check_pagerduty_event(body, key)
    incident = opened[0]["id"]
    assert [trigger["event_action"], resolve["event_action"]] == ["trigger", "resolve"]
    assert trigger["dedup_key"] == resolve["dedup_key"] == f"wm-{incident}"
    assert trigger["payload"]["source"] == URL
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["custom_details"]["notification"] == f"{incident}:open"
    assert test["event_action"] == "trigger" and test["dedup_key"] != trigger["dedup_key"]


def test_a_command_reads_the_payload_and_its_environment(sqlite_url: str, tmp_path: Path) -> None:
    record = tmp_path / "record.jsonl"
    script = tmp_path / "page-me.sh"
    script.write_text(
        "#!/bin/sh\n"
        "payload=$(cat)\n"
        f'printf \'{{"key": "%s", "event": "%s", "url": "%s", "payload": %s}}\\n\' '
        f'"$WM_DEDUP_KEY" "$WM_EVENT" "$WM_INCIDENT_URL" "$payload" >> {record}\n'
    )
    script.chmod(0o755)
    wm_toml = config(
        tmp_path / "wm.toml",
        f"""
[[notifier]]
name = "script"
type = "command"
command = ["{script}"]
{rule("script")}
""",
    )
    opened, _ = outage(sqlite_url, wm_toml)
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    incident = opened[0]["id"]
    assert [(r["key"], r["event"], r["url"]) for r in lines] == [
        (f"{incident}:open", "open", URL),
        (f"{incident}:resolve", "resolve", URL),
    ]
    assert lines[0]["payload"]["incident"]["id"] == incident
    assert lines[0]["payload"]["dedup_key"] == f"{incident}:open"
