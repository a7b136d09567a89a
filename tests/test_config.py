"""The configuration layer: defaults < config file < environment < flags."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click
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
    assert settings.stream.topic == "probes"
    assert settings.flush.consumer_group_id == "wm-flush"
    assert settings.probe.timeout == 10.0
    assert settings.probe.concurrency == 10
    assert settings.stream.bootstrap_servers == ()
    assert not settings.stream.uses_kafka


def test_precedence_file_then_environment_then_flags(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        'topic = "from-file"\nconsumer_group_id = "file-group"\n'
        'timeout = "3s"\n[stream]\nbootstrap_servers = "file:9092"\n',
    )
    env = {"WM_STREAM_TOPIC": "from-env", "WM_STREAM_BOOTSTRAP_SERVERS": "env:9092"}
    settings = config.resolve({"topic": "from-flag"}, config_file=path, env=env)
    assert settings.stream.topic == "from-flag"  # flag beats env and file
    assert settings.stream.bootstrap_servers == ("env:9092",)  # env beats file
    assert settings.flush.consumer_group_id == "file-group"  # file beats default
    assert settings.probe.timeout == 3.0
    assert settings.probe.concurrency == 10  # default


def test_singular_bootstrap_variable_wins_over_plural() -> None:
    env = {"WM_STREAM_BOOTSTRAP_SERVER": "a:1", "WM_STREAM_BOOTSTRAP_SERVERS": "b:1"}
    assert config.resolve(env=env).stream.bootstrap_servers == ("a:1",)


def test_lists_split_on_commas_and_spaces() -> None:
    settings = config.resolve(env={"WM_URL": "http://a, http://b http://c"})
    assert settings.probe.urls == ("http://a", "http://b", "http://c")


def test_unknown_key_in_file_is_named(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'topik = "x"\n')
    with pytest.raises(ConfigError, match="unknown setting 'topik'"):
        config.resolve(config_file=path, env={})


def test_a_table_takes_its_own_short_keys_and_the_global_names(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[log]\nlevel = "debug"\nformat = "json"\n[stream]\ntopic = "t"\n')
    settings = config.resolve(config_file=path, env={})
    assert (settings.log.level, settings.log.format, settings.stream.topic) == (
        "debug",
        "json",
        "t",
    )


def test_a_command_table_maps_short_keys_to_its_settings(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        'tail_top = 3\n[tail]\ninterval = "5s"\nthreshold = 2\njson = true\n'
        'files = ["/var/log/a b.log", "/var/log/c,d.log"]\ntopic = "global"\n',
    )
    settings = config.resolve(config_file=path, env={"WM_TAIL_THRESHOLD": "4.5"})
    assert settings.tail.interval == 5.0
    assert settings.tail.threshold == 4.5  # the environment beats the file
    assert settings.tail.json is True
    assert settings.tail.top == 3
    assert settings.tail.files == ("/var/log/a b.log", "/var/log/c,d.log")
    assert settings.stream.topic == "global"  # not a tail setting: the global name, as before
    assert settings.tail.format == "auto"


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
    from website_monitor.store.url import redact

    assert redact("postgresql://wm:s3cret@db:5432/wm") == "postgresql://wm:***@db:5432/wm"
    assert redact("postgresql://wm@db/wm") == "postgresql://wm@db/wm"


def test_settings_repr_hides_secrets() -> None:
    settings = config.resolve(
        {"db_connection_string": "postgresql://u:hunter2@h/d", "sasl_password": "pw-xyz"}, env={}
    )
    assert "hunter2" not in repr(settings)
    assert "pw-xyz" not in repr(settings)


def test_command_tokens_are_secrets(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[serve]\ntoken = "serve-xyz"\n[tail]\nship_token = "ship-xyz"\n')
    settings = config.resolve(config_file=path, env={})
    assert (settings.serve.token, settings.tail.ship_token) == ("serve-xyz", "ship-xyz")
    assert "serve-xyz" not in repr(settings)
    assert "ship-xyz" not in repr(settings)


def test_cli_reads_file_environment_and_flags(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the CLI: a command reads its store from the file unless env or flag says
    otherwise (`wm db upgrade` creates the store it is given)."""
    file_db = tmp_path / "file.db"
    env_db = tmp_path / "env.db"
    flag_db = tmp_path / "flag.db"
    path = write_toml(tmp_path, f'db_connection_string = "sqlite:///{file_db}"\n')
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade", "--config", str(path)]).exit_code == 0
    assert file_db.exists()
    monkeypatch.setenv("WM_DB_CONNECTION_STRING", f"sqlite:///{env_db}")
    assert runner.invoke(main, ["db", "upgrade", "--config", str(path)]).exit_code == 0
    assert env_db.exists()
    result = runner.invoke(
        main, ["db", "upgrade", "--config", str(path), "-d", f"sqlite:///{flag_db}"]
    )
    assert result.exit_code == 0
    assert flag_db.exists()


