"""The Resource every signal carries: who is emitting (service, environment, host, process).

``OTEL_RESOURCE_DETECTORS`` adds the attributes of resource detectors registered in the
``opentelemetry_resource_detector`` entry-point group (``process``, ``os``, ``host`` from the
SDK; ``aws_ec2``, ``aws_ecs``… from opentelemetry-sdk-extension-aws; any other package's),
under everything otelkit sets itself. Process-dependent detectors (``process``) run again in a
forked child, as the SDK does with its own.
"""

from __future__ import annotations

import os
import platform
import socket
import sys
import uuid
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from opentelemetry.sdk.resources import Resource, ResourceDetector, get_aggregated_resources
from opentelemetry.sdk.version import __version__ as sdk_version
from opentelemetry.semconv._incubating.attributes.host_attributes import HOST_NAME
from opentelemetry.semconv._incubating.attributes.process_attributes import (
    PROCESS_PID,
    PROCESS_RUNTIME_NAME,
    PROCESS_RUNTIME_VERSION,
)
from opentelemetry.semconv.attributes.deployment_attributes import DEPLOYMENT_ENVIRONMENT_NAME
from opentelemetry.semconv.attributes.service_attributes import (
    SERVICE_INSTANCE_ID,
    SERVICE_NAME,
    SERVICE_VERSION,
)
from opentelemetry.semconv.attributes.telemetry_attributes import (
    TELEMETRY_DISTRO_NAME,
    TELEMETRY_DISTRO_VERSION,
    TELEMETRY_SDK_LANGUAGE,
    TELEMETRY_SDK_NAME,
    TELEMETRY_SDK_VERSION,
)

from otelkit._errors import ConfigError
from otelkit._version import __version__
from otelkit.config import _parse
from otelkit.config._settings import Setting, did_you_mean

if TYPE_CHECKING:
    from collections.abc import Sequence

    from otelkit.config._settings import Settings

DETECTOR_GROUP = "opentelemetry_resource_detector"
# The process-dependent detectors of the running configuration, run again after a fork.
_process_detectors: tuple[ResourceDetector, ...] = ()


def _detector_names(value: object) -> tuple[str, ...]:
    names = _parse.name_list(value)
    registered = sorted(entry_points(group=DETECTOR_GROUP).names)
    for name in names:
        if name not in registered:
            raise _parse.InvalidValue(
                f"no resource detector named {name!r} is installed"
                f"{did_you_mean(name, registered)} (installed: {', '.join(registered)})"
            )
    return names


RESOURCE_DETECTORS: Setting[tuple[str, ...]] = Setting(
    key="resource_detectors",
    env="OTEL_RESOURCE_DETECTORS",
    parse=_detector_names,
    default=(),
    accepted="a comma list of resource detectors registered in the "
    "`opentelemetry_resource_detector` entry-point group (`process`, `os`, `host` come with "
    "the SDK)",
    doc="Resource detectors whose attributes are added under otelkit's own.",
    default_doc="—",
)
# What otelkit sets itself: a detector's value for these never replaces otelkit's.
_OWN = frozenset(
    {
        TELEMETRY_SDK_LANGUAGE,
        TELEMETRY_SDK_NAME,
        TELEMETRY_SDK_VERSION,
        TELEMETRY_DISTRO_NAME,
        TELEMETRY_DISTRO_VERSION,
        HOST_NAME,
        PROCESS_PID,
        PROCESS_RUNTIME_NAME,
        PROCESS_RUNTIME_VERSION,
        SERVICE_INSTANCE_ID,
        SERVICE_NAME,
        SERVICE_VERSION,
        DEPLOYMENT_ENVIRONMENT_NAME,
    }
)


def load_detectors(names: Sequence[str], source: str) -> tuple[ResourceDetector, ...]:
    """Import and create the named detectors; a failure is a ConfigError naming ``source``."""
    detectors = []
    for name in names:
        (point,) = entry_points(group=DETECTOR_GROUP, name=name)
        try:
            detector: Any = point.load()()
        except Exception as exc:
            raise ConfigError(
                f"{source} names the resource detector {name!r} ({point.value}), which failed "
                f"to load: {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(detector, ResourceDetector):
            raise ConfigError(
                f"{source} names {name!r} ({point.value}), which is not a ResourceDetector"
            )
        detectors.append(detector)
    return tuple(detectors)


def _detected(settings: Settings, detectors: Sequence[ResourceDetector]) -> dict[str, Any]:
    """The detectors' attributes, without those the user or otelkit's settings decide."""
    if not detectors:
        return {}
    found = get_aggregated_resources(list(detectors), Resource.get_empty()).attributes
    return {
        k: v for k, v in found.items() if k not in _OWN and k not in settings.resource_attributes
    }


def build_resource(settings: Settings, detectors: Sequence[ResourceDetector] = ()) -> Resource:
    """Detectors < otelkit's attributes < OTEL_RESOURCE_ATTRIBUTES / keyword < the explicit
    service settings.

    ``service.instance.id`` is a fresh UUID per process (unless given), so that replicas and
    pre-fork workers stay distinguishable in every backend.
    """
    global _process_detectors
    _process_detectors = tuple(d for d in detectors if d.is_process_dependent())
    attributes: dict[str, Any] = {
        **_detected(settings, detectors),
        TELEMETRY_SDK_LANGUAGE: "python",
        TELEMETRY_SDK_NAME: "opentelemetry",
        TELEMETRY_SDK_VERSION: sdk_version,
        TELEMETRY_DISTRO_NAME: "otelkit",
        TELEMETRY_DISTRO_VERSION: __version__,
        HOST_NAME: socket.gethostname(),
        PROCESS_RUNTIME_NAME: sys.implementation.name,
        PROCESS_RUNTIME_VERSION: platform.python_version(),
        **_own_per_process(settings),
    }
    attributes.update(settings.resource_attributes)
    attributes[SERVICE_NAME] = settings.service_name
    attributes[DEPLOYMENT_ENVIRONMENT_NAME] = settings.environment
    if settings.service_version:
        attributes[SERVICE_VERSION] = settings.service_version
    return Resource(attributes)


def instance_id_given(settings: Settings) -> bool:
    """Whether the user set ``service.instance.id`` (then every process keeps it)."""
    return SERVICE_INSTANCE_ID in settings.resource_attributes


def per_process(settings: Settings) -> dict[str, Any]:
    """The attributes that differ between processes, which a forked child takes anew: those
    of the process-dependent detectors, then ``process.pid`` and, unless the user set one, a
    new ``service.instance.id``."""
    return {**_detected(settings, _process_detectors), **_own_per_process(settings)}


def _own_per_process(settings: Settings) -> dict[str, str | int]:
    attributes: dict[str, str | int] = {PROCESS_PID: os.getpid()}
    if not instance_id_given(settings):
        attributes[SERVICE_INSTANCE_ID] = str(uuid.uuid4())
    return attributes
