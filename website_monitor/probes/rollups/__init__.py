"""Latency rollups: day and week histograms that answer long ranges without sorting raw rows.

`sketch` is the math (buckets, percentiles from a histogram, covering a range
with periods); `maintain` keeps the tables current (catch-ups, folding weeks,
rebuilds); `read` answers `wm stats` from them.
"""
