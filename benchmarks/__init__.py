"""Benchmarks (commands, not tests): ranking quality and speed on ../shared/benchmarks per PROTOCOL.md."""
