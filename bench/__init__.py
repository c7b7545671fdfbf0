"""Benchmarks of sferum-kpi: ``python -m bench.run`` (see bench/README.md). Not tests, not shipped."""
