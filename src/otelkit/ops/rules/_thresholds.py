"""Alert thresholds: flags over the ``OTELKIT_ALERT_*`` variables over the defaults.

The in-process alerts and the generated Prometheus rules share their variables (CPU, memory,
disk, error rate, response time, their ``for`` durations and the window), parsed by the same
declarations, so one setting tunes both. Thresholds only Prometheus rules have (pool
saturation, Celery ratios, ...) are flags only: a variable nobody else reads would be a second
place to look. Every bad value is a ``ConfigError`` naming the flag or the variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from otelkit._errors import ConfigError
from otelkit.config import _alerting_parsers as parsers
from otelkit.config import _parse
from otelkit.config._alerting import alert_settings
from otelkit.config._setting import parse_setting

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["THRESHOLD_FLAGS", "ThresholdFlag", "Thresholds"]

_RATIO = "a share in [0, 1] such as `0.05`, or a percentage such as `5%`"
_DURATION = parsers.DURATION_ACCEPTED


@dataclass(frozen=True)
class Thresholds:
    """Every number the generated alerts compare with (shares, seconds)."""

    window_s: float = 300.0
    error_rate: float = 0.05
    error_rate_for_s: float = 300.0
    latency_p95_s: float = 1.0
    latency_for_s: float = 300.0
    latency_p99_s: float = 2.5
    no_traffic_for_s: float = 600.0
    cpu: float = 0.8
    cpu_for_s: float = 300.0
    memory: float = 0.8
    memory_for_s: float = 300.0
    disk: float = 0.8
    disk_for_s: float = 300.0
    db_pool: float = 0.9
    db_latency_p95_s: float = 0.5
    db_error_rate: float = 0.05
    celery_failure: float = 0.1
    celery_retry: float = 0.2
    celery_queue_wait_p95_s: float = 30.0
    repeat_interval_s: float = 4 * 3600.0

    @classmethod
    def load(
        cls, flags: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None
    ) -> Thresholds:
        """Flags (``{"cpu": "90%"}``, by field name; None = not given) > variables > defaults."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        declared = {s.key: s for s in alert_settings()}
        for spec in THRESHOLD_FLAGS:
            if spec.variable_key is not None:
                setting = declared[spec.variable_key]
                values[spec.field] = parse_setting(setting, {}, environ, values)
        thresholds = replace(cls(), **values)
        given = {k: v for k, v in (flags or {}).items() if v is not None}
        known = {spec.field: spec for spec in THRESHOLD_FLAGS}
        for name, raw in given.items():
            if name not in known:
                raise ConfigError(
                    f"unknown threshold {name!r}. Accepted: {', '.join(sorted(known))}."
                )
            thresholds = replace(thresholds, **{name: known[name].parse_flag(raw)})
        if "latency_p99_s" not in given:
            thresholds = replace(thresholds, latency_p99_s=2.5 * thresholds.latency_p95_s)
        return thresholds


@dataclass(frozen=True)
class ThresholdFlag:
    """One threshold's command-line flag, its parser and, if shared, its variable."""

    field: str
    flag: str
    parse: Callable[[object], float]
    accepted: str
    help: str
    variable_key: str | None = None
    """The key of the ``OTELKIT_ALERT_*`` declaration it shares, if any."""

    def parse_flag(self, raw: object) -> float:
        try:
            return self.parse(raw)
        except _parse.Invalid as exc:
            raise ConfigError(
                f"{self.flag}={raw!r} is not valid: {exc.reason}. Accepted: {self.accepted}."
            ) from None

    @property
    def variable(self) -> str | None:
        if self.variable_key is None:
            return None
        return next(s.env for s in alert_settings() if s.key == self.variable_key)


def _flag(field: str, kind: str, help: str, variable_key: str | None = None) -> ThresholdFlag:
    flag = "--" + field.removesuffix("_s").replace("_", "-")
    if kind == "ratio":
        return ThresholdFlag(field, flag, parsers.ratio, _RATIO, help, variable_key)
    if kind == "for":
        return ThresholdFlag(
            field, flag, parsers.duration, _DURATION + "; `0` fires at once", help, variable_key
        )
    return ThresholdFlag(
        field, flag, parsers.positive_duration, _DURATION + ", greater than 0", help, variable_key
    )


THRESHOLD_FLAGS: tuple[ThresholdFlag, ...] = (
    _flag("window_s", "time", "rate window of the RED, DB and Celery rules", "alert_window_s"),
    _flag("error_rate", "ratio", "share of 5xx responses", "alert_error_rate_threshold"),
    _flag("error_rate_for_s", "for", "`for` of the error-rate alerts", "alert_error_rate_for_s"),
    _flag("latency_p95_s", "time", "p95 per route", "alert_response_time_threshold_s"),
    _flag("latency_for_s", "for", "`for` of the latency alerts", "alert_response_time_for_s"),
    _flag("latency_p99_s", "time", "p99 per route (default 2.5 x the p95 threshold)"),
    _flag("no_traffic_for_s", "for", "how long without a request before `NoTraffic`"),
    _flag("cpu", "ratio", "busy share of the host's CPUs", "alert_cpu_threshold"),
    _flag("cpu_for_s", "for", "`for` of the CPU alerts", "alert_cpu_for_s"),
    _flag("memory", "ratio", "used share of the host's memory", "alert_memory_threshold"),
    _flag("memory_for_s", "for", "`for` of the memory alert", "alert_memory_for_s"),
    _flag("disk", "ratio", "used share of a filesystem, as `df` shows it", "alert_disk_threshold"),
    _flag("disk_for_s", "for", "`for` of the disk alert", "alert_disk_for_s"),
    _flag("db_pool", "ratio", "used share of a connection pool"),
    _flag("db_latency_p95_s", "time", "p95 of the database operations"),
    _flag("db_error_rate", "ratio", "share of failed database operations"),
    _flag("celery_failure", "ratio", "share of failed runs of a task"),
    _flag("celery_retry", "ratio", "share of runs of a task that asked for a retry"),
    _flag("celery_queue_wait_p95_s", "time", "p95 wait of a task in its queue"),
    _flag("repeat_interval_s", "time", "Alertmanager `repeat_interval`", "alert_repeat_interval_s"),
)
