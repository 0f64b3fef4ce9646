"""Scripts that measure seqtune; ``python -m benchmarks.run`` regenerates RESULTS.md."""
