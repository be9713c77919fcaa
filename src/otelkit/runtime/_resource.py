"""The Resource every signal carries: who is emitting (service, environment, host, process)."""

from __future__ import annotations

import os
import platform
import socket
import sys
import uuid
from typing import TYPE_CHECKING

from opentelemetry.sdk.resources import Resource
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

from otelkit._version import __version__

if TYPE_CHECKING:
    from otelkit.config._settings import Settings


def build_resource(settings: Settings) -> Resource:
    """Detected attributes < OTEL_RESOURCE_ATTRIBUTES / keyword < the explicit service settings.

    ``service.instance.id`` is a fresh UUID per process (unless given), so that replicas and
    pre-fork workers stay distinguishable in every backend.
    """
    attributes: dict[str, str | int] = {
        TELEMETRY_SDK_LANGUAGE: "python",
        TELEMETRY_SDK_NAME: "opentelemetry",
        TELEMETRY_SDK_VERSION: sdk_version,
        TELEMETRY_DISTRO_NAME: "otelkit",
        TELEMETRY_DISTRO_VERSION: __version__,
        HOST_NAME: socket.gethostname(),
        PROCESS_RUNTIME_NAME: sys.implementation.name,
        PROCESS_RUNTIME_VERSION: platform.python_version(),
        **per_process(settings),
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


def per_process(settings: Settings) -> dict[str, str | int]:
    """The attributes that differ between processes: ``process.pid`` and, unless the user
    set one, a new ``service.instance.id`` (a forked child takes these anew)."""
    attributes: dict[str, str | int] = {PROCESS_PID: os.getpid()}
    if not instance_id_given(settings):
        attributes[SERVICE_INSTANCE_ID] = str(uuid.uuid4())
    return attributes
