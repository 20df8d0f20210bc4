"""Benchmarks: `make bench` (bench/run.py). See bench/README.md."""