def test_config_file_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "cfg.db"
    path = write_toml(tmp_path, f'[store]\ndb_connection_string = "sqlite:///{db}"\n')
    monkeypatch.setenv("WM_CONFIG", str(path))
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    assert db.exists()
    assert CliRunner().invoke(main, ["stats"]).output.strip().startswith("{")


def test_defaults_shown_in_help_are_the_settings_defaults() -> None:
    """An option may show its setting's default in --help; both must say the same."""
    import click

    from website_monitor.cli import main as group

    checked = 0
    for command in group.commands.values():
        for param in command.params:
            default = param.default
            declared = getattr(param, "setting", None)
            if isinstance(param, click.Argument) or declared is None:
                continue
            if not isinstance(default, (str, int, float)):  # None: nothing shown
                continue
            assert config.resolve({param.name: default}, env={}) == config.Settings(), (
                f"wm {command.name} {param.opts[-1]}: {default!r} is not {declared.default!r}"
            )
            checked += 1
    assert checked > 0


#: Every setting's top-level config-file key and environment variables: what users and
#: deployments rely on, whatever the code calls them.
PUBLIC_NAMES = {
    "db_connection_string": ("WM_DB_CONNECTION_STRING",),
    "data_dir": ("WM_DATA_DIR",),
    "keep_raw": ("WM_KEEP_RAW",),
    "keep_dead_letters": ("WM_KEEP_DEAD_LETTERS",),
    "bootstrap_servers": ("WM_STREAM_BOOTSTRAP_SERVER", "WM_STREAM_BOOTSTRAP_SERVERS"),
    "topic": ("WM_STREAM_TOPIC",),
    "consumer_group_id": ("WM_STREAM_CONSUMER_GROUP_ID",),
    "ssl": ("WM_STREAM_SSL",),
    "ssl_cafile": ("WM_STREAM_SSL_CA_FILE",),
    "ssl_certfile": ("WM_STREAM_SSL_CERT_FILE",),
    "ssl_keyfile": ("WM_STREAM_SSL_KEY_FILE",),
    "sasl_mechanism": ("WM_STREAM_SASL_MECHANISM",),
    "sasl_username": ("WM_STREAM_SASL_USERNAME",),
    "sasl_password": ("WM_STREAM_SASL_PASSWORD",),
    "log_level": ("WM_LOG_LEVEL",),
    "log_format": ("WM_LOG_FORMAT",),
    "urls": ("WM_URL",),
    "urls_file": ("WM_URLS_FILE",),
    "timeout": ("WM_PROBE_TIMEOUT",),
    "expect_status": ("WM_PROBE_EXPECT_STATUS",),
    "expect_regex": ("WM_PROBE_EXPECT_REGEX",),
    "every": ("WM_PROBE_EVERY",),
    "concurrency": ("WM_PROBE_CONCURRENCY",),
    "expect": ("WM_PROBE_EXPECT",),
    "expect_cert_days": ("WM_PROBE_EXPECT_CERT_DAYS",),
    "location": ("WM_LOCATION",),
    "batch_size": ("WM_FLUSH_BATCH_SIZE",),
    "drain": ("WM_FLUSH_DRAIN",),
    "idle_timeout": ("WM_FLUSH_IDLE_TIMEOUT",),
    "tail_files": ("WM_TAIL_FILES",),
    "tail_format": ("WM_TAIL_FORMAT",),
    "tail_from_start": ("WM_TAIL_FROM_START",),
    "tail_exit_at_eof": ("WM_TAIL_EXIT_AT_EOF",),
    "tail_interval": ("WM_TAIL_INTERVAL",),
    "tail_lateness": ("WM_TAIL_LATENESS",),
    "tail_alert_window": ("WM_TAIL_ALERT_WINDOW",),
    "tail_threshold": ("WM_TAIL_THRESHOLD",),
    "tail_hysteresis": ("WM_TAIL_HYSTERESIS",),
    "tail_clock": ("WM_TAIL_CLOCK",),
    "tail_top": ("WM_TAIL_TOP",),
    "tail_json": ("WM_TAIL_JSON",),
    "tail_alert_command": ("WM_TAIL_ALERT_COMMAND",),
    "tail_alert_webhook": ("WM_TAIL_ALERT_WEBHOOK",),
    "tail_record_alerts": ("WM_TAIL_RECORD_ALERTS",),
    "tail_publish": ("WM_TAIL_PUBLISH",),
    "tail_ship": ("WM_TAIL_SHIP",),
    "tail_ship_token": ("WM_SERVE_TOKEN",),
    "tail_ship_timeout": ("WM_TAIL_SHIP_TIMEOUT",),
    "tail_source": ("WM_TAIL_SOURCE",),
    "tail_poll_interval": ("WM_TAIL_POLL_INTERVAL",),
    "tail_rotate_wait": ("WM_TAIL_ROTATE_WAIT",),
    "listen_bind": ("WM_LISTEN_BIND",),
    "listen_bucket": ("WM_LISTEN_BUCKET",),
    "listen_flush_interval": ("WM_LISTEN_FLUSH_INTERVAL",),
    "listen_report_interval": ("WM_LISTEN_REPORT_INTERVAL",),
    "listen_receive_buffer": ("WM_LISTEN_RECEIVE_BUFFER",),
    "serve_bind": ("WM_SERVE_BIND",),
    "serve_token": ("WM_SERVE_TOKEN",),
    "serve_poll_interval": ("WM_SERVE_POLL_INTERVAL",),
    "serve_max_body": ("WM_SERVE_MAX_BODY",),
    "serve_max_lines": ("WM_SERVE_MAX_LINES",),
    "serve_allowed_hosts": ("WM_SERVE_ALLOWED_HOSTS",),
    "serve_status_page": ("WM_SERVE_STATUS_PAGE",),
    "top_refresh": ("WM_TOP_REFRESH",),
    "top_window": ("WM_TOP_WINDOW",),
}


