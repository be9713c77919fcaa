"""Failed exports, told once: what failed, where, why, and then how often.

The first failed export of each exporter is one otelkit WARNING naming the signal, the exporter,
its endpoint (as ``config._redact.redact_url`` shows it, as the start-up line and ``otelkit
doctor`` do) and the reason; later failures are summed up in at
most one WARNING per ``SUMMARY_INTERVAL_S`` with their count, and the first success after them
is one INFO. Meanwhile the SDK's own messages about the same exports (one ERROR or WARNING per
failed batch and per retry, some with the unmasked endpoint) are held back by a filter on its
exporter loggers; their text, redacted, is kept as the detail of otelkit's message and to tell
the reason. The filter holds back only what otelkit tells itself: messages logged while its
export wrapper runs, its processors' "Queue full" lines. The application's own exporters and
processors keep their SDK messages.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING

from otelkit.config._redact import redact_text, redact_url

if TYPE_CHECKING:
    from types import FrameType

__all__ = [
    "SDK_EXPORT_LOGGERS",
    "Capture",
    "Report",
    "classify",
    "hold_back_queue_full",
    "install_filter",
    "mark_reported",
    "report_for",
    "uninstall_filter",
]

logger = logging.getLogger("otelkit")

SUMMARY_INTERVAL_S = 60.0
SDK_EXPORT_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.grpc.metric_exporter",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.metrics._internal.export",
)
"""The loggers on which the SDK reports failed exports, retries and full queues."""
_EXPORT_MESSAGE = re.compile(
    r"Failed to export|Transient error|Exception while exporting|Queue full|"
    r"Metric collection timed out|retry",
    re.IGNORECASE,
)


def classify(exc: BaseException | None, messages: list[str]) -> str:
    """The reason of a failed export: ``timeout``, ``unavailable``, ``rejected`` (the receiver
    answered that it will not take the data), ``exception`` or ``failed`` (no detail)."""
    text = " ".join(messages)
    if exc is not None:
        text = f"{type(exc).__name__} {exc} {text}"
    # The HTTP exporter's last word after retryable errors (refused, 429, 502-504) says nothing
    # of a timeout: the collector could not take the batch within the export deadline.
    lowered = text.lower().replace("due to timeout, max retries or shutdown", "unavailable")
    if re.search(r"timeout|timed out|deadline_exceeded|deadline exceeded", lowered):
        return "timeout"
    if re.search(
        r"refused|unavailable|connection|code: (5\d\d|429)|resource_exhausted|internal|unknown",
        lowered,
    ):
        return "unavailable"
    if re.search(r"code: 4\d\d|invalid_argument|unauthenticated|permission_denied", lowered):
        return "rejected"
    return "exception" if exc is not None else "failed"


class _Captured(threading.local):
    messages: list[str] | None = None
    """What the SDK logged about the export in progress on this thread (None: no export of
    otelkit's is in progress here)."""
    reported: BaseException | None = None
    """The exception otelkit's wrapper just reported: the processor's traceback of it is held."""


_captured = _Captured()
_queues: weakref.WeakSet[object] = weakref.WeakSet()
"""The batch processors otelkit built: their "Queue full" lines are told by otelkit."""
_QUEUE_FULL = re.compile(r"Queue full", re.IGNORECASE)
_STACK_DEPTH = 16


def hold_back_queue_full(processor: object) -> None:
    """The SDK's "Queue full" line of ``processor`` (one otelkit built, which counts and tells
    its drops itself) is held back; any other processor's line goes through."""
    _queues.add(processor)


def mark_reported(exc: BaseException) -> None:
    """``exc`` was reported by otelkit: the SDK's "Exception while exporting" traceback of it,
    logged next on this thread, is held back."""
    _captured.reported = exc


def _emitted_by_ours() -> bool:
    """Whether the record being filtered comes from a processor otelkit built (a caller's
    ``self`` a few frames up the emitting thread's stack)."""
    frame: FrameType | None = sys._getframe(2)
    for _ in range(_STACK_DEPTH):
        if frame is None:
            return False
        owner = frame.f_locals.get("self")
        if owner is not None:
            try:
                if owner in _queues:
                    return True
            except TypeError:  # an unhashable ``self``
                pass
        frame = frame.f_back
    return False


class _HoldBack(logging.Filter):
    """On the SDK's exporter loggers: while otelkit's export wrapper runs on this thread, keep
    the text of the export's failure messages for otelkit's report and let none through. Outside
    it (the application's own processors and exporters), every message goes through, except a
    traceback otelkit already reported and the "Queue full" line of a processor otelkit built."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        if not _EXPORT_MESSAGE.search(message):
            return True
        held = _captured.messages
        if held is not None:
            if len(held) < 8:
                held.append(message)
            return False
        reported = _captured.reported
        if reported is not None and record.exc_info and record.exc_info[1] is reported:
            _captured.reported = None
            return False
        return not (_QUEUE_FULL.search(message) and _emitted_by_ours())


_filter = _HoldBack()
_installed = 0
_install_lock = threading.Lock()


def install_filter() -> None:
    """Hold back the SDK's export-failure messages (one more user: nested configurations)."""
    global _installed
    with _install_lock:
        _installed += 1
        if _installed == 1:
            for name in SDK_EXPORT_LOGGERS:  # first: before the SDK's own DuplicateFilter,
                filters = logging.getLogger(name).filters  # which hides repeats from the rest
                if _filter not in filters:
                    filters.insert(0, _filter)


def uninstall_filter() -> None:
    global _installed
    with _install_lock:
        _installed = max(0, _installed - 1)
        if _installed == 0:
            for name in SDK_EXPORT_LOGGERS:
                logging.getLogger(name).removeFilter(_filter)


class Capture:
    """Around one export: collects what the SDK logged about it on this thread."""

    def __enter__(self) -> list[str]:
        self._outer = _captured.messages
        _captured.messages = []
        _captured.reported = None  # a reported exception no traceback followed: let it go
        return _captured.messages

    def __exit__(self, *exc: object) -> None:
        _captured.messages = self._outer


def report_for(plugin: object, signal: str, items: str) -> Report:
    """The report of ``plugin``'s exports of ``signal``; the endpoint when the plugin has one
    (``resolve(signal).endpoint``, as the OTLP plugin does)."""
    where = ""
    try:
        where = str(plugin.resolve(signal).endpoint)  # type: ignore[attr-defined]
    except Exception:  # a plugin without endpoints: its name says where
        where = ""
    return Report(signal, str(getattr(plugin, "name", type(plugin).__name__)), where, items)


class Report:
    """The messages about one exporter's failures (``signal``/``exporter`` to ``where``)."""

    def __init__(self, signal: str, exporter: str, where: str, items: str) -> None:
        self.component = f"{signal}/{exporter}"
        self.where = redact_url(where) if where else "its destination"
        self.items = items
        self._lock = threading.Lock()
        self._failing = False
        self._told = False
        self._since = 0
        """Failures since the last message."""
        self._lost = 0
        self._last = 0.0

    def failed(self, reason: str, items: int, detail: str) -> None:
        """One failed export; ``detail`` (an exception's repr, the SDK's messages, which may
        quote a request URL) is redacted here, whatever filters the loggers have."""
        detail = redact_text(detail)
        now = time.monotonic()
        with self._lock:
            self._failing = True
            self._since += 1
            self._lost += items
            if self._told and now - self._last < SUMMARY_INTERVAL_S:
                return
            first, since, lost = not self._told, self._since, self._lost
            self._told, self._last, self._since, self._lost = True, now, 0, 0
        if first:
            logger.warning(
                "otelkit: export of %s to %s failed (%s): %s; %d %s not delivered. Further "
                "failures are summed up once a minute (otelkit.export.failures counts them all)",
                self.component,
                self.where,
                reason,
                detail or "no detail",
                lost,
                self.items,
            )
        else:
            logger.warning(
                "otelkit: %d more exports of %s to %s failed in the last %.0f s, %d %s not "
                "delivered; the last one: %s (%s)",
                since,
                self.component,
                self.where,
                SUMMARY_INTERVAL_S,
                lost,
                self.items,
                reason,
                detail or "no detail",
            )

    def succeeded(self) -> None:
        with self._lock:
            if not self._failing:
                return
            self._failing, since = False, self._since
            self._since = self._lost = 0
        logger.info(
            "otelkit: export of %s to %s works again (%d failures since the last message)",
            self.component,
            self.where,
            since,
        )
