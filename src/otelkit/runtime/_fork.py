"""After ``fork()``: a child of a configured process starts its telemetry from zero.

gunicorn ``--preload``, Celery's prefork pool and ``multiprocessing`` fork a process that has
already called ``init_telemetry()``. The child inherits the SDK's aggregates, otelkit's fast
instruments, the resource and the exporters, but none of their threads. Left alone, the SDK's
periodic reader restarts its thread in the child and exports the parent's totals a second
time, and every child would report the parent's ``service.instance.id``.

So, in the child, before anything else runs: every aggregate restarts from zero (what the
parent recorded stays the parent's, to export or serve itself), every lock a parent thread may
have held is replaced, the resource gets the child's pid and a new ``service.instance.id``
(unless the user set one), and the plugins and alerting restart what they run (the prometheus
plugin joins or starts the shared-directory aggregation, ``exporters/_multiprocess/``). The
SDK's own fork hooks restart its exporter threads and empty the span and log queues.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from opentelemetry.sdk.resources import Resource

from otelkit import _active
from otelkit._errors import record_internal_error
from otelkit.metrics._fastpath import REGISTRY
from otelkit.runtime._resource import per_process

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider

    from otelkit.runtime._telemetry import Telemetry

_installed = False


def install() -> None:
    """Register the fork hooks once per process (they act on the active configuration)."""
    global _installed
    if not _installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(
            before=_before_fork,
            after_in_parent=_after_fork_in_parent,
            after_in_child=_after_fork_in_child,
        )
        _installed = True


def _configured() -> Telemetry | None:
    telemetry = _active.current()
    if telemetry is None or telemetry._pipeline is None or telemetry._shut_down:
        return None
    return telemetry


def _before_fork() -> None:
    # No collection runs while the process forks: the child must not inherit a lock that a
    # collecting thread of the parent held (psutil sampling, health checks, the SDK's).
    REGISTRY.collecting.acquire()
    telemetry = _configured()
    if telemetry is None or telemetry._pipeline is None:
        return
    for plugin in telemetry._pipeline.plugins.values():
        try:
            plugin.before_fork()
        except Exception as exc:  # a fork hook must not fail the fork
            record_internal_error(f"{plugin.name} before fork", exc)


def _after_fork_in_parent() -> None:
    REGISTRY.collecting.release()


def _after_fork_in_child() -> None:
    from otelkit.runtime import _telemetry

    # Taken in _before_fork whatever the state: replaced whatever the state, first.
    REGISTRY.collecting = threading.RLock()
    _telemetry._lock = threading.RLock()
    telemetry = _configured()
    if telemetry is None or telemetry._pipeline is None:
        return
    try:
        reset_in_child(telemetry)
    except Exception as exc:
        record_internal_error("after fork", exc)


def reset_in_child(telemetry: Telemetry) -> None:
    pipeline = telemetry._pipeline
    assert pipeline is not None
    telemetry._shutdown_lock = threading.Lock()
    clear_sdk_metrics(pipeline.meter_provider)
    for reader in pipeline.readers:
        if hasattr(reader, "_export_lock"):
            # The SDK's periodic reader restarts its thread but keeps this lock, which an
            # export of the parent (to a slow collector) may have held at the fork.
            reader._export_lock = threading.Lock()
    REGISTRY.reset_after_fork(None)
    update = Resource(per_process(telemetry.settings))
    # The SDK's own fork hooks merge the process-dependent detectors the same way.
    pipeline.meter_provider._update_resource(update)
    pipeline.tracer_provider._update_resource(update)
    pipeline.logger_provider._update_resource(update)
    pipeline.resource = pipeline.meter_provider._sdk_config.resource
    REGISTRY.set_resource(pipeline.resource)
    for plugin in pipeline.plugins.values():
        try:
            plugin.after_fork_in_child(pipeline.resource)
        except Exception as exc:
            record_internal_error(f"{plugin.name} after fork", exc)
    if pipeline.alerts is not None:
        pipeline.alerts.after_fork_in_child()


def clear_sdk_metrics(provider: MeterProvider) -> None:
    """Drop every aggregate the SDK holds for every reader (private SDK state, pinned <2;
    tests/unit/test_fork.py fails if its shape changes)."""
    consumer = provider._measurement_consumer
    consumer._lock = threading.Lock()
    for storage in consumer._reader_storages.values():
        storage._lock = threading.RLock()
        for matches in storage._instrument_view_instrument_matches.values():
            for match in matches:
                match._lock = threading.Lock()
                match._attributes_aggregation = {}
                match._previous_collection_start_nanos = None
