"""A thin launcher for a checkout: `python cli.py ...` is `gandiag ...` (the click group is gandiag.cli)."""
from gandiag.cli import main

if __name__ == "__main__":
    main()
