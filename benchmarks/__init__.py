"""Benchmarks: speed and memory of the vectorised code, as ratios against the plain alternatives.

Each ``benchmarks/bench_*.py`` module has ``main() -> list[dict]``; every dict is one measured
row with keys ``name``, ``value``, ``unit`` and optionally ``target`` and ``detail``.
``python -m benchmarks`` (``make bench``) runs them all, prints one table and writes
``benchmarks/results/<module>.json``. Benchmarks measure; they never assert (timings depend on
the machine and its load), so they are not part of the test suite.
"""
