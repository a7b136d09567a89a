"""Access logs: formats, following files, time windows, summaries and alerts.

Nothing here knows about the command line; `wm tail` wires these pieces
together (see `website_monitor.logs.monitor`).
"""
