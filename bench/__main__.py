"""Runs one benchmark: `python -m bench NAME [--quick] [--json]`.

Each benchmark is a module `bench/NAME.py` with `run(quick: bool) -> dict`.
Progress goes to stderr; the result is printed as one JSON object on the last
line of stdout (with --json) or as a readable table.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", choices=available())
    parser.add_argument("--quick", action="store_true", help="a smaller run that finishes in under 30 s")
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = parser.parse_args()
    module = importlib.import_module(f"bench.{args.name}")
    result = module.run(quick=args.quick)
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:>24}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
