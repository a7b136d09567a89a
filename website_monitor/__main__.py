"""Allow `python -m website_monitor`."""

from website_monitor.cli import run

if __name__ == "__main__":
    run()
