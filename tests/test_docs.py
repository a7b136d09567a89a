"""The documentation runs: every example marked `<!-- run -->` in README.md and docs/*.md.

Each `shell` or `python` block is preceded by `<!-- run -->` or by
`<!-- not run: REASON -->` (a block without either fails here). The blocks of
one page run in order, in one temporary directory that is also the page's
WM_DATA_DIR, against what the examples refer to: `$SITE`, a local HTTP server
started here, and free loopback ports in WM_SERVE_BIND, WM_LISTEN_BIND and
WM_SEND_TO. No example reaches the internet. Relative links must name files
that exist. The convention is described in docs/development.md.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.services import IN_CI

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: Languages of examples that must say whether they are run.
RUNNABLE = ("shell", "sh", "bash", "python")
RUN = "<!-- run -->"
NOT_RUN = re.compile(r"<!-- not run: \S.* -->")
#: Commands the examples use beyond wm (scripts/check installs them).
TOOLS = ("bash", "jq", "curl", "sqlite3")
TIMEOUT = 120


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # of the opening fence, from 1
    language: str
    marker: str
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    """The fenced code blocks of `page`, each with the line before it (its marker)."""
    found = []
    lines = page.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^\s*```(\w*)\s*$", lines[i])
        if not opening:
            i += 1
            continue
        start = i
        i += 1
        body = []
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append(lines[i])
            i += 1
        before = [line.strip() for line in lines[:start] if line.strip()]
        found.append(
            Block(
                page=page,
                line=start + 1,
                language=opening.group(1),
                marker=before[-1] if before else "",
                code="\n".join(body) + "\n",
            )
        )
        i += 1
    return found


def setup_block() -> Block:
    """The README's first block: the set-up commands, which create a virtual environment."""
    return blocks(ROOT / "README.md")[0]


def examples(page: Path) -> list[Block]:
    return [
        b
        for b in blocks(page)
        if b.language in RUNNABLE and not (b.page.name == "README.md" and b == setup_block())
    ]


def test_every_example_says_whether_it_runs() -> None:
    unmarked = [
        b.where
        for page in PAGES
        for b in examples(page)
        if b.marker != RUN and not NOT_RUN.fullmatch(b.marker)
    ]
    assert not unmarked, (
        f"blocks without '{RUN}' or '<!-- not run: REASON -->' before them: {unmarked}"
    )


# --- what the examples run against ------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local web site, as `python3 -m http.server` serves one."""
    root = tmp_path_factory.mktemp("site")
    (root / "index.html").write_text("<h1>ok</h1>\n")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: _Quiet(*a, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _free_port(kind: socket.SocketKind) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def tools() -> None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        message = f"the examples need {', '.join(missing)} (scripts/check installs them)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def environment(data_dir: Path, site: str) -> dict[str, str]:
    """The environment of an example: wm from this interpreter's installation, no WM_*
    setting of the developer's, the data directory, the site and free ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WM_")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    udp = _free_port(socket.SOCK_DGRAM)
    env.update(
        WM_DATA_DIR=str(data_dir),
        SITE=site,
        WM_SERVE_BIND=f"127.0.0.1:{_free_port(socket.SOCK_STREAM)}",
        WM_LISTEN_BIND=f"127.0.0.1:{udp}",
        WM_SEND_TO=f"127.0.0.1:{udp}",
    )
    return env


def run(block: Block, cwd: Path, env: dict[str, str]) -> None:
    """Run one example; background processes it starts are stopped when it ends."""
    if block.language == "python":
        command = [sys.executable, "-c", block.code]
    else:
        command = ["bash", "-euo", "pipefail", "-c", block.code]
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            code = process.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
        finally:
            _stop_group(process)
        output.seek(0)
        printed = output.read()
    if code != 0:
        status = f"exit {code}" if code is not None else f"no end within {TIMEOUT} s"
        pytest.fail(f"{block.where}: {status}\n{block.code}\n--- output ---\n{printed}")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop the example and whatever it left running in the background (its process group),
    and wait until they are gone, so the next example finds its ports free."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        if process.poll() is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(10)
        for _ in range(100):
            try:
                os.killpg(process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_run(page: Path, site: str, tools: None, tmp_path: Path) -> None:
    env = environment(tmp_path, site)
    for block in examples(page):
        if block.marker == RUN:
            run(block, tmp_path, env)


def test_readme_setup_commands_probe_and_read(site: str, tools: None, tmp_path: Path) -> None:
    """The README's set-up line ends with `wm probe URL && wm stats`: that part runs here on
    the local site (creating the virtual environment is left to scripts/check)."""
    code = setup_block().code
    main = re.search(r"\.venv/bin/wm probe (\S+) && \.venv/bin/wm stats", code)
    assert main, f"the README's set-up commands no longer probe and read: {code}"
    env = environment(tmp_path, site)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", 'wm probe "$SITE" && wm stats'],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert f'"url": "{site}"' in done.stdout


# --- links ------------------------------------------------------------------------------

LINK = re.compile(r"\]\(([^)\s]+)\)")


def links(page: Path) -> Iterator[str]:
    """Relative link targets of `page`, outside code blocks and code spans."""
    text = page.read_text(encoding="utf-8")
    text = re.sub(r"^\s*```.*?^\s*```", "", text, flags=re.S | re.M)
    text = re.sub(r"`[^`\n]*`", "", text)
    for target in LINK.findall(text):
        if not re.match(r"^(https?:|mailto:|#)", target):
            yield target


def test_relative_links_name_files() -> None:
    broken = [
        f"{page.relative_to(ROOT)}: {target}"
        for page in PAGES
        for target in links(page)
        if not (page.parent / target.split("#")[0]).exists()
    ]
    assert not broken, broken


# --- the message format -----------------------------------------------------------------


def test_example_messages_decode() -> None:
    """Every JSON example of docs/message-format.md is a message the codec accepts, of the
    kind it says (the page cannot drift from the codecs)."""
    from website_monitor.codec import decode, decode_many

    page = ROOT / "docs" / "message-format.md"
    messages = [b for b in blocks(page) if b.language == "json"]
    assert len(messages) >= 4
    for block in messages:
        data = json.loads(block.code)
        if data.get("kind") == "batch":  # several events in one message, in order
            events = decode_many(
                block.code.encode(), fallback_id="00000000-0000-4000-8000-000000000000"
            )
            assert [e.event_id for e in events] == [d["event_id"] for d in data["events"]]
            assert [e.kind for e in events] == [d["kind"] for d in data["events"]], block.where
            continue
        if data.get("kind") == "hits":  # many hits of one source, a row each
            hits = decode_many(block.code.encode())
            assert [h.source for h in hits] == [data["source"]] * len(data["rows"]), block.where
            assert [h.path for h in hits] == [row[4] for row in data["rows"]], block.where
            continue
        event = decode(block.code.encode(), fallback_id="00000000-0000-4000-8000-000000000000")
        assert event.kind == data.get("kind", "probe"), block.where
        assert event.to_dict().keys() >= data.keys(), block.where


def test_config_file_examples_resolve(tmp_path: Path) -> None:
    """The config files of docs/configuration.md are read without an error."""
    from website_monitor.config import Settings, resolve

    examples = [b for b in blocks(ROOT / "docs" / "configuration.md") if b.language == "toml"]
    assert examples
    for block in examples:
        path = tmp_path / "wm.toml"
        path.write_text(block.code, encoding="utf-8")
        settings = resolve(config_file=path, env={})
        assert settings != Settings(), f"{block.where}: nothing read"
