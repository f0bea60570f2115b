"""Benchmark harness for bunws: real daphne servers, a picows client in another process.

Run ``python -m benchmarks --help``; see ``benchmarks/README.md`` for what each number means.
"""
