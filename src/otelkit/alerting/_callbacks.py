"""``on_alert(callback)``: user functions called with every alert notification.

The registry is process-wide, so callbacks may be registered before ``init_telemetry()`` (at
import time, like the business-metric decorators) and survive a reconfiguration. Callbacks run
on the ``callback`` channel's own thread, never on the evaluation thread; one that raises is
counted as a failed notification and does not stop the others.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

    from otelkit.alerting._alert import Alert

__all__ = ["callbacks", "on_alert", "remove_callback"]

Callback = TypeVar("Callback", bound="Callable[[Alert], object]")

_lock = threading.Lock()
_callbacks: tuple[Callable[[Alert], object], ...] = ()


def on_alert(callback: Callback) -> Callback:
    """Call ``callback(alert)`` when an alert fires, repeats or resolves; returns ``callback``.

    Usable as a decorator. ``alert`` has ``.name``, ``.severity``, ``.state`` (``firing`` or
    ``resolved``), ``.value``, ``.labels``, ``.text`` and ``.rule`` (the ``AlertRule``).
    Registering the same function twice has no effect.
    """
    global _callbacks
    if not callable(callback):
        raise TypeError(f"on_alert() needs a callable, got {type(callback).__name__}")
    with _lock:
        if callback not in _callbacks:
            _callbacks = (*_callbacks, callback)
    return callback


def remove_callback(callback: Callable[[Alert], object]) -> None:
    """Stop calling ``callback``; harmless if it was not registered."""
    global _callbacks
    with _lock:
        _callbacks = tuple(c for c in _callbacks if c != callback)


def callbacks() -> tuple[Callable[[Alert], object], ...]:
    """The registered callbacks, in registration order."""
    return _callbacks
