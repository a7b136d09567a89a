"""The reference pages generated from the program itself (docs/cli.md, docs/configuration.md).

The pages hold cog blocks that call these functions, so `cog -r` rewrites them and
`cog --check` (in scripts/check) fails when a command, an option or a setting changed
and the page was not regenerated: the reference cannot drift from `--help`.
"""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from website_monitor.cli._group import main
from website_monitor.cli._options import SettingArgument, SettingOption
from website_monitor.config import DECLARATIONS, Setting

#: The width `--help` is wrapped to in the reference, whatever the terminal generating it.
WIDTH = 88


def commands(
    group: click.Group = main, path: tuple[str, ...] = ("wm",)
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command and group under `group`, depth first, in the order `--help` lists them."""
    yield path, group
    context = click.Context(group, info_name=path[-1])
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is None or command.hidden:
            continue
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def help_text(path: tuple[str, ...]) -> str:
    """What `wm … --help` prints, wrapped to `WIDTH` columns."""
    result = CliRunner().invoke(
        main,
        [*path[1:], "--help"],
        prog_name="wm",
        terminal_width=WIDTH,
        max_content_width=WIDTH,
    )
    if result.exit_code != 0:
        raise RuntimeError(f"{' '.join(path)} --help exited {result.exit_code}: {result.output}")
    return result.output.rstrip() + "\n"


def cli_reference() -> str:
    """docs/cli.md's body: a section per command holding its `--help`."""
    parts = []
    for path, _ in commands():
        level = "##" if len(path) <= 2 else "###"
        parts.append(f"{level} `{' '.join(path)}`\n\n```text\n{help_text(path)}```\n")
    return "\n".join(parts)


def setting_commands() -> dict[str, list[str]]:
    """For each setting's key, the commands that take it as an option or argument."""
    taken: dict[str, list[str]] = {}
    for path, command in commands():
        for param in command.params:
            if isinstance(param, SettingOption | SettingArgument):
                taken.setdefault(param.setting.key, []).append(" ".join(path[1:]))
    return taken


def _code(values: Iterator[str] | tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{value}`" for value in values)


def _default(declared: Setting) -> str:
    if declared.described_default:
        return declared.described_default
    if declared.secret:
        return "none"
    shown = declared.shown_default
    return f"`{shown}`" if shown is not None else "none"


def _type(declared: Setting) -> str:
    base = declared.type_name.removesuffix(" | None")
    if declared.choices:
        base += ": " + " ".join(declared.choices)
    return base + (", optional" if declared.optional else "")


def config_reference() -> str:
    """docs/configuration.md's table: every setting, as `DECLARATIONS` declares it."""
    taken = setting_commands()
    leaves = [
        " ".join(path[1:])
        for path, command in commands()
        if not isinstance(command, click.Group) or command.invoke_without_command
    ]
    rows = [
        "| setting | type | default | environment | flags | config file | commands | what |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for declared in DECLARATIONS:
        flags = [declared.argument] if declared.argument else list(declared.flags)
        keys = [f"[{declared.section}] {declared.table_key}", declared.key, *declared.aliases]
        used = taken.get(declared.key, [])
        rows.append(
            "| "
            + " | ".join(
                (
                    f"`{declared.path_name}`",
                    _type(declared),
                    _default(declared),
                    _code(declared.env),
                    _code(flags),
                    _code(list(dict.fromkeys(keys))),
                    _commands(used, leaves),
                    declared.help.replace("|", "\\|"),
                )
            )
            + " |"
        )
    return "\n".join(rows) + "\n"


def _commands(used: list[str], leaves: list[str]) -> str:
    """The commands taking a setting, or those not taking it when they are fewer."""
    others = [name for name in leaves if name not in used]
    if not others:
        return "every command"
    if len(others) < len(used) // 2:
        return "every command but " + ", ".join(_link(name) for name in others)
    return ", ".join(_link(name) for name in used)


def _link(command: str) -> str:
    return f"[{command}](cli.md#{_anchor(command)})"


def _anchor(command: str) -> str:
    """The heading anchor MkDocs gives `## \\`wm db status\\`` in docs/cli.md."""
    return "wm-" + command.replace(" ", "-")
