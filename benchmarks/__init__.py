"""Benchmarks for issue 5: run them all with ``benchmarks/run``; the result is BENCHMARKS.md."""
