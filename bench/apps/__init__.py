"""Apps the benchmarks serve from a real server in a subprocess."""
