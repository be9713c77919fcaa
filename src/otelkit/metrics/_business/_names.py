"""The cap on metric names created at run time (``record()``, ``count()``, ``set_gauge()``),
so a name built from data (``record(f"latency.{customer}", ...)``) cannot grow the exposition
without bound.

Names declared by decorators at import are not capped: they are written in the code. Names a
call creates are admitted up to ``OTELKIT_METRIC_NAMES_LIMIT`` (1000 by default, set by
``init_telemetry()``); past it the value of a new name is dropped and counted in
``otelkit.dropped`` (``reason="name_limit"``), and one WARNING says so.
"""

from __future__ import annotations

import logging
import threading

from otelkit.metrics._fastpath import dropped

__all__ = ["DEFAULT_LIMIT", "admit", "created", "release", "set_limit"]

DEFAULT_LIMIT = 1000

logger = logging.getLogger("otelkit")
_lock = threading.Lock()
_names: set[str] = set()
_limit = DEFAULT_LIMIT
_warned = False


def set_limit(limit: int) -> None:
    """The cap from now on (names already created stay)."""
    global _limit, _warned
    with _lock:
        _limit = limit
        _warned = False


def created() -> int:
    """How many names calls have created so far."""
    with _lock:
        return len(_names)


def admit(name: str, what: str) -> bool:
    """Whether a call may create the metric ``name``; False (dropped, counted) past the cap."""
    global _warned
    with _lock:
        if name in _names:
            return True
        if len(_names) < _limit:
            _names.add(name)
            return True
        first, _warned = not _warned, True
        limit = _limit
    if first:
        logger.warning(
            "otelkit: %s() has created %d metric names, the limit (OTELKIT_METRIC_NAMES_LIMIT); "
            "values of new names such as %r are dropped and counted in otelkit.dropped",
            what,
            limit,
            name,
        )
    dropped("metrics", "name_limit")
    return False


def release(name: str) -> None:
    """Give back a name whose creation failed after ``admit()``."""
    with _lock:
        _names.discard(name)
