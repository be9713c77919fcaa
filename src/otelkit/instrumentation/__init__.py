"""Instrumentations of libraries; each module imports its library only when used."""
