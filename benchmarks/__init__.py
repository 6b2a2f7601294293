"""The speed targets' benchmarks: run them all with ``benchmarks/run``; the result is BENCHMARKS.md."""
