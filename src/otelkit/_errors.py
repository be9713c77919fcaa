"""The errors otelkit raises, and the guard that keeps telemetry failures out of user code."""

from __future__ import annotations

import functools
import logging
import threading
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "ConfigError",
    "guarded",
    "internal_error_count",
    "raise_internal_errors",
    "short_config_errors",
]

logger = logging.getLogger("otelkit")

P = ParamSpec("P")
R = TypeVar("R")


class ConfigError(ValueError):
    """Bad configuration, raised by ``init_telemetry()`` before anything starts.

    The message names the environment variable or keyword, the value given and what is accepted.
    Shown as ``otelkit.ConfigError``: the name users import and catch.
    """

    __module__ = "otelkit"


_lock = threading.Lock()
_seen: set[tuple[str, type[BaseException]]] = set()
_counts: dict[tuple[str, str], int] = {}
_raise = False
_observer: Callable[[str, str, int], None] | None = None
_notifying = threading.local()
"""``active`` while this thread reports to the observer: an error raised while counting an
error (the counter's store failing too) is counted here, never reported again into it."""


def raise_internal_errors(enabled: bool) -> None:
    """Make guarded code re-raise instead of logging: our own test suite turns this on."""
    global _raise
    _raise = enabled


def internal_error_count(component: str | None = None) -> int:
    """How many internal errors were swallowed, in total or for one component."""
    with _lock:
        return sum(n for (c, _), n in _counts.items() if component in (None, c))


def observe_internal_errors(observer: Callable[[str, str, int], None]) -> None:
    """Report every internal error from now on as ``observer(component, kind, amount)``.

    The metrics layer binds its ``otelkit.internal.errors`` counter here (this module sits below
    it); the errors counted before are reported at once, so the counter holds the process total.
    """
    global _observer
    with _lock:
        _observer = observer
        earlier = list(_counts.items())
    for (component, kind), amount in earlier:
        _notify(observer, component, kind, amount)


def _notify(observer: Callable[[str, str, int], None], component: str, kind: str, n: int) -> None:
    if getattr(_notifying, "active", False):
        return
    _notifying.active = True
    try:
        observer(component, kind, n)
    except Exception:  # counting an error must not become an error of its own
        return
    finally:
        _notifying.active = False


def record_internal_error(component: str, exc: BaseException) -> None:
    """Count an error and log it at WARNING the first time this kind is seen in this component."""
    kind = type(exc)
    with _lock:
        key = (component, kind.__name__)
        _counts[key] = _counts.get(key, 0) + 1
        first = (component, kind) not in _seen
        _seen.add((component, kind))
        observer = _observer
    if observer is not None:
        _notify(observer, component, kind.__name__, 1)
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


def short_config_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Let a ``ConfigError`` leave a public entry point without otelkit's internal frames.

    The message already names the variable and the fix; a dozen frames of settings parsing
    only push it off the screen. The error's own cause, if any (a plugin that failed to start),
    is kept. Our own test suite (``raise_internal_errors(True)``) keeps every frame.
    """

    @functools.wraps(fn)
    def entry_point(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            if _raise:
                raise
            # The frames go; the error's own cause (a plugin's failure) stays.
            raise exc.with_traceback(None) from exc.__cause__

    return entry_point
