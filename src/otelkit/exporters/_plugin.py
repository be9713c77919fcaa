"""Exporter plugins: the protocol and their discovery through the ``otelkit.exporters`` group.

A plugin is a class registered as an entry point. It declares the signals it supports and the
settings it reads; otelkit parses and validates those settings at ``init_telemetry()`` (only for
the plugins chosen), instantiates the plugin with them, and asks it for a metric reader, a span
exporter and/or a log exporter. Loading a plugin imports its module, so only chosen plugins are
loaded and ``import otelkit`` stays cheap.

A name that no plugin has but that an OpenTelemetry exporter package registers in the SDK's
auto-configuration groups (``opentelemetry_<signal>_exporter``) becomes a ``StandardExporter``.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from importlib.util import find_spec
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from otelkit._errors import ConfigError
from otelkit.config import _settings

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opentelemetry.sdk._logs.export import LogRecordExporter
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    from otelkit.config._settings import Settings

GROUP = "otelkit.exporters"
# The entry-point groups of the SDK's auto-configuration, per signal.
STANDARD_GROUPS = MappingProxyType(
    {
        "metrics": "opentelemetry_metrics_exporter",
        "traces": "opentelemetry_traces_exporter",
        "logs": "opentelemetry_logs_exporter",
    }
)
T = TypeVar("T")


Setting = _settings.Setting
"""One variable (and keyword) a plugin reads, declared with every field by name."""


class ExporterPlugin:
    """Base class of exporter plugins.

    Subclasses set ``name``, ``signals`` and ``settings`` and override the factory method of each
    signal they support. ``__init__`` receives the plugin's validated options (keyed by
    ``Setting.key``) and the core settings; override ``validate()`` for checks that involve
    several options, raising ``ConfigError``. Factories may raise ``ConfigError`` too (a port
    that is taken, a package that is missing): ``init_telemetry()`` then undoes what was built.
    """

    name: ClassVar[str]
    signals: ClassVar[frozenset[str]]
    settings: ClassVar[tuple[_settings.Setting[Any], ...]] = ()
    batch: ClassVar[bool] = True
    """Spans and logs go through batch processors; False exports each one synchronously."""
    own_loggers: ClassVar[tuple[str, ...]] = ()
    """Logger name prefixes of the libraries the plugin exports through (``urllib3``,
    ``azure``): their records are not bridged to the logs signal, which would feed an
    exporter's complaints about itself back into it. Every record under a prefix is skipped,
    the application's own included: a library the application may use itself (``urllib3``,
    ``requests``, ``grpc``) costs it those records whenever the plugin is chosen."""

    def __init__(self, options: Mapping[str, Any], core: Settings) -> None:
        self.options = options
        self.core = core
        self.validate()

    def source(self, key: str) -> str:
        """How to name one of this plugin's settings in an error: its keyword or variable."""
        setting = next(s for s in self.settings if s.key == key)
        return _settings.source_name(setting, setting.kwarg in self.core.given_keywords)

    def validate(self) -> None:
        """Cross-option checks; raise ``ConfigError`` naming the variables involved."""

    def metric_reader(self, resource: Resource) -> MetricReader:
        raise NotImplementedError

    def span_exporter(self, resource: Resource) -> SpanExporter:
        raise NotImplementedError

    def id_generator(self) -> IdGenerator | None:
        """Trace and span ids in a back end's format (X-Ray), when the plugin exports traces.

        The first traces plugin that returns one sets the tracer provider's generator; the
        default is random W3C ids.
        """
        return None

    def log_exporter(self, resource: Resource) -> LogRecordExporter:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the factories opened that the SDK does not shut down (a listener)."""

    def before_fork(self) -> None:
        """In a configured process about to fork (a pre-fork server's master), before it does."""

    def after_fork_in_child(self, resource: Resource) -> None:
        """In the forked child, after the SDK state was cleared and ``resource`` (the child's)
        set: restart what the plugin runs itself (the SDK restarts its exporter threads)."""


def available() -> dict[str, EntryPoint]:
    """Installed plugins by name, without importing them."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=GROUP):
        found.setdefault(point.name, point)
    return found


def load(name: str, point: EntryPoint) -> type[ExporterPlugin]:
    """Import one plugin class; any failure becomes a ConfigError that names the plugin."""
    try:
        loaded = point.load()
    except ConfigError:
        raise
    except Exception as exc:
        dist = point.dist.name if point.dist is not None else "its distribution"
        raise ConfigError(
            f"exporter plugin {name!r} ({point.value}) failed to load: "
            f"{type(exc).__name__}: {exc}. Reinstall {dist} or choose another exporter."
        ) from exc
    if not (isinstance(loaded, type) and issubclass(loaded, ExporterPlugin)):
        raise ConfigError(
            f"exporter plugin {name!r} ({point.value}) is not an otelkit.exporters.ExporterPlugin"
        )
    return loaded


def standard_exporters() -> dict[str, dict[str, EntryPoint]]:
    """The OpenTelemetry exporters registered per signal, by name, without importing them."""
    found: dict[str, dict[str, EntryPoint]] = {}
    for signal, group in STANDARD_GROUPS.items():
        for point in entry_points(group=group):
            found.setdefault(point.name, {}).setdefault(signal, point)
    return found


def _top_package(module: str) -> str:
    """The top-level package of ``module``'s distribution: its first component, or, below
    namespace packages (``opentelemetry``, ``opentelemetry.exporter``, ``azure``...), which
    many distributions share, the first regular package (``opentelemetry.exporter.otlp.proto.
    grpc``). Found without importing it (only the namespace packages above it are imported)."""
    parts = module.split(".")
    for end in range(1, len(parts)):
        package = ".".join(parts[:end])
        try:
            spec = find_spec(package)
        except (ImportError, ValueError):
            spec = None
        if spec is None or spec.origin is not None or spec.submodule_search_locations is None:
            return package  # a regular package (or one not found: its own name, then)
    return module


class StandardExporter(ExporterPlugin):
    """An exporter of the OpenTelemetry entry-point groups, used as the SDK's auto-configuration
    uses it: the class instantiated with no arguments (it reads its own ``OTEL_EXPORTER_*``
    variables); a metric exporter is wrapped in a ``PeriodicExportingMetricReader``, a metric
    reader is used as is."""

    points: ClassVar[Mapping[str, EntryPoint]] = MappingProxyType({})

    @classmethod
    def named(cls, name: str, points: Mapping[str, EntryPoint]) -> type[StandardExporter]:
        attributes = {
            "name": name,
            "signals": frozenset(points),
            "points": MappingProxyType(dict(points)),
            # Only the exporter package's own loggers: its complaints about its exports are not
            # bridged back into the logs signal. Not its transports' (urllib3, requests, grpc):
            # an application uses those libraries itself, and its records from them would stop
            # being bridged whenever such an exporter is chosen. (The SDK's and the OpenTelemetry
            # exporters' loggers, ``opentelemetry.*``, are never bridged anyway.)
            "own_loggers": tuple(sorted({_top_package(p.module) for p in points.values()})),
        }
        return type(f"StandardExporter[{name}]", (cls,), attributes)

    def _build(self, signal: str) -> Any:
        point = self.points[signal]
        what = f"the OpenTelemetry {signal} exporter {self.name!r} ({point.value})"
        try:
            exporter_class = point.load()
            return exporter_class()
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(f"{what} failed to start: {type(exc).__name__}: {exc}") from exc

    def metric_reader(self, resource: Resource) -> MetricReader:
        from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader

        built = self._build("metrics")
        if isinstance(built, MetricReader):
            return built
        return PeriodicExportingMetricReader(
            built,
            export_interval_millis=self.core.metric_export_interval_ms,
            export_timeout_millis=self.core.metric_export_timeout_ms,
        )

    def span_exporter(self, resource: Resource) -> SpanExporter:
        exporter: SpanExporter = self._build("traces")
        return exporter

    def log_exporter(self, resource: Resource) -> LogRecordExporter:
        exporter: LogRecordExporter = self._build("logs")
        return exporter
