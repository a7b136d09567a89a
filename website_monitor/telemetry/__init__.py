"""UDP telemetry: the llpp binary protocol and StatsD lines, aggregated into time buckets.

`llpp` and `statsd` decode datagrams, `buckets` aggregates them, `listener`
receives them on a UDP socket, `sender` sends llpp datagrams and `store` keeps
the buckets. Nothing here knows about the command line.
"""