def test_keys_and_environment_variables_are_the_public_ones() -> None:
    assert {d.key: d.env for d in config.DECLARATIONS} == PUBLIC_NAMES


def test_each_declaration_is_complete_and_unambiguous() -> None:
    """Enough to generate a reference: help, a flag or arguments, variables, file keys."""
    paths = [d.path_name for d in config.DECLARATIONS]
    assert len(set(paths)) == len(paths)
    variables = [var for d in config.DECLARATIONS for var in d.env]
    shared = {var for var in variables if variables.count(var) > 1}
    assert shared == {"WM_SERVE_TOKEN"}  # wm serve --token and wm tail --ship-token
    for declared in config.DECLARATIONS:
        assert declared.help.strip(), declared.key
        assert declared.flags or declared.argument, declared.key
        assert declared.flag.startswith("--") or declared.argument, declared.key
        assert declared.type_name
        assert f"{declared.section}.{declared.table_key}" in declared.file_keys
        value = getattr(getattr(config.Settings(), declared.section), declared.name)
        assert value == declared.default
        if declared.secret:
            assert declared.default is None


def test_a_setting_is_named_by_key_or_by_section_and_name(tmp_path: Path) -> None:
    assert config.declaration("tail.interval") is config.declaration("tail_interval")
    assert config.declaration("store.url") is config.declaration("db_connection_string")
    settings = config.resolve({"tail.interval": "5s", "serve_poll_interval": "250ms"}, env={})
    assert (settings.tail.interval, settings.serve.poll_interval) == (5.0, 0.25)
    with pytest.raises(KeyError):
        config.resolve({"tail.intervall": "5s"}, env={})


def test_every_spelling_of_a_key_in_the_file(tmp_path: Path) -> None:
    """Flat, in its own table, in another table, and the singular bootstrap server."""
    for text in (
        'tail_interval = "7s"\nbootstrap_server = "k:1"\n',
        '[tail]\ninterval = "7s"\n[stream]\nbootstrap_server = "k:1"\n',
        '[tail]\ntail_interval = "7s"\n[probe]\nbootstrap_servers = "k:1"\n',
    ):
        settings = config.resolve(config_file=write_toml(tmp_path, text), env={})
        assert (settings.tail.interval, settings.stream.bootstrap_servers) == (7.0, ("k:1",))


