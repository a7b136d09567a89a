"""website-monitor: watch web services from outside and inside, one pipeline, one store."""

__version__ = "0.1.0"
