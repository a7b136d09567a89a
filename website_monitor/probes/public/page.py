"""The status page as HTML: drawn on the server, no script, every value escaped."""

from __future__ import annotations

from html import escape

from website_monitor.probes.public.status import StatusDocument
from website_monitor.probes.uptime import STATUS_WINDOWS, percent

_HEADLINES = {
    "up": "All checks are up",
    "degraded": "Some checks are degraded",
    "down": "Some checks are down",
    "unknown": "Some checks have no results yet",
}
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
h1{font-size:1.4rem}.banner{padding:.8rem 1rem;border-radius:6px;color:#fff;font-weight:600}
.up{background:#2e7d32}.degraded{background:#b58900}.down{background:#c62828}
.unknown{background:#757575}table{border-collapse:collapse;width:100%;margin-top:1.5rem}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #ddd}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.state{display:inline-block;min-width:5.5rem;text-align:center;border-radius:4px;color:#fff;
padding:.1rem .4rem}.url{word-break:break-all}footer{margin-top:1.5rem;color:#666;font-size:.85rem}
"""


def render(document: StatusDocument, title: str = "Status") -> str:
    rows = []
    for check in document.checks:
        cells = [
            f'<td class="url">{escape(check.url)}</td>',
            f'<td><span class="state {escape(check.state)}" data-state="{escape(check.state)}">'
            f"{escape(check.state)}</span>{_locations(check.locations, check.failing_locations)}"
            "</td>",
        ]
        for window in check.uptime:
            shown = "&ndash;" if window.uptime is None else percent(window.uptime)
            cells.append(
                f'<td class="num" data-window="{escape(window.window)}"'
                f' title="{window.checks} checks">{shown}</td>'
            )
        checked = escape(check.checked_at or "never")
        cells.append(f'<td class="num"><time datetime="{checked}">{checked[:19]}</time></td>')
        rows.append(f'<tr data-url="{escape(check.url)}">{"".join(cells)}</tr>')
    heads = "".join(f'<th class="num">{label}</th>' for label, _ in STATUS_WINDOWS)
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta http-equiv="refresh" content="60">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f'<p class="banner {escape(document.state)}" id="overall">'
        f"{_HEADLINES.get(document.state, '')}</p>"
        f"{_incidents(document)}"
        '<table id="checks"><thead><tr><th>Check</th><th>Now</th>'
        f'{heads}<th class="num">Last checked (UTC)</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        "<footer>Uptime: good checks over all checks in the window."
        f" Generated {escape(document.generated_at[:19])} UTC; this page refreshes every minute."
        "</footer></body></html>"
    )


def _locations(total: int, failing: int) -> str:
    if total <= 1 or failing == 0:
        return ""
    return f" <small>failing in {failing} of {total} locations</small>"


def _incidents(document: StatusDocument) -> str:
    if document.incidents is None:
        return ""
    if not document.incidents:
        return '<section id="incidents"><h2>Incidents</h2><p>No open incidents.</p></section>'
    items = "".join(
        f"<li><strong>{escape(incident.title)}</strong> ({escape(incident.url)}),"
        f" since {escape(incident.started_at[:19])} UTC</li>"
        for incident in document.incidents
    )
    return f'<section id="incidents"><h2>Open incidents</h2><ul>{items}</ul></section>'
