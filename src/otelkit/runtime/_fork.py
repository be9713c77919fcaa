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
plugin joins or starts the shared-directory aggregation of ``exporters/prometheus``). The
SDK's own fork hooks restart its exporter threads and empty the span and log queues.

Each step runs on its own: one that fails is recorded (``record_internal_error``) and the
others still run. The SDK state is reached through the seams of ``_sdk_compat``; when one is
gone, the child exports nothing that would repeat its parent's totals or identity: without
cleared aggregates or a renewed resource, no SDK metrics (the fast instruments, reset by otelkit
itself, still export under the child's resource), and without a renewed resource no spans or
logs either. A WARNING says so.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import partial
from typing import TYPE_CHECKING

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.version import __version__ as sdk_version

from otelkit import _active, _sdk_compat
from otelkit._errors import record_internal_error
from otelkit.metrics._fastpath import REGISTRY
from otelkit.runtime._alerting import wire_alerts
from otelkit.runtime._resource import per_process

if TYPE_CHECKING:
    from collections.abc import Callable

    from otelkit.config._settings import Settings
    from otelkit.runtime._pipeline import Pipeline
    from otelkit.runtime._telemetry import Telemetry

logger = logging.getLogger("otelkit")

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
    if telemetry._pipeline.alerts is not None:  # the first fork may have shared the metrics
        try:
            wire_alerts(telemetry._pipeline)
        except Exception as exc:
            record_internal_error("alerting before fork", exc)


def _after_fork_in_parent() -> None:
    REGISTRY.collecting.release()


def _after_fork_in_child() -> None:
    # Taken in _before_fork whatever the state: replaced whatever the state, first.
    REGISTRY.collecting = threading.RLock()
    telemetry = _configured()
    if telemetry is None or telemetry._pipeline is None:
        return
    try:
        reset_in_child(telemetry)
    except Exception as exc:
        record_internal_error("after fork", exc)


def reset_in_child(telemetry: Telemetry) -> None:
    """Each step on its own: one that fails is recorded and the others still run."""
    pipeline = telemetry._pipeline
    assert pipeline is not None
    telemetry._shutdown_lock = threading.Lock()
    metrics_cleared = _step("SDK metrics", lambda: _clear_sdk_metrics(pipeline))
    _step("export locks", _renew_export_locks)
    _step("fast instruments", lambda: REGISTRY.reset_after_fork(None))
    resource_renewed = _step("resource", lambda: _renew_resource(pipeline, telemetry.settings))
    if not metrics_cleared or not resource_renewed:
        _step("SDK metrics stop", lambda: _stop_sdk_metrics(pipeline))
    if not resource_renewed:
        _step("spans and logs stop", lambda: _stop_spans_and_logs(pipeline))
    for plugin in pipeline.plugins.values():
        _step(f"{plugin.name} after fork", partial(plugin.after_fork_in_child, pipeline.resource))
    if pipeline.alerts is not None:
        _step("alerting shared", lambda: wire_alerts(pipeline))
        _step("alerting after fork", pipeline.alerts.after_fork_in_child)


def _step(name: str, step: Callable[[], bool | None]) -> bool:
    """Run one step of the reset; False when it could not do its job (recorded if it raised)."""
    try:
        return step() is not False
    except Exception as exc:
        record_internal_error(f"after fork: {name}", exc)
        return False


def _clear_sdk_metrics(pipeline: Pipeline) -> bool:
    """Every SDK aggregate from zero (what the parent recorded stays the parent's)."""
    if not _sdk_compat.usable(_sdk_compat.CLEAR_AGGREGATES):
        return False
    _sdk_compat.clear_metric_aggregates(pipeline.meter_provider)
    return True


def _renew_export_locks() -> None:
    """Every reader of the provider, those added with ``add_metric_reader()`` included."""
    if _sdk_compat.usable(_sdk_compat.EXPORT_LOCK):
        for reader in REGISTRY.readers():
            _sdk_compat.renew_export_lock(reader)


def _renew_resource(pipeline: Pipeline, settings: Settings) -> bool:
    """The child's ``process.pid`` and ``service.instance.id`` on every provider; without the
    seam only otelkit's own uses (fast instruments, plugins) get them."""
    update = Resource(per_process(settings))
    pipeline.resource = pipeline.resource.merge(update)  # first: whatever fails below
    REGISTRY.set_resource(pipeline.resource)
    if not _sdk_compat.usable(_sdk_compat.UPDATE_RESOURCE):
        return False
    # The SDK's own fork hooks merge the process-dependent detectors the same way.
    pipeline.resource = _sdk_compat.update_resource(pipeline.meter_provider, update)
    REGISTRY.set_resource(pipeline.resource)
    _sdk_compat.update_resource(pipeline.tracer_provider, update)
    _sdk_compat.update_resource(pipeline.logger_provider, update)
    return True


def _stop_sdk_metrics(pipeline: Pipeline) -> None:
    """The SDK's metrics still hold the parent's totals or identity: this child exports none
    of them. Readers fed by the fast path keep exporting its (reset) instruments; the others
    are removed from the provider and shut down (those added with ``add_metric_reader()``
    included)."""
    REGISTRY.drop_sdk_metrics()
    stopped = [reader for reader in REGISTRY.readers() if not REGISTRY.feeds(reader)]
    for reader in stopped:
        pipeline.meter_provider.remove_metric_reader(reader)
        reader.shutdown()
    logger.warning(
        "otelkit: forked process %d exports no OpenTelemetry SDK metrics (they would repeat "
        "its parent's totals or identity: see the opentelemetry-sdk %s warning at start-up)%s",
        os.getpid(),
        sdk_version,
        "" if stopped else "; otelkit's fast instruments are still exported",
    )


def _stop_spans_and_logs(pipeline: Pipeline) -> None:
    """Without a resource of its own, the child would send spans and logs as its parent."""
    pipeline.tracer_provider.shutdown()
    pipeline.logger_provider.shutdown()
    logger.warning(
        "otelkit: forked process %d exports no spans or logs: its resource could not be renewed "
        "(opentelemetry-sdk %s)",
        os.getpid(),
        sdk_version,
    )
