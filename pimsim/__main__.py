"""`python -m pimsim` entry point."""

from pimsim.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
