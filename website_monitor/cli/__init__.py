"""The `wm` command line: a thin layer of options over the library.

Each command lives in its own module, imported only when it runs
(`website_monitor.cli._group`); `main` is the click group, `run` the `wm`
script. Importing this package imports nothing else, so `run` is in charge from
the first moment: Ctrl-C while the command line is still loading exits 130
without a traceback.
"""

from __future__ import annotations

import sys
from typing import Any


def run() -> None:
    """The `wm` script."""
    try:
        from website_monitor.cli._group import main

        main()
    except KeyboardInterrupt:
        sys.stderr.write("\nAborted!\n")
        sys.exit(130)


def __getattr__(name: str) -> Any:
    """`from website_monitor.cli import main`: the group, loaded on first use."""
    if name == "main":
        from website_monitor.cli._group import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
