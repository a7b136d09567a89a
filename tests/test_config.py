"""The configuration layer: defaults < config file < environment < flags."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from website_monitor import config
from website_monitor.cli import main
from website_monitor.errors import ConfigError


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wm.toml"
    path.write_text(text)
    return path


def test_defaults() -> None:
    settings = config.resolve(env={})
    assert settings.topic == "probes"
    assert settings.consumer_group_id == "wm-flush"
    assert settings.timeout == 10.0
    assert settings.concurrency == 10
    assert settings.bootstrap_servers == ()
    assert not settings.uses_kafka


def test_precedence_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        'topic = "from-file"\nconsumer_group_id = "file-group"\n'
        'timeout = "3s"\n[stream]\nbootstrap_servers = "file:9092"\n',
    )
    env = {"WM_STREAM_TOPIC": "from-env", "WM_STREAM_BOOTSTRAP_SERVERS": "env:9092"}
    settings = config.resolve({"topic": "from-flag"}, config_file=path, env=env)
    assert settings.topic == "from-flag"  # flag beats env and file
    assert settings.bootstrap_servers == ("env:9092",)  # env beats file
    assert settings.consumer_group_id == "file-group"  # file beats default
    assert settings.timeout == 3.0
    assert settings.concurrency == 10  # default


def test_singular_bootstrap_variable_wins_over_plural() -> None:
    env = {"WM_STREAM_BOOTSTRAP_SERVER": "a:1", "WM_STREAM_BOOTSTRAP_SERVERS": "b:1"}
    assert config.resolve(env=env).bootstrap_servers == ("a:1",)


def test_lists_split_on_commas_and_spaces() -> None:
    settings = config.resolve(env={"WM_URL": "http://a, http://b http://c"})
    assert settings.urls == ("http://a", "http://b", "http://c")


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'topik = "x"\n')
    with pytest.raises(ConfigError, match="unknown setting 'topik'"):
        config.resolve(config_file=path, env={})


def test_a_table_takes_its_own_short_keys_and_the_global_names(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[log]\nlevel = "debug"\nformat = "json"\n[stream]\ntopic = "t"\n')
    settings = config.resolve(config_file=path, env={})
    assert (settings.log_level, settings.log_format, settings.topic) == ("debug", "json", "t")


def test_a_command_table_maps_short_keys_to_its_settings(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        'tail_top = 3\n[tail]\ninterval = "5s"\nthreshold = 2\njson = true\n'
        'files = ["/var/log/a b.log", "/var/log/c,d.log"]\ntopic = "global"\n',
    )
    settings = config.resolve(config_file=path, env={"WM_TAIL_THRESHOLD": "4.5"})
    assert settings.tail_interval == 5.0
    assert settings.tail_threshold == 4.5  # the environment beats the file
    assert settings.tail_json is True
    assert settings.tail_top == 3
    assert settings.tail_files == ("/var/log/a b.log", "/var/log/c,d.log")
    assert settings.topic == "global"  # not a tail setting: the global name, as before
    assert settings.tail_format == "auto"


def test_unknown_key_in_a_table_is_named_with_its_table(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[log]\nlevell = 'debug'\n")
    with pytest.raises(ConfigError) as raised:
        config.resolve(config_file=path, env={})
    assert raised.value.message == f"unknown setting 'log.levell' in {path}"
    assert raised.value.hint == "did you mean 'level'?"
    path = write_toml(tmp_path, "[tail]\nshout = true\n")
    with pytest.raises(ConfigError) as raised:
        config.resolve(config_file=path, env={})
    assert raised.value.message == f"unknown setting 'tail.shout' in {path}"
    assert raised.value.hint is not None
    assert raised.value.hint.startswith("known keys in [tail]: alert_command, alert_webhook, ")
    assert "interval" in raised.value.hint.split(": ", 1)[1].split(", ")
    path = write_toml(tmp_path, "db_conection_string = 'sqlite://'\n")
    with pytest.raises(ConfigError) as raised:
        config.resolve(config_file=path, env={})
    assert raised.value.hint == "did you mean 'db_connection_string'?"


def test_a_bad_value_in_a_table_names_table_and_key(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[probe]\ntimeout = "soon"\n')
    with pytest.raises(ConfigError) as raised:
        config.resolve(config_file=path, env={})
    assert raised.value.message == f"{path}:probe.timeout: invalid duration 'soon'"


def test_missing_ssl_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"--ssl-cafile: file '/nope/ca\.pem' does not exist"):
        config.resolve({"ssl_cafile": "/nope/ca.pem"}, env={})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("7d", 604800), ("500ms", 0.5), ("2", 2)],
)
def test_durations(text: str, seconds: float) -> None:
    assert config.parse_duration(text) == seconds


def test_time_as_age_or_iso() -> None:
    now = datetime(2026, 11, 23, 12, tzinfo=timezone.utc)
    assert config.parse_time("1h", now) == now - timedelta(hours=1)
    assert config.parse_time("2026-11-23T10:00:00") == datetime(
        2026, 11, 23, 10, tzinfo=timezone.utc
    )
    assert config.parse_time("2026-11-23T10:00:00Z") == datetime(
        2026, 11, 23, 10, tzinfo=timezone.utc
    )


def test_redact_hides_password_only() -> None:
    assert config.redact("postgresql://wm:s3cret@db:5432/wm") == "postgresql://wm:***@db:5432/wm"
    assert config.redact("postgresql://wm@db/wm") == "postgresql://wm@db/wm"


def test_settings_repr_hides_secrets() -> None:
    settings = config.resolve(
        {"db_connection_string": "postgresql://u:hunter2@h/d", "sasl_password": "pw-xyz"}, env={}
    )
    assert "hunter2" not in repr(settings)
    assert "pw-xyz" not in repr(settings)


def test_command_tokens_are_secrets(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[serve]\ntoken = "serve-xyz"\n[tail]\nship_token = "ship-xyz"\n')
    settings = config.resolve(config_file=path, env={})
    assert (settings.serve_token, settings.tail_ship_token) == ("serve-xyz", "ship-xyz")
    assert "serve-xyz" not in repr(settings)
    assert "ship-xyz" not in repr(settings)


def test_cli_reads_file_environment_and_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the CLI: stats reads its store from the file unless env or flag says otherwise."""
    file_db = tmp_path / "file.db"
    env_db = tmp_path / "env.db"
    flag_db = tmp_path / "flag.db"
    path = write_toml(tmp_path, f'db_connection_string = "sqlite:///{file_db}"\n')
    runner = CliRunner()
    assert runner.invoke(main, ["stats", "--config", str(path)]).exit_code == 0
    assert file_db.exists()
    monkeypatch.setenv("WM_DB_CONNECTION_STRING", f"sqlite:///{env_db}")
    assert runner.invoke(main, ["stats", "--config", str(path)]).exit_code == 0
    assert env_db.exists()
    result = runner.invoke(main, ["stats", "--config", str(path), "-d", f"sqlite:///{flag_db}"])
    assert result.exit_code == 0
    assert flag_db.exists()


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "cfg.db"
    path = write_toml(tmp_path, f'[store]\ndb_connection_string = "sqlite:///{db}"\n')
    monkeypatch.setenv("WM_CONFIG", str(path))
    assert CliRunner().invoke(main, ["stats"]).output.strip().startswith("{")
    assert db.exists()


def test_defaults_shown_in_help_are_the_settings_defaults() -> None:
    """An option may show its setting's default in --help; both must say the same."""
    import click

    from website_monitor.cli import main as group

    checked = 0
    for command in group.commands.values():
        for param in command.params:
            default = param.default
            if isinstance(param, click.Argument) or param.name not in config.FIELDS:
                continue
            if not isinstance(default, (str, int, float)):  # None: nothing shown
                continue
            field = config.FIELDS[param.name]
            assert config.resolve({param.name: default}, env={}) == config.Settings(), (
                f"wm {command.name} {param.opts[-1]}: {default!r} is not {field.default!r}"
            )
            checked += 1
    assert checked > 0
