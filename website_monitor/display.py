"""Data on a terminal, shown as it is and unable to change the terminal.

Paths, URLs, sources, station names, statuses and error texts come from the
outside (a request line, a probed server, a datagram). In the live views
(`wm tail`, `wm top`) each one becomes a `rich.text.Text`, never a markup
string, so `[/x]` or `[bold]` is shown literally; and every control character
(ESC, BEL, CR, newline, the C1 range) and every bidirectional override is shown
as an escape such as `\\x1b`, so no value can move the cursor, set the window
title or reorder what is drawn around it. The text log format escapes the same
characters (`log.py`), so a logged value cannot either.

rich is imported only by `literal`: `printable` serves logging, which every command loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

#: Longest value shown in full; the rest is cut (a live view must still fit on the screen).
LONGEST = 300

_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES.update(
    {code: f"\\u{code:04x}" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}
)
_ESCAPES.update({0x2028: "\\u2028", 0x2029: "\\u2029"})


def printable(value: object, longest: int | None = None) -> str:
    """`value` as text with control characters escaped, cut to `longest` characters."""
    text = str(value).translate(_ESCAPES)
    if longest is not None and len(text) > longest:
        text = text[: longest - 1] + "…"
    return text


def literal(value: object, style: str = "", longest: int | None = LONGEST) -> Text:
    """`value` as a Text shown exactly as written (no markup, no highlighting, no emoji)."""
    from rich.text import Text

    return Text(printable(value, longest), style=style)
