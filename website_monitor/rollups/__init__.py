"""Rollups: day and week summaries and histograms that answer long ranges without raw rows.

Each kind of data that keeps rollups declares a `spec.Rollup` (which raw
table, grouped by which keys, summarising which value); `sketch` is the math
(buckets, percentiles from a histogram, covering a range with periods),
`maintain` keeps the tables current (catch-ups, folding weeks, rebuilds) and
`read` answers queries from them, for every kind with the same SQL.
"""
