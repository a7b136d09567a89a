"""Bad input on the command line: one exact `Error:` line, a hint, a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from website_monitor.cli import main


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), prog_name="wm")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_unknown_scheme() -> None:
    code, output = invoke("stats", "-d", "mysql://root:pw@localhost/wm")
    assert code == 1
    assert output == (
        "Error: unsupported connection string scheme 'mysql' (hint: use "
        "postgresql://user:password@host:5432/dbname or sqlite:///path/to/wm.db)\n"
    )


def test_connection_string_without_scheme_does_not_echo_password() -> None:
    code, output = invoke("stats", "-d", "wm:hunter2@localhost/wm")
    assert code == 1
    assert output == (
        "Error: the connection string has no scheme (hint: use "
        "postgresql://user:password@host:5432/dbname or sqlite:///path/to/wm.db)\n"
    )


def test_unreachable_database_hides_password() -> None:
    code, output = invoke("stats", "-d", "postgresql://wm:hunter2@127.0.0.1:1/wm")
    assert code == 1
    assert output.startswith(
        "Error: cannot connect to PostgreSQL at postgresql://wm:***@127.0.0.1:1/wm: "
    )
    assert output.endswith(
        "(hint: check -d/--db-connection-string and that the server is running)\n"
    )
    assert "hunter2" not in output
    assert output.count("\n") == 1


def test_invalid_url() -> None:
    code, output = invoke("probe", "-u", "example.org")
    assert (code, output) == (
        1,
        "Error: invalid URL 'example.org' (hint: give an absolute http:// or https:// URL,"
        " tcp://host:port or dns://name)\n",
    )


def test_no_url() -> None:
    code, output = invoke("probe")
    assert (code, output) == (
        1,
        "Error: no URL to probe (hint: give URLs as arguments, with -u/--url, WM_URL or --urls-file)\n",
    )


@pytest.mark.parametrize("option", ["--every", "--timeout"])
def test_bad_duration(option: str) -> None:
    code, output = invoke("probe", "-u", "http://127.0.0.1/", option, "soon")
    assert (code, output) == (
        1,
        f"Error: {option}: invalid duration 'soon' (hint: use a number with a unit, "
        "e.g. 500ms, 30s, 5m, 1h, 7d)\n",
    )


def test_bad_since() -> None:
    code, output = invoke("stats", "--since", "last tuesday")
    assert (code, output) == (
        1,
        "Error: invalid time 'last tuesday' (hint: use ISO 8601 (2026-11-23T10:00:00Z) "
        "or an age (1h, 7d))\n",
    )


def test_missing_ssl_file_is_a_usage_error_naming_the_path() -> None:
    code, output = invoke("probe", "-u", "http://127.0.0.1/", "-ca", "/nope/ca.pem")
    assert code == 2
    assert output.endswith(
        "Error: Invalid value for '-ca' / '--ssl-cafile' (env var: 'WM_STREAM_SSL_CA_FILE'): "
        "File '/nope/ca.pem' does not exist.\n"
    )


def test_missing_ssl_file_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WM_STREAM_SSL_KEY_FILE", "/nope/key.pem")
    code, output = invoke("probe", "-u", "http://127.0.0.1/")
    assert code == 2
    assert "'/nope/key.pem' does not exist" in output


def test_unreachable_broker() -> None:
    code, output = invoke("probe", "-u", "http://127.0.0.1:1/", "-b", "127.0.0.1:1", "-q")
    assert code == 1
    assert output.startswith("Error: cannot reach Kafka at 127.0.0.1:1: ")
    assert "; 1 results spooled to " in output
    assert output.endswith(
        "(hint: they are sent by the next wm probe, or now by `wm spool send`)\n"
    )
    assert output.count("\n") == 1


def test_flush_unreachable_broker(sqlite_url: str) -> None:
    code, output = invoke("flush", "-b", "127.0.0.1:1", "-d", sqlite_url)
    assert code == 1
    assert output.startswith("Error: cannot reach Kafka at 127.0.0.1:1: ")
    assert output.endswith("(hint: check -b/--bootstrap-server and that the broker is running)\n")
    assert output.count("\n") == 1


def test_flush_needs_a_broker() -> None:
    code, output = invoke("flush")
    assert (code, output) == (
        1,
        "Error: wm flush needs a Kafka bootstrap server (hint: give -b/--bootstrap-server or "
        "WM_STREAM_BOOTSTRAP_SERVER; without Kafka, wm probe writes to the store directly)\n",
    )


def test_unknown_config_key(tmp_path: Path) -> None:
    path = tmp_path / "wm.toml"
    path.write_text("colour = 'blue'\n")
    code, output = invoke("stats", "--config", str(path))
    assert code == 1
    assert output.startswith(f"Error: unknown setting 'colour' in {path} (hint: known settings: ")


def test_help_shows_environment_variables_and_no_secret() -> None:
    code, output = invoke("flush", "--help")
    assert code == 0
    for name in (
        "WM_DB_CONNECTION_STRING",
        "WM_STREAM_BOOTSTRAP_SERVER",
        "WM_STREAM_TOPIC",
        "WM_STREAM_CONSUMER_GROUP_ID",
        "WM_STREAM_SSL_CA_FILE",
        "WM_STREAM_SSL_CERT_FILE",
        "WM_STREAM_SSL_KEY_FILE",
        "WM_STREAM_SASL_PASSWORD",
    ):
        assert name in output


def test_help_never_shows_secret_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WM_DB_CONNECTION_STRING", "postgresql://u:hunter2@h/d")
    monkeypatch.setenv("WM_STREAM_SASL_PASSWORD", "sasl-secret")
    for command in ("probe", "flush", "stats"):
        code, output = invoke(command, "--help")
        assert code == 0
        assert "hunter2" not in output and "sasl-secret" not in output


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["stats", "--since", "99999999999d"],
            "Error: duration '99999999999d' is out of range (hint: at most 100 years)\n",
        ),
        (
            ["stats", "--until", "9999-12-31T23:00:00-05:00"],
            "Error: invalid time '9999-12-31T23:00:00-05:00' (hint: use ISO 8601 (2026-11-23T10:00:00Z) or an age (1h, 7d))\n",
        ),
        (
            ["stats", "-d", "postgresql://u:secretpw@[::1/db"],
            "Error: the connection string cannot be parsed (hint: use postgresql://user:password@host:5432/dbname or sqlite:///path/to/wm.db)\n",
        ),
        (
            ["stats", "-d", "sqlite:///tmp/a\x00b.db"],
            "Error: the SQLite path contains a NUL character (hint: use postgresql://user:password@host:5432/dbname or sqlite:///path/to/wm.db)\n",
        ),
        (
            ["probe", "-u", "http://127.0.0.1/", "-b", "127.0.0.1:abc"],
            "Error: invalid bootstrap server '127.0.0.1:abc' (hint: use host:port, e.g. kafka:9092)\n",
        ),
        (
            ["probe", "-u", "http://127.0.0.1/", "--every", "99999999999999w"],
            "Error: --every: duration '99999999999999w' is out of range (hint: at most 100 years)\n",
        ),
        (
            ["probe", "-u", "http://127.0.0.1/", "--timeout", "2h"],
            "Error: --timeout must be positive and at most 1h\n",
        ),
    ],
)
def test_out_of_range_and_unparseable_values(args: list[str], expected: str) -> None:
    assert invoke(*args) == (1, expected)


def test_password_in_query_string_is_hidden() -> None:
    code, output = invoke("db", "status", "-d", "postgresql://127.0.0.1:1/db?password=secretpw")
    assert code == 1
    assert output.startswith(
        "Error: cannot connect to PostgreSQL at postgresql://127.0.0.1:1/db?password=***: "
    )
    assert "secretpw" not in output


def test_config_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "wm.toml"
    path.write_bytes(b"\xff\xfe")
    code, output = invoke("stats", "--config", str(path))
    assert code == 1
    assert output.startswith(f"Error: cannot read config file {path}: 'utf-8' codec can't decode")


def test_infinite_timeout_in_config_file(tmp_path: Path) -> None:
    path = tmp_path / "wm.toml"
    path.write_text("timeout = inf\n")
    code, output = invoke("probe", "-u", "http://127.0.0.1/", "--config", str(path))
    assert (code, output) == (
        1,
        f"Error: {path}:timeout: duration inf is out of range (hint: at most 100 years)\n",
    )


def test_unwritable_data_directory_says_results_were_not_kept(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    code, output = invoke(
        "probe", "-u", "http://127.0.0.1:1/", "--data-dir", str(blocker / "wm"), "-q"
    )
    assert code == 1
    assert output.startswith("Error: cannot create the directory for ")
    assert output.endswith(": 1 results were not kept (hint: check --data-dir / WM_DATA_DIR)\n")


def test_every_option_of_every_command_has_an_environment_variable() -> None:
    """Configuration by environment (a Kubernetes pod) must reach every option."""
    import click

    from website_monitor.cli import main as group

    exempt = {"help", "version", "indent", "config_file"}
    missing = []

    def walk(command: click.Command, path: str) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")
            return
        for param in command.params:
            if isinstance(param, click.Option) and param.name not in exempt and not param.envvar:
                if param.flag_value in ("exact", "rollups"):  # shortcuts for --source
                    continue
                missing.append(f"{path} {param.opts[-1]}")

    walk(group, "wm")
    assert missing == []


@pytest.mark.parametrize(
    "args",
    [
        ("stats",),
        ("stats", "--hits"),
        ("stations",),
        ("alerts",),
        ("incidents",),
        ("slo",),
        ("dlq", "list"),
    ],
    ids=" ".join,
)
def test_a_read_only_command_creates_no_store(tmp_path: Path, args: tuple[str, ...]) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "wm.db"
    code, output = invoke(*args, "-d", f"sqlite:///{missing}")
    assert (code, output) == (
        1,
        f"Error: there is no store at {missing} (hint: check -d/--db-connection-string;"
        " wm probe, flush, tail or listen create it)\n",
    )
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("command", [("stats",), ("stats", "--hits"), ("stations",)], ids=" ".join)
def test_a_backwards_range_is_refused(tmp_path: Path, command: tuple[str, ...]) -> None:
    store = f"sqlite:///{tmp_path / 'wm.db'}"
    args = (*command, "-d", store, "--since", "2026-11-23T10:00:00Z", "--until", "2026-11-23")
    code, output = invoke(*args)
    assert (code, output) == (
        1,
        "Error: --since 2026-11-23T10:00:00Z (2026-11-23T10:00:00Z) is not before --until"
        " 2026-11-23 (2026-11-23T00:00:00Z): the range is empty (hint: --since is the older"
        " end: e.g. --since 2h --until 1h)\n",
    )


def test_an_empty_dead_letter_list_is_a_document(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'wm.db'}"
    assert invoke("db", "upgrade", "-d", store)[0] == 0
    assert invoke("dlq", "list", "-d", store, "--indent", "0") == (0, '{"dead_letters":[]}\n')


def test_db_status_shows_a_missing_store_without_creating_it(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "wm.db"
    code, output = invoke("db", "status", "-d", f"sqlite:///{missing}")
    assert code == 0
    status = json.loads(output)
    assert (status["exists"], status["version"], status["tables"]) == (False, 0, [])
    assert status["pending"] == status["latest"] > 0
    assert not (tmp_path / "no").exists()


def test_nothing_stored_yet_reads_as_empty(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded default store before anything was stored: empty answers, no file made."""
    monkeypatch.setenv("WM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("WM_DB_CONNECTION_STRING", raising=False)
    for args, document in (
        (("stats",), {"stats": []}),
        (("stats", "--hits"), {"hits": []}),
        (("incidents",), {"incidents": []}),
        (("dlq", "list"), {"dead_letters": []}),
    ):
        code, output = invoke(*args)
        assert (code, json.loads(output)) == (0, document), args
    assert not (tmp_path / "data").exists()
