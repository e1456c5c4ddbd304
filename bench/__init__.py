"""Benchmarks: `python -m bench [NAME ...]` (or `make bench`). Figures go to docs/benchmarks.md.

Each benchmark is a module `bench/<name>.py` with `run() -> dict`; it is listed in BENCHMARKS so the
set and its order are explicit. Benchmarks measure; they never assert a time.
"""
