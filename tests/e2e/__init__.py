"""End-to-end tests: real HTTP servers in subprocesses, scraped by a real Prometheus."""
