"""Benchmarks that print figures (`make bench`); never tests, never timed asserts."""
