"""Allow `python -m website_monitor`."""

from website_monitor.cli import main

if __name__ == "__main__":
    main()
