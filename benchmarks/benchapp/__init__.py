"""A tiny Django app holding the bunws endpoints that the benchmarks hit."""
