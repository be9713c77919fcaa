"""Reliability tests: bounded resources and latency of otelkit's own servers."""
