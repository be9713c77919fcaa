"""Connecting the receivers to Celery's signals: by ``instrument_celery()``, or by
``init_telemetry()`` (``install_auto``) until its ``shutdown()`` (``uninstall_auto``).

Everything hangs on Celery's process-wide signals; nothing of Celery is patched, and this
package imports Celery only here, when the receivers are connected. The receivers are connected
once, strongly and under a ``dispatch_uid``, whichever way is asked first; those connected by
``instrument_celery()`` stay for the life of the process. Every receiver runs through
``guarded``: nothing raises into the task or the publisher.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from typing import TYPE_CHECKING

from otelkit._errors import ConfigError
from otelkit.instrumentation.celery._backlog import worker_started
from otelkit.instrumentation.celery._publish import after_publish, before_publish
from otelkit.instrumentation.celery._worker import (
    failure,
    know_reject,
    postrun,
    prerun,
    process_init,
    process_shutdown,
    rejected,
    retry,
    revoked,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import ModuleType

__all__ = [
    "available",
    "install_auto",
    "instrument_celery",
    "instrumented_explicitly",
    "uninstall_auto",
]

logger = logging.getLogger("otelkit")

EXTRA_HINT = "pip install 'otelkit[celery]'"

_RECEIVERS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("before_task_publish", before_publish),
    ("after_task_publish", after_publish),
    ("task_prerun", prerun),
    ("task_postrun", postrun),
    ("task_failure", failure),
    ("task_retry", retry),
    ("task_revoked", revoked),
    ("task_rejected", rejected),
    ("task_unknown", rejected),
    ("worker_process_init", process_init),
    ("worker_process_shutdown", process_shutdown),
    ("worker_init", worker_started),
    ("worker_ready", worker_started),
)

_lock = threading.Lock()
_connected: ModuleType | None = None  # celery.signals, while the receivers are connected
_explicit = False  # instrument_celery() was called: the receivers stay for good


def _connect(signals: ModuleType) -> None:
    global _connected
    if _connected is not None:
        return
    know_reject(importlib.import_module("celery.exceptions").Reject)
    for signal_name, receiver in _RECEIVERS:
        getattr(signals, signal_name).connect(
            receiver, weak=False, dispatch_uid=f"otelkit.celery.{signal_name}"
        )
    _connected = signals


def _disconnect() -> None:
    global _connected
    signals = _connected
    if signals is None:
        return
    for signal_name, receiver in _RECEIVERS:
        getattr(signals, signal_name).disconnect(
            receiver, dispatch_uid=f"otelkit.celery.{signal_name}"
        )
    _connected = None


def available(*, required: bool = False) -> bool:
    """Whether Celery is installed (without importing it).

    When it is not: with ``required`` (``celery`` named in ``OTELKIT_INSTRUMENT``) raise
    ``ConfigError`` naming the extra; otherwise log at debug level and return False.
    """
    if importlib.util.find_spec("celery") is not None:
        return True
    if required:
        raise ConfigError(
            "OTELKIT_INSTRUMENT (or instrument=) lists 'celery', which is not installed: "
            f"{EXTRA_HINT}"
        )
    logger.debug("otelkit: Celery is not installed; not instrumenting it")
    return False


def instrument_celery(app: object | None = None) -> None:
    """Measure Celery tasks and carry the trace from publisher to worker; idempotent.

    Call it where tasks are published and where they run (the module that creates the Celery
    app is imported in both). Celery's signals are process-wide, so this instruments every app
    of the process; ``app`` is only checked to be a Celery app. It may run before
    ``init_telemetry()``: recording starts with the configuration, in each pool process with
    that process' own configuration.
    """
    if app is not None and not any(
        f"{cls.__module__}.{cls.__qualname__}" == "celery.app.base.Celery"
        for cls in type(app).__mro__
    ):
        raise ConfigError(
            f"instrument_celery() needs a Celery application, got {type(app).__name__}"
        )
    global _explicit
    if importlib.util.find_spec("celery") is None:
        raise ConfigError(f"instrument_celery() needs Celery, which is not installed: {EXTRA_HINT}")
    with _lock:
        _explicit = True
        _connect(importlib.import_module("celery.signals"))


def instrumented_explicitly() -> bool:
    """Whether ``instrument_celery()`` was called in this process (the metric catalog asks)."""
    return _explicit


def install_auto(*, required: bool = False) -> bool:
    """For ``init_telemetry()``: connect the receivers if Celery is installed.

    ``required`` (``celery`` named in ``OTELKIT_INSTRUMENT``) turns a missing Celery into
    ``ConfigError`` (see ``available``); otherwise it is skipped quietly. True if connected.
    """
    if not available(required=required):
        return False
    with _lock:
        _connect(importlib.import_module("celery.signals"))
    return True


def uninstall_auto() -> None:
    """For ``Telemetry.shutdown()``: disconnect, unless ``instrument_celery()`` asked for them."""
    with _lock:
        if not _explicit:
            _disconnect()
