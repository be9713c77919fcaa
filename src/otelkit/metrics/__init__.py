"""Metrics: the pre-aggregating fast path every hot-path instrument records through, and the
business API (``timed``, ``counted``, ``track_inprogress``, ``record``, ``gauge``) built on it."""
