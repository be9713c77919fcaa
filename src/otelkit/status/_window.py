"""The sliding window: a small ring of readings, kept when the status figures are asked for.

No timer: a reading is taken when ``/status.json`` is read (an open page reads it every few
seconds), and kept in the ring if the last one kept is at least ``EVERY`` seconds old. A
process nobody looks at pays nothing. Rates and quantiles over the window are the difference
between the reading of now and the baseline: the oldest full reading kept within ``SPAN``
seconds, so the window is as long as the page has been looking, up to ``SPAN``.

Only one kept reading in ``FULL_EVERY`` seconds is full (every route, every task); the others
are summaries (the whole service's totals, all the charts need), so a full ring of 100 routes
holds 11 full readings instead of 61. The window then covers between ``SPAN - FULL_EVERY`` and
``SPAN`` seconds once the page has looked that long.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from otelkit.status._read import Reading

__all__ = ["EVERY", "FULL_EVERY", "SPAN", "Window"]

SPAN = 300.0
"""Seconds of history: the window the rates and quantiles cover, at most."""
EVERY = 5.0
"""Seconds between two readings kept (so at most ``SPAN / EVERY + 1`` are)."""
FULL_EVERY = 30.0
"""Seconds between two full readings kept (the others are summaries)."""


class Window:
    """The readings kept, oldest first."""

    def __init__(
        self, span: float = SPAN, every: float = EVERY, full_every: float = FULL_EVERY
    ) -> None:
        self.span = span
        self.every = every
        self.full_every = full_every
        self._kept: deque[Reading] = deque()
        self._last_full: float | None = None
        self._lock = threading.Lock()

    def observe(self, reading: Reading) -> tuple[Reading | None, list[Reading]]:
        """Keep ``reading`` if it is due; the baseline (the oldest full reading within the
        span, None on the first look) and every reading kept, ``reading`` last (the charts')."""
        with self._lock:
            kept = self._kept
            while kept and kept[0].taken < reading.taken - self.span:
                kept.popleft()
            baseline = next((r for r in kept if r.full), None)
            if baseline is None:
                self._last_full = None
            if kept and reading.taken - kept[-1].taken < self.every:
                return baseline, [*kept, reading]
            if self._last_full is None or reading.taken - self._last_full >= self.full_every:
                self._last_full = reading.taken
                kept.append(reading)
            else:
                kept.append(reading.summary())
            while len(kept) > self.span / self.every + 1:
                kept.popleft()
            return baseline, list(kept)

    def clear(self) -> None:
        """Forget every reading."""
        with self._lock:
            self._kept.clear()
            self._last_full = None
