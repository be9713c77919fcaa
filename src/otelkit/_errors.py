"""The errors otelkit raises, and the guard that keeps telemetry failures out of user code."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ConfigError", "guarded", "internal_error_count", "raise_internal_errors"]

logger = logging.getLogger("otelkit")

P = ParamSpec("P")
R = TypeVar("R")


class ConfigError(ValueError):
    """Bad configuration, raised by ``init_telemetry()`` before anything starts.

    The message names the environment variable or keyword, the value given and what is accepted.
    """


_lock = threading.Lock()
_seen: set[tuple[str, type[BaseException]]] = set()
_counts: dict[tuple[str, str], int] = {}
_raise = False


def raise_internal_errors(enabled: bool) -> None:
    """Make guarded code re-raise instead of logging: our own test suite turns this on."""
    global _raise
    _raise = enabled


def internal_error_count(component: str | None = None) -> int:
    """How many internal errors were swallowed, in total or for one component."""
    with _lock:
        return sum(n for (c, _), n in _counts.items() if component in (None, c))


def record_internal_error(component: str, exc: BaseException) -> None:
    """Count an error and log it at WARNING the first time this kind is seen in this component."""
    kind = type(exc)
    with _lock:
        key = (component, kind.__name__)
        _counts[key] = _counts.get(key, 0) + 1
        first = (component, kind) not in _seen
        _seen.add((component, kind))
    if first:
        logger.warning(
            "otelkit: internal error in %s (logged once per kind): %s: %s",
            component,
            kind.__name__,
            exc,
            exc_info=exc,
        )


def guarded(component: str, default: Any = None) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a telemetry-path function so that it never raises into the caller.

    On error it returns ``default`` (which must fit the function's return type), counts the
    error and logs it once per kind.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                if _raise:
                    raise
                record_internal_error(component, exc)
                return default  # type: ignore[no-any-return]

        wrapper.__name__ = fn.__name__
        wrapper.__qualname__ = fn.__qualname__
        wrapper.__doc__ = fn.__doc__
        return wrapper

    return decorate
