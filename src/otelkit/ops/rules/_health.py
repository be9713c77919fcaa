"""Health rules: a readiness check failing, from the ``otelkit.health.status`` gauge.

The gauge does not say whether a check is critical; the application's registry does. With
the application imported (``--app``), checks registered with ``critical=False`` get a warning
of their own and every other check pages; without it, every check is treated as critical,
the default of ``add_health_check()``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit.ops.rules._context import RULES_PREFIX, by
from otelkit.ops.rules._model import Alert, Group, Record, Runbook

if TYPE_CHECKING:
    from otelkit.ops.rules._context import Context

__all__ = ["health_groups"]

STATUS = "otelkit.health.status"


def health_groups(ctx: Context) -> list[Group]:
    check = ctx.label(STATUS, "otelkit.health.check")
    record = "job_check:otelkit_health_status:min"
    # A check fails if it fails in any worker or replica: the minimum over them.
    records = (Record(record, f"min {by(check)} ({ctx.series(STATUS)}{ctx.selector()})"),)
    noncritical = sorted(ctx.noncritical_checks)
    excluded = f'{{{check}!~"{"|".join(noncritical)}"}}' if noncritical else ""
    runbook = Runbook(
        "A readiness check fails: `/readyz` answers 503 while a critical one does, so load "
        "balancers take the replica out; `/readyz` itself shows each check's error.",
        (record, f'{ctx.series(STATUS)}{{job="<service>"}}'),
        (
            "the dependency it checks is down or unreachable (database, cache, broker)",
            "credentials or network policy changed",
            "the check's timeout is too short for the dependency under load",
        ),
    )
    alerts = [
        Alert(
            "HealthCheckFailing",
            f"{record}{excluded} == 0",
            60.0,
            "critical",
            "{{ $labels.job }}: health check {{ $labels." + check + " }} fails",
            f"The critical readiness check {{{{ $labels.{check} }}}} of {{{{ $labels.job }}}} "
            "has failed for 1 minute.",
            runbook,
        )
    ]
    if noncritical:
        alerts.append(
            Alert(
                "HealthCheckDegraded",
                f'{record}{{{check}=~"{"|".join(noncritical)}"}} == 0',
                300.0,
                "warning",
                "{{ $labels.job }}: health check {{ $labels." + check + " }} fails",
                f"The non-critical check {{{{ $labels.{check} }}}} of {{{{ $labels.job }}}} "
                "has failed for 5 minutes: the service is degraded, still ready.",
                runbook,
            )
        )
    return [Group(f"{RULES_PREFIX}-health", (*records, *alerts))]
