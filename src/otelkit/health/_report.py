"""What a run of the readiness checks reports: one ``CheckResult`` per check, one
``HealthReport`` per run, and how they turn into a status and an HTTP answer.

Readiness (the HTTP status) is decided by the critical checks alone. The reported status is
``unhealthy`` if a critical check failed, ``degraded`` if another one did, else ``healthy``,
raised further by any status source (the alerting engine) that reports worse.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["BY_SEVERITY", "SEVERITY", "CheckResult", "HealthReport", "Status"]

Status = Literal["healthy", "degraded", "unhealthy"]
SEVERITY: dict[str, int] = {"healthy": 0, "degraded": 1, "unhealthy": 2}
BY_SEVERITY: tuple[Status, ...] = ("healthy", "degraded", "unhealthy")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check in one run."""

    name: str
    critical: bool
    passed: bool
    latency_ms: float
    error: str | None
    """The exception's class name, ``timeout``, or None (passed, or returned False)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": "pass" if self.passed else "fail",
            "critical": self.critical,
            "latency_ms": self.latency_ms,
            "error": self.error,
        }


@dataclass(frozen=True)
class HealthReport:
    """One run of every check, and what it means for readiness."""

    checks: tuple[CheckResult, ...] = ()
    sources: tuple[tuple[str, Status], ...] = ()
    """Contributions of the status sources (``register_status_source``), by name."""

    @property
    def ready(self) -> bool:
        """True when every critical check passed: the only thing that decides readiness."""
        return all(result.passed for result in self.checks if result.critical)

    @property
    def status(self) -> Status:
        """``unhealthy`` if a critical check failed, ``degraded`` if another one did, else
        ``healthy``; raised further by any status source that reports worse."""
        worst = 0
        for result in self.checks:
            if not result.passed:
                worst = max(worst, 2 if result.critical else 1)
        for _, status in self.sources:
            worst = max(worst, SEVERITY[status])
        return BY_SEVERITY[worst]

    @property
    def http_status(self) -> int:
        return 200 if self.ready else 503

    def as_dict(self, details: bool = True) -> dict[str, Any]:
        """The ``/readyz`` body; without ``details`` only the overall status and readiness."""
        body: dict[str, Any] = {"status": self.status, "ready": self.ready}
        if details:
            body["checks"] = {result.name: result.as_dict() for result in self.checks}
            if self.sources:
                body["sources"] = dict(self.sources)
        return body
