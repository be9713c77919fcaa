"""``CapturedTelemetry``: what the ``telemetry`` fixture gives a test, and how it reads it.

It wraps a configuration whose every signal goes to the ``memory`` exporter. Metrics are
collected again at every call (cumulative since the configuration started, so since the test
started), spans and log records are those ended or emitted so far.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otelkit.testing import _readers
from otelkit.testing._match import matches, resolve
from otelkit.testing._metrics import READINGS, kind_of
from otelkit.testing._secrets import places

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opentelemetry.metrics import Meter
    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import Tracer

    from otelkit.runtime._telemetry import Telemetry
    from otelkit.testing._metrics import Counter, Gauge, Histogram, MetricReading, UpDownCounter

__all__ = ["CapturedTelemetry"]


class CapturedTelemetry:
    """In-memory telemetry for one test: ``counter()``, ``histogram()``, ``spans()``, ``logs()``,
    ``assert_no_secret()``. ``handle`` is the configuration's ``Telemetry`` (``.meter``,
    ``.tracer``, ``.force_flush()``)."""

    def __init__(self, handle: Telemetry) -> None:
        self.handle = handle

    @property
    def meter(self) -> Meter:
        return self.handle.meter

    @property
    def tracer(self) -> Tracer:
        return self.handle.tracer

    # --- metrics --------------------------------------------------------------------------

    def metric(self, name: str) -> MetricReading:
        """The metric ``name`` as collected now, whatever its kind."""
        return self._reading(name, None)

    def counter(self, name: str) -> Counter:
        """The counter ``name`` as collected now: ``.value(**attributes)``."""
        return self._reading(name, "counter")  # type: ignore[return-value]

    def updowncounter(self, name: str) -> UpDownCounter:
        """The up-down counter ``name`` as collected now: ``.value(**attributes)``."""
        return self._reading(name, "updowncounter")  # type: ignore[return-value]

    def histogram(self, name: str) -> Histogram:
        """The histogram ``name`` as collected now: ``.count(**attributes)``, ``.sum(...)``."""
        return self._reading(name, "histogram")  # type: ignore[return-value]

    def gauge(self, name: str) -> Gauge:
        """The gauge ``name`` as collected now: ``.value(**attributes)``."""
        return self._reading(name, "gauge")  # type: ignore[return-value]

    def _reading(self, name: str, wanted: str | None) -> MetricReading:
        data = _readers.metrics(self.handle)
        points: list[Any] = []
        kind, unit, names = None, "", set()
        for resource_metrics in data.resource_metrics if data is not None else ():
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    names.add(metric.name)
                    if metric.name == name:
                        kind, unit = kind_of(metric.data), metric.unit or ""
                        points.extend(metric.data.data_points)
        if kind is not None and wanted is not None and kind != wanted:
            raise AssertionError(
                f"{name!r} is a {kind}, not a {wanted}: read it with telemetry.{kind}({name!r})"
            )
        note = ""
        if kind is None:
            recorded = ", ".join(sorted(names)) or "none"
            note = f" (metrics recorded: {recorded})"
        return READINGS[kind or wanted or "counter"](name, points, unit, note)

    # --- spans and logs -------------------------------------------------------------------

    def spans(
        self,
        name: str | None = None,
        *,
        attributes: Mapping[str, Any] | None = None,
        **keywords: Any,
    ) -> list[ReadableSpan]:
        """The spans ended so far: those named ``name``, with these attributes, if given
        (``attributes`` for names that keywords cannot spell)."""
        found = [s for s in _readers.spans(self.handle) if name is None or s.name == name]
        known = {key for span in found for key in (span.attributes or {})}
        wanted = resolve(attributes, keywords, known)
        return [s for s in found if matches(s.attributes, wanted)]

    def logs(
        self,
        body: str | None = None,
        *,
        level: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        **keywords: Any,
    ) -> list[ReadableLogRecord]:
        """The log records emitted so far: those whose body contains ``body``, at ``level``
        (``"ERROR"``), with these attributes, if given."""
        found = []
        for readable in _readers.logs(self.handle):
            record = readable.log_record
            if body is not None and body not in str(record.body):
                continue
            if level is not None and (record.severity_text or "").upper() != level.upper():
                continue
            found.append(readable)
        known = {key for r in found for key in (r.log_record.attributes or {})}
        wanted = resolve(attributes, keywords, known)
        return [r for r in found if matches(r.log_record.attributes, wanted)]

    # --- secrets --------------------------------------------------------------------------

    def assert_no_secret(self, secret: str) -> None:
        """Fail if ``secret`` appears anywhere in what was recorded (spans, metrics, logs and
        their resources); the message names each place, not the secret."""
        if not secret:
            raise ValueError("assert_no_secret() needs a non-empty string")
        found = places(
            secret,
            spans=_readers.spans(self.handle),
            metrics=_readers.metrics(self.handle),
            logs=_readers.logs(self.handle),
        )
        if found:
            shown = "\n  ".join(found)
            raise AssertionError(
                f"the secret ({len(secret)} characters) was recorded in:\n  {shown}"
            )

    def __repr__(self) -> str:
        return f"<CapturedTelemetry of {self.handle!r}>"
