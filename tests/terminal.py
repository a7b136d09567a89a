"""A real terminal for tests: tmux runs a command in a pane of a given size, capture-pane
reads the screen, send-keys types, display-message reads the pane's state."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import unavailable


class Tmux:
    """A tmux server of our own (its own socket), so no other session is touched."""

    def __init__(self) -> None:
        self.socket = f"wm-test-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=check
        )

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "top").stdout

    def alive(self) -> bool:
        return self("has-session", "-t", "top", check=False).returncode == 0

    def pane(self, variable: str) -> str:
        """A variable of the pane's state, e.g. `pane_title` or `alternate_on`."""
        return self("display-message", "-p", "-t", "top", f"#{{{variable}}}").stdout.strip()


def tmux_server() -> Iterator[Tmux]:
    """The body of a `tmux` fixture: a server of the test's own, killed afterwards."""
    if not shutil.which("tmux"):
        unavailable("tmux is not installed (apt-get install tmux)")
    server = Tmux()
    try:
        yield server
    finally:
        server("kill-server", check=False)


def wait_for_screen(tmux: Tmux, *needles: str, timeout: float = 10.0, absent: bool = False) -> str:
    """The screen once it shows every one of `needles`; with `absent`, once it shows the
    first and not the others."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux.screen()
        if absent:
            if needles[0] in screen and not any(n in screen for n in needles[1:]):
                return screen
        elif all(n in screen for n in needles):
            return screen
        time.sleep(0.1)
    raise AssertionError(f"{needles} not as expected on the screen after {timeout}s:\n{screen}")


def wait_for_file(path: Path, timeout: float = 5.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text()
        time.sleep(0.05)
    raise AssertionError(f"{path} was not written")


def wait_until_gone(tmux: Tmux, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while tmux.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not tmux.alive(), "the pane's process is still running"
