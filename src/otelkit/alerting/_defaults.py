"""The built-in rules, from the settings: the thresholds operators expect out of the box.

| name | rule | severity |
|---|---|---|
| ``HighCpuUsage`` | ``system.cpu.utilization`` of every mode but ``idle``, added up (the busy share of all CPUs) > ``OTELKIT_ALERT_CPU_THRESHOLD`` | warning |
| ``HighMemoryUsage`` | ``system.memory.utilization`` of state ``used`` > ``OTELKIT_ALERT_MEMORY_THRESHOLD`` | warning |
| ``HighDiskUsage`` | ``system.filesystem.usage`` of state ``used`` over ``used`` + ``free`` (df's figure), per filesystem > ``OTELKIT_ALERT_DISK_THRESHOLD`` | warning |
| ``HighErrorRate`` | share of ``http.server.request.duration`` with ``error.type`` over the window > ``OTELKIT_ALERT_ERROR_RATE_THRESHOLD`` | critical |
| ``HighLatency`` | p95 of ``http.server.request.duration`` over the window > ``OTELKIT_ALERT_RESPONSE_TIME_THRESHOLD`` | warning |

Each has its ``for`` duration (``OTELKIT_ALERT_<RULE>_FOR``) and can be left out with
``OTELKIT_ALERT_DEFAULT_RULES``. A rule whose metric is not emitted (no HTTP app, no psutil)
simply never has data.
"""  # noqa: E501

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.semconv._incubating.metrics.system_metrics import (
    SYSTEM_CPU_UTILIZATION,
    SYSTEM_FILESYSTEM_USAGE,
    SYSTEM_MEMORY_UTILIZATION,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.semconv.metrics.http_metrics import HTTP_SERVER_REQUEST_DURATION

from otelkit.alerting._rules import AlertRule

if TYPE_CHECKING:
    from otelkit.config._alerting import AlertSettings

__all__ = ["default_rules"]

_CPU_MODE = "cpu.mode"
_MEMORY_STATE = "system.memory.state"
_FILESYSTEM_STATE = "system.filesystem.state"
_FILESYSTEM_GROUP = ("system.device", "system.filesystem.mountpoint")


def default_rules(settings: AlertSettings) -> list[AlertRule]:
    """The built-in rules that ``OTELKIT_ALERT_DEFAULT_RULES`` keeps, tuned by the settings."""
    s = settings
    rules = {
        "cpu": AlertRule(
            "HighCpuUsage",
            SYSTEM_CPU_UTILIZATION,
            s.alert_cpu_threshold,
            where={_CPU_MODE: {"not": "idle"}},
            for_duration=s.alert_cpu_for_s,
            summary="CPU busy share of the host is high",
        ),
        "memory": AlertRule(
            "HighMemoryUsage",
            SYSTEM_MEMORY_UTILIZATION,
            s.alert_memory_threshold,
            where={_MEMORY_STATE: "used"},
            for_duration=s.alert_memory_for_s,
            summary="Used share of the host's memory is high",
        ),
        # The figure `df` shows: used / (used + available), so the space reserved for root
        # does not hide a full disk (system.filesystem.utilization divides by the whole size).
        "disk": AlertRule(
            "HighDiskUsage",
            SYSTEM_FILESYSTEM_USAGE,
            s.alert_disk_threshold,
            aggregation="ratio",
            numerator={_FILESYSTEM_STATE: "used"},
            denominator={_FILESYSTEM_STATE: ["used", "free"]},
            by=_FILESYSTEM_GROUP,
            for_duration=s.alert_disk_for_s,
            summary="A filesystem is filling up (used share of the space df counts)",
        ),
        "error_rate": AlertRule(
            "HighErrorRate",
            HTTP_SERVER_REQUEST_DURATION,
            s.alert_error_rate_threshold,
            aggregation="ratio",
            numerator={ERROR_TYPE: {"exists": True}},
            for_duration=s.alert_error_rate_for_s,
            severity="critical",
            summary="Share of failed HTTP requests (5xx or exception) is high",
        ),
        "response_time": AlertRule(
            "HighLatency",
            HTTP_SERVER_REQUEST_DURATION,
            s.alert_response_time_threshold_s,
            aggregation="p95",
            for_duration=s.alert_response_time_for_s,
            summary="95th percentile of HTTP request duration is high",
        ),
    }
    return [rules[name] for name in s.alert_default_rules]