def test_choices_of_wm_tail_are_the_librarys() -> None:
    from website_monitor.logs.formats import FORMATS
    from website_monitor.logs.monitor import CLOCKS

    assert config.TAIL_FORMATS == FORMATS
    assert config.TAIL_CLOCKS == CLOCKS


def test_bounds_and_choices_hold_for_file_values(tmp_path: Path) -> None:
    """The file is checked as the flags are, with the same words."""
    cases = {
        "[probe]\nconcurrency = 0\n": "--concurrency must be at least 1",
        "[probe]\nconcurrency = 5000\n": "--concurrency must be at most 1000",
        "[probe]\nexpect_status = 42\n": "--expect-status must be at least 100",
        "[flush]\nbatch_size = 0\n": "--batch-size must be at least 1",
        "[log]\nlevel = 'loud'\n": "unknown log level 'loud'",
        "[tail]\nclock = 'moon'\n": "unknown clock 'moon'",
        "[tail]\npoll_interval = '0s'\n": "--poll-interval must be positive",
        "[stream]\nsasl_mechanism = 'GSSAPI'\n": "unsupported SASL mechanism 'GSSAPI'",
    }
    for text, message in cases.items():
        with pytest.raises(ConfigError) as raised:
            config.resolve(config_file=write_toml(tmp_path, text), env={})
        assert raised.value.message == message
    with pytest.raises(ConfigError) as raised:
        config.resolve(config_file=write_toml(tmp_path, "[tail]\nformat = 'xml'\n"), env={})
    assert (raised.value.message, raised.value.hint) == (
        "unknown log format 'xml'",
        "use auto|clf|combined|w3c",
    )


def test_serve_poll_interval_takes_a_duration(tmp_path: Path) -> None:
    """Like every other interval: `1s`, `500ms`, or a bare number of seconds."""
    assert config.resolve(env={"WM_SERVE_POLL_INTERVAL": "500ms"}).serve.poll_interval == 0.5
    assert config.resolve({"serve_poll_interval": "2"}, env={}).serve.poll_interval == 2.0
    with socket.socket() as taken:  # the server stops at its busy port, after its options
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main,
            ["serve", "--bind", f"127.0.0.1:{port}", "--poll-interval", "1s"],
        )
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: cannot listen on 127.0.0.1:{port}: ")
    result = CliRunner().invoke(main, ["serve", "--poll-interval", "2m"])
    assert (result.exit_code, result.output) == (
        1,
        "Error: --poll-interval of wm serve must be between 0.1 and 60 seconds\n",
    )


def help_records(name: str) -> dict[str, tuple[click.Parameter, str]]:
    """What `wm NAME --help` says of each option, by its long flag."""
    command = main.commands[name]
    ctx = click.Context(command, info_name=name)
    records = {}
    for param in command.params:
        record = param.get_help_record(ctx)
        if record is not None:
            records[param.opts[-1]] = (param, record[1])
    return records


@pytest.mark.parametrize(("command", "topic"), [("listen", "telemetry"), ("tail", "hits")])
def test_help_shows_the_topic_a_command_really_uses(command: str, topic: str) -> None:
    _, text = help_records(command)["--topic"]
    assert f"default: ({topic})]" in text
    assert "probes" not in text


def test_help_shows_each_setting_with_its_variables_and_default() -> None:
    """What `wm COMMAND --help` says of an option is what its declaration says."""
    from website_monitor.cli._options import SettingOption

    checked = 0
    for name in ("probe", "flush", "tail", "listen", "serve", "top", "stats"):
        for param, text in help_records(name).values():
            if not isinstance(param, SettingOption):
                continue
            declared = param.setting
            assert text.startswith(declared.help) or name in ("listen", "tail")
            if declared.key == "topic" and name in ("listen", "tail"):
                # their own topic, named by their own variable: not the probes' topic
                assert f"env var: WM_{name.upper()}_TOPIC;" in text
                continue
            assert "env var: " + ", ".join(declared.env) in text
            shown = declared.described_default or declared.shown_default
            if declared.kind is bool:
                flag = param.opts[0] if declared.default else param.secondary_opts[0]
                assert f"default: {flag.lstrip('-')}]" in text, text
            elif declared.described_default:
                assert f"default: ({declared.described_default})]" in text, text
            elif shown is not None and not declared.secret:
                assert f"default: {shown}" in text, text
            checked += 1
    assert checked > 40
