"""Callbridge benchmarks: `python -m bench NAME [--quick] --json`."""
