"""The `--expect` condition language: parsing, errors with their column, and judging real checks."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.services import HTTPTestServer
from website_monitor.cli import main
from website_monitor.errors import ConfigError
from website_monitor.probes.check import CheckOptions, Prober
from website_monitor.probes.conditions import Facts, evaluate, parse, parse_all

EXAMPLES = [
    "status == 200",
    "status in [200, 204]",
    "total < 1s",
    "ttfb < 200ms",
    "connect < 50ms",
    'body contains "ok"',
    'body.json.status == "UP"',
    'header.content-type ~ "json"',
    "cert_days > 14",
    'not (status == 500) and (body !~ "error" or status != 200)',
    "body.json.items.0.id >= 3",
    'body.json."a.b" == null',
    "answers contains '10.0.0.1'",
    "status not in [500, 502, 503]",
    'body not contains "maintenance"',
]


@pytest.mark.parametrize("text", EXAMPLES)
def test_the_documented_examples_parse(text: str) -> None:
    condition = parse(text)
    assert condition.source == text


def _facts(**overrides: object) -> Facts:
    values: dict[str, object] = {
        "kind": "https",
        "status": 503,
        "total_ms": 1500.0,
        "dns_ms": 2.0,
        "connect_ms": None,  # a reused connection
        "tls_ms": None,
        "ttfb_ms": 350.25,
        "body": b'{"status": "DOWN", "items": [{"id": 3}], "a.b": null, "up": true}',
        "headers": {"content-type": "application/json"},
        "cert_days": 3.5,
    }
    values.update(overrides)
    return Facts(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "holds", "why"),
    [
        ("status == 200", False, "status is 503 (expected == 200)"),
        ("status in [200, 503]", True, ""),
        ("status in [200, 204]", False, "status is 503 (expected in [200, 204])"),
        ("total < 1s", False, "total is 1500ms (expected < 1s)"),
        ("total < 2s", True, ""),
        ("ttfb < 200ms", False, "ttfb is 350.25ms (expected < 200ms)"),
        ("connect < 1ms", None, ""),  # no connect on a reused connection: skipped
        ("dns < 1ms", False, "dns is 2ms (expected < 1ms)"),
        ('body contains "DOWN"', True, ""),
        ('body contains "ok"', False, 'body does not contain "ok"'),
        ('body !~ "DO+WN"', False, 'body matches "DO+WN"'),
        ('body.json.status == "UP"', False, 'body.json.status is "DOWN" (expected == "UP")'),
        ("body.json.items.0.id == 3", True, ""),
        ("body.json.items.0.id == 3.0", True, ""),
        ("body.json.up == 1", False, "body.json.up is true (expected == 1)"),
        ("body.json.up == true", True, ""),
        ('body.json."a.b" == null', True, ""),
        ("body.json.missing == null", True, ""),
        ("body.json.missing > 3", False, "body.json.missing is missing"),
        ("body.json.status > 3", False, 'body.json.status is "DOWN": not a number'),
        ('body.json contains "items"', True, ""),
        ('header.content-type ~ "json"', True, ""),
        ('header.Content-Type ~ "^text/"', False, "header.Content-Type is"),
        ('header.x-missing == "a"', False, "header.x-missing is missing"),
        ("cert_days > 14", False, "cert_days is 3.5 (expected > 14)"),
        ("answers contains '1.2.3.4'", None, ""),  # not a DNS check
        ("status == 200 or ttfb < 100ms", False, "status is 503 (expected == 200); ttfb is"),
        ("status == 503 and not ttfb < 1s", False, "ttfb < 1s held"),
        ("connect < 1ms and status == 503", True, ""),
        ("connect < 1ms or dns < 1ms", False, "dns is 2ms"),
    ],
)
def test_evaluation(text: str, holds: bool | None, why: str) -> None:
    result, reason = evaluate(parse(text), _facts())
    assert result is holds
    assert reason.startswith(why), reason


def test_a_body_that_is_not_json_fails_json_conditions() -> None:
    result, reason = evaluate(parse('body.json.status == "UP"'), _facts(body=b"<html>"))
    assert (result, reason) == (False, "body is not JSON")


def test_names_apply_to_their_kinds_of_check() -> None:
    tcp = Facts(kind="tcp", total_ms=3.0, connect_ms=1.0, body=b"220 ready\r\n")
    assert evaluate(parse("status == 200"), tcp) == (None, "")
    assert evaluate(parse('body ~ "^220 "'), tcp) == (True, "")
    assert evaluate(parse("connect < 0.5ms"), tcp)[0] is False
    dns = Facts(kind="dns", total_ms=1.0, answers=["10.0.0.1", "10.0.0.2"])
    assert evaluate(parse("answers contains '10.0.0.2'"), dns) == (True, "")
    assert evaluate(parse('answers ~ "^10\\.0\\.0\\.9$"'), dns)[0] is False
    assert evaluate(parse('body contains "10.0.0.1"'), dns) == (True, "")
    plain = _facts(kind="http", cert_days=None)
    assert evaluate(parse("cert_days > 14"), plain) == (None, "")


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("status = 200", 8, "expected an operator"),
        ("stats == 200", 1, "unknown name 'stats'"),
        ('status == "200"', 11, "status is a number"),
        ("total < 5x", 9, "expected a duration"),
        ("status == 200ms", 11, "expected a plain number"),
        ('body ~ "("', 8, "invalid regular expression"),
        ("status in 200", 11, "'in' takes a list"),
        ('header == "x"', 1, "name a header"),
        ("(status == 1", None, "expected ')'"),
        ("status == 200 foo", 15, "expected 'and', 'or' or the end"),
        ("body < 3", 8, "'<' does not apply to body"),
        ("status == 200 and", None, "expected a name"),
        ("status @ 200", 8, "unexpected character '@'"),
        ("body.html == 1", 1, "after body. comes json"),
    ],
)
def test_a_bad_expression_says_where(text: str, column: int | None, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    where = f"at column {column} " if column else "at end: "
    assert where in caught.value.message, caught.value.message
    assert message in caught.value.message
    assert caught.value.hint is not None


def test_a_bad_expression_is_one_error_line_before_any_check(
    http_server: HTTPTestServer, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(
        main,
        ["probe", http_server.url, "--data-dir", str(tmp_path), "--expect", "status = 200"],
    )
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: invalid --expect 'status = 200' at column 8")
    assert http_server.hits == 0


def test_http_checks_record_the_first_failed_condition(http_server: HTTPTestServer) -> None:
    options = CheckOptions(
        timeout=5,
        conditions=parse_all(
            ['header.content-type ~ "text/plain"', 'body contains "ok"', "ttfb < 1ms"]
        ),
    )
    with Prober(options) as prober:
        fast_ok = prober.check(f"{http_server.url}/")
        slow = prober.check(f"{http_server.url}/delay/30")
    # The first two hold on "/"; the third cannot hold for a 30 ms delay.
    assert slow.ok is False and slow.error == "condition"
    assert slow.failed_condition == "ttfb < 1ms"
    assert slow.error_detail is not None and slow.error_detail.startswith("ttfb is ")
    assert slow.http_status_code == 200
    assert fast_ok.failed_condition in (None, "ttfb < 1ms")


def test_a_status_condition_replaces_the_default_rule(http_server: HTTPTestServer) -> None:
    with Prober(CheckOptions(timeout=5, conditions=parse_all(["status == 404"]))) as prober:
        missing = prober.check(f"{http_server.url}/status/404")
        found = prober.check(f"{http_server.url}/status/200")
    assert (missing.ok, missing.error, missing.failed_condition) == (True, None, None)
    assert (found.ok, found.error, found.failed_condition) == (False, "condition", "status == 404")
    assert found.error_detail == "status is 200 (expected == 404)"


def test_json_bodies(http_server: HTTPTestServer) -> None:
    up = json.dumps({"status": "UP", "checks": [{"name": "db", "ok": True}]})
    down = json.dumps({"status": "DOWN"})
    conditions = parse_all(['body.json.status == "UP"', "body.json.checks.0.ok == true"])
    with Prober(CheckOptions(timeout=5, conditions=conditions)) as prober:
        good = prober.check(f"{http_server.url}/body?text={up}")
        bad = prober.check(f"{http_server.url}/body?text={down}")
        text = prober.check(f"{http_server.url}/body?text=plain")
    assert (good.ok, good.failed_condition) == (True, None)
    assert (bad.ok, bad.failed_condition) == (False, 'body.json.status == "UP"')
    assert bad.error_detail == 'body.json.status is "DOWN" (expected == "UP")'
    assert (text.error, text.error_detail) == ("condition", "body is not JSON")


def test_expect_status_and_regex_keep_working_beside_conditions(
    http_server: HTTPTestServer,
) -> None:
    import re

    options = CheckOptions(
        timeout=5,
        expect_status=404,
        expect_regex=re.compile("hel+o"),
        conditions=parse_all(["total < 10s"]),
    )
    with Prober(options) as prober:
        hello = prober.check(f"{http_server.url}/body?text=hello&status=404")
        other = prober.check(f"{http_server.url}/body?text=bye&status=404")
    assert (hello.content_match, hello.ok, hello.error) == (True, True, None)
    assert (other.content_match, other.ok, other.error) == (False, False, None)


def test_conditions_from_the_environment_and_the_config_file(
    http_server: HTTPTestServer, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "wm.toml"
    config.write_text('[probe]\nexpect = ["status == 200", "body contains \\"ok, fine\\""]\n')
    result = CliRunner().invoke(
        main,
        ["probe", f"{http_server.url}/", "--json", "--config", str(config)],
        env={"WM_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.splitlines()[0])
    assert line["failed_condition"] == 'body contains "ok, fine"'
    result = CliRunner().invoke(
        main,
        ["probe", f"{http_server.url}/", "--json"],
        env={
            "WM_DATA_DIR": str(tmp_path),
            "WM_PROBE_EXPECT": 'status == 200\nbody contains "nope"',
        },
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[0])["failed_condition"] == 'body contains "nope"'
