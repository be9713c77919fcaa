"""Tracing: light spans, the lean counterpart of SDK spans for the hot path."""
