"""Benchmarks: scripts that print figures and write them to BENCHMARKS.md (never timed tests)."""
