"""The alerting tables of wm.toml: a mistake is one `Error:` line at start, naming the key;
the settings reader takes the same file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.alerting import run

GOOD = """
db_connection_string = "{db}"

[probe]
timeout = "5s"

[[notifier]]
name = "ops"
type = "webhook"
url = "https://hooks.example.org/wm"

[[alert]]
name = "site down"
urls = ["https://example.org/health"]
notify = ["ops"]
"""


def error_of(tmp_path: Path, text: str, *command: str) -> str:
    wm_toml = tmp_path / "wm.toml"
    wm_toml.write_text(text)
    args = command or ("alert", "--once")
    out = run(*args, "--config", str(wm_toml), "-d", f"sqlite:///{tmp_path / 'wm.db'}", code=1)
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith("Error: "), out
    return lines[0].removeprefix("Error: ").replace(str(wm_toml), "wm.toml")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('notify = ["ops"]', 'notify = ["opz"]'),
            "wm.toml: [[alert]] 'site down': notify: unknown notifier 'opz'"
            " (hint: the [[notifier]] names: ops)",
        ),
        (
            ('notify = ["ops"]', 'notify = ["ops"]\nremind_every = "1 hour"'),
            "wm.toml: [[alert]] 'site down': remind_every: invalid duration '1 hour'"
            " (hint: use a number with a unit, e.g. 500ms, 30s, 5m, 1h, 7d)",
        ),
        (
            ('notify = ["ops"]', 'notify = ["ops"]\nlatency = "p95 > fast over 5m"'),
            "wm.toml: [[alert]] 'site down': latency: invalid duration 'fast'"
            " (hint: use a number with a unit, e.g. 500ms, 30s, 5m, 1h, 7d)",
        ),
        (
            ('notify = ["ops"]', 'notify = ["ops"]\nfailure_treshold = 5'),
            "wm.toml: [[alert]] 'site down': unknown key 'failure_treshold'"
            " (hint: did you mean 'failure_threshold'?)",
        ),
        (
            ('notify = ["ops"]', 'notify = ["ops"]\nfailure_threshold = 0'),
            "wm.toml: [[alert]] 'site down': failure_threshold: must be at least 1, got 0",
        ),
        (
            ('type = "webhook"', 'type = "carrier-pigeon"'),
            "wm.toml: [[notifier]] 'ops': type: unknown notifier type 'carrier-pigeon'"
            " (hint: use webhook, slack, pagerduty, email, alertmanager, command)",
        ),
        (
            ('url = "https://hooks.example.org/wm"', 'url = "hooks.example.org"'),
            "wm.toml: [[notifier]] 'ops': url: expected an http(s) URL"
            " (hint: e.g. https://hooks.example.org/wm)",
        ),
    ],
)
def test_a_mistake_is_one_line_naming_the_key(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    text = GOOD.format(db="sqlite:///unused.db").replace(*change)
    assert error_of(tmp_path, text) == expected


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            '[[maintenance]]\nurls = ["https://example.org/health"]\nstart = "2026-12-24T00:00:00Z"',
            "wm.toml: [[maintenance]] #1: the window has no end: duration is missing"
            ' (hint: duration = "2h" (or end = "…" for a one-off window))',
        ),
        (
            '[[maintenance]]\nurls = ["https://example.org/health"]\nevery = "sun 02:00"',
            "wm.toml: [[maintenance]] #1: the window has no end: duration is missing"
            ' (hint: duration = "2h" (or end = "…" for a one-off window))',
        ),
        (
            '[[maintenance]]\nurls = ["https://example.org/health"]\nevery = "sunday 2am"'
            '\nduration = "1h"',
            "wm.toml: [[maintenance]] #1: every: cannot read 'sunday 2am'"
            ' (hint: e.g. every = "sun 02:00" or "daily 03:30" (UTC))',
        ),
        (
            '[[maintenance]]\nname = "deploy"\nurls = ["https://example.org/health"]'
            '\nstart = "2026-12-24T00:00:00Z"\nduration = "2 hours"',
            "wm.toml: [[maintenance]] 'deploy': duration: invalid duration '2 hours'"
            " (hint: use a number with a unit, e.g. 500ms, 30s, 5m, 1h, 7d)",
        ),
        (
            '[[slo]]\nname = "checkout"\nurls = ["https://example.org/health"]'
            '\nobjective = 100\nwindow = "28d"',
            "wm.toml: [[slo]] 'checkout': objective: must be a percentage above 0 and below"
            " 100, got 100",
        ),
        (
            '[[slo]]\nname = "checkout"\nurls = ["https://example.org/health"]'
            '\nobjective = 99.9\nwindow = "4 weeks"',
            "wm.toml: [[slo]] 'checkout': window: invalid duration '4 weeks'"
            " (hint: use a number with a unit, e.g. 500ms, 30s, 5m, 1h, 7d)",
        ),
    ],
)
def test_maintenance_and_slo_mistakes(tmp_path: Path, table: str, expected: str) -> None:
    text = GOOD.format(db="sqlite:///unused.db") + "\n" + table + "\n"
    for command in (("alert", "--once"), ("slo",)):
        assert error_of(tmp_path, text, *command) == expected


def test_a_single_table_where_an_array_is_meant(tmp_path: Path) -> None:
    text = '[notifier]\nname = "ops"\ntype = "webhook"\nurl = "https://hooks.example.org/wm"\n'
    assert error_of(tmp_path, text) == (
        "wm.toml: [notifier] must be an array of tables (hint: write [[notifier]])"
    )


def test_the_same_file_feeds_the_settings(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'from-file.db'}"
    wm_toml = tmp_path / "wm.toml"
    wm_toml.write_text(GOOD.format(db=db))
    # wm db upgrade and wm stats read their settings from the file and leave the alerting
    # tables alone.
    run("db", "upgrade", "--config", str(wm_toml))
    assert (tmp_path / "from-file.db").exists()
    assert json.loads(run("stats", "--config", str(wm_toml))) == {"stats": []}
    assert json.loads(run("slo", "--config", str(wm_toml))) == {"slos": []}


def test_wm_alert_needs_a_rule(tmp_path: Path) -> None:
    wm_toml = tmp_path / "wm.toml"
    wm_toml.write_text('[[notifier]]\nname = "ops"\ntype = "webhook"\nurl = "http://h/x"\n')
    out = run("alert", "--once", "--config", str(wm_toml), code=1)
    assert out.strip() == (
        "Error: no [[alert]] or [[slo]] to evaluate (hint: add them to the config file"
        " (--config, WM_CONFIG); see docs/alerting.md)"
    )


def test_wm_alert_test_names_an_unknown_notifier(tmp_path: Path) -> None:
    wm_toml = tmp_path / "wm.toml"
    wm_toml.write_text(GOOD.format(db=f"sqlite:///{tmp_path / 'wm.db'}"))
    out = run("alert", "test", "pager", "--config", str(wm_toml), code=1)
    assert out.strip() == "Error: unknown notifier 'pager' (hint: the [[notifier]] names: ops)"


def test_a_traffic_rule_mistake_stops_wm_tail(tmp_path: Path) -> None:
    wm_toml = tmp_path / "wm.toml"
    wm_toml.write_text(
        GOOD.format(db=f"sqlite:///{tmp_path / 'wm.db'}")
        + '\n[[alert]]\nname = "busy"\nsources = ["web1"]\nfailure_threshold = 3\n'
    )
    log = tmp_path / "access.log"
    log.write_text("")
    out = run("tail", str(log), "--exit-at-eof", "--config", str(wm_toml), code=1)
    assert out.strip() == (
        f"Error: {wm_toml}: [[alert]] 'busy': failure_threshold: does not apply to a rule on"
        " wm tail's sources"
    )
