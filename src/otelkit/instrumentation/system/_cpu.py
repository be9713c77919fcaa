"""CPU utilization as the change in CPU seconds between collections.

Both utilizations (system and process) are the change in CPU seconds since the previous
collection, never a blocking ``interval=``. The first collection measures since the process
started (process) or since boot (system), so it reports an average rather than nothing. A
collection less than ``min_window`` (1 s) after the previous one measures from the older
baseline, so back-to-back collections (two readers, a flush after an export) do not report a
few clock ticks' noise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Mapping


__all__ = ["CpuWindow"]


_UNSET: Final = object()


class CpuWindow:
    """Per-mode CPU seconds spent since the start of the current measurement window.

    The first window starts at ``origin`` (process start, or boot when ``origin`` is -inf).
    A window shorter than ``min_window`` does not move the start, so the next collection
    measures from the same, older start.
    """

    def __init__(self, min_window: float) -> None:
        self._min_window = min_window
        self._key: object = _UNSET
        self._start = 0.0
        self._seconds: Mapping[str, float] = {}
        self._first = True

    def advance(
        self, key: object, origin: float, now: float, seconds: Mapping[str, float]
    ) -> tuple[dict[str, float], float]:
        """(CPU seconds by mode, elapsed seconds) since the window's start; ``key`` changes
        (another process after a fork) start a new first window."""
        if key != self._key:
            self._key, self._start, self._seconds, self._first = key, origin, {}, True
        elapsed = now - self._start
        spent = {m: max(s - self._seconds.get(m, 0.0), 0.0) for m, s in seconds.items()}
        if self._first or elapsed >= self._min_window:
            self._start, self._seconds, self._first = now, seconds, False
        return spent, elapsed
