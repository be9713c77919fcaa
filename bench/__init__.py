"""otelkit benchmarks: each module compares otelkit with its peers in one process run."""
