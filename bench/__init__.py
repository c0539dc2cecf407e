"""Benchmarks run by `make bench`: the gateway against nginx and a bare Django proxy."""
