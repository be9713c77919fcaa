"""Setting a running configuration aside for one test, and putting it back afterwards.

An application that calls ``init_telemetry()`` when its module is imported has a configuration
running before any test starts (its exporters, its listener). A test that wants telemetry of its
own needs a fresh configuration, with in-memory exporters and nothing recorded yet, and the
application's configuration must be running again after the test, as the test found it.

Set aside: it stops being the running configuration (instrumentations record into the test's),
its log handler leaves the root logger, and the fast instruments are detached from its readers
(``REGISTRY``), which also starts the test's from zero. Put back: the fast instruments feed its
readers again, as they did, the log handler returns and it is the running configuration again.
Its exporters, listener and alerting stay up in between; what it recorded through otelkit's
fast instruments before the test starts again from zero (a counter reset, to Prometheus).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from otelkit import _active
from otelkit.metrics._fastpath import REGISTRY

if TYPE_CHECKING:
    from otelkit.runtime._telemetry import Telemetry

__all__ = ["SetAside"]

# What the fast-path registry holds for one configuration (what ``REGISTRY.attach()`` set and
# ``REGISTRY.detach()`` clears); the readers keep the collect hooks that read these states.
_ATTACHED = ("_readers", "_provider_readers", "_resource", "_store", "_provider", "forwarding")


class SetAside:
    """The configuration that was running (None if none was), while a test runs its own."""

    def __init__(self) -> None:
        running = _active.current()
        self.telemetry: Telemetry | None = None
        self._registry: dict[str, Any] = {}
        self._handler: logging.Handler | None = None
        if running is None or running._shut_down:
            return
        self.telemetry = running
        _active.set_current(None)
        pipeline = running._pipeline
        if pipeline is not None:
            self._handler = pipeline.log_handler
            if self._handler is not None:
                logging.getLogger().removeHandler(self._handler)
            with REGISTRY._lock:
                self._registry = {name: _copy(getattr(REGISTRY, name)) for name in _ATTACHED}
            REGISTRY.detach()

    def restore(self) -> None:
        """Shut down whatever configuration the test left running, then put this one back."""
        left = _active.current()
        if left is not None and left is not self.telemetry:
            left.shutdown(timeout=5)
        previous = self.telemetry
        if previous is None or previous._shut_down:
            return
        if self._registry:
            REGISTRY.detach()
            with REGISTRY._lock:
                for name, value in self._registry.items():
                    setattr(REGISTRY, name, value)
        if self._handler is not None:
            logging.getLogger().addHandler(self._handler)
        _active.set_current(previous)


def _copy(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value
