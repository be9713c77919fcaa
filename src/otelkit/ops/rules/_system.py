"""Host and process rules: CPU, memory and disk, as the in-process alerts define them.

Host metrics describe a host, so they are grouped by service and ``instance`` (one target per
host or replica): a full disk on one replica is an alert even if the others are fine. Process
metrics carry ``process_pid`` under a pre-fork server; it is aggregated away (the busiest
worker), never kept as a label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit.ops.rules._context import RULES_PREFIX, by
from otelkit.ops.rules._model import Alert, Group, Record, Runbook

if TYPE_CHECKING:
    from otelkit.ops.rules._context import Context

__all__ = ["process_groups", "system_groups"]

CPU = "system.cpu.utilization"
MEMORY = "system.memory.utilization"
FILESYSTEM = "system.filesystem.usage"
PROCESS_CPU = "process.cpu.utilization"


def system_groups(ctx: Context) -> list[Group]:
    t = ctx.thresholds
    mode = ctx.label(CPU, "cpu.mode")
    mem_state = ctx.label(MEMORY, "system.memory.state")
    fs_state = ctx.label(FILESYSTEM, "system.filesystem.state")
    device = ctx.label(FILESYSTEM, "system.device")
    mountpoint = ctx.label(FILESYSTEM, "system.filesystem.mountpoint")
    busy = "job_instance:system_cpu_busy:ratio"
    memory = "job_instance:system_memory_used:ratio"
    disk = "job_instance_mountpoint:system_filesystem_used:ratio"
    fs = ctx.series(FILESYSTEM)
    not_idle = ctx.selector(f'{mode}!="idle"')
    mem_used = ctx.selector(f'{mem_state}="used"')
    fs_used = ctx.selector(f'{fs_state}="used"')
    fs_usable = ctx.selector(f'{fs_state}=~"used|free"')
    per_fs = by("instance", device, mountpoint)
    records = (
        Record(busy, f"sum {by('instance')} ({ctx.series(CPU)}{not_idle})"),
        Record(memory, f"max {by('instance')} ({ctx.series(MEMORY)}{mem_used})"),
        # As df computes Use%: used / (used + available to users); reserved blocks left out.
        Record(
            disk,
            f"sum {per_fs} ({fs}{fs_used}) / sum {per_fs} ({fs}{fs_usable})",
        ),
    )
    alerts = (
        Alert(
            "HighCpuUsage",
            f"{busy} > {t.cpu:g}",
            t.cpu_for_s,
            "warning",
            "{{ $labels.instance }}: CPU {{ $value | humanizePercentage }} busy",
            f"The CPUs of {{{{ $labels.instance }}}} ({{{{ $labels.job }}}}) were "
            f"{{{{ $value | humanizePercentage }}}} busy (threshold {t.cpu:.0%}).",
            Runbook(
                "The host's CPUs are busy most of the time: requests queue for CPU.",
                (busy, "topk(5, max by (job, instance) (process_cpu_utilization_ratio))"),
                (
                    "more traffic than the replicas can serve: scale out",
                    "a hot loop or expensive request (profile the busiest worker)",
                    "another process on the same host",
                ),
            ),
        ),
        Alert(
            "HighMemoryUsage",
            f"{memory} > {t.memory:g}",
            t.memory_for_s,
            "warning",
            "{{ $labels.instance }}: memory {{ $value | humanizePercentage }} used",
            f"{{{{ $value | humanizePercentage }}}} of the memory of {{{{ $labels.instance }}}} "
            f"is used (threshold {t.memory:.0%}).",
            Runbook(
                "The host is short of memory: the OOM killer or swapping come next.",
                (memory, 'process_memory_usage_bytes{job="<service>"}'),
                (
                    "a memory leak: process memory growing steadily between restarts",
                    "more workers than the host's memory allows",
                    "caches without a bound",
                ),
            ),
        ),
        Alert(
            "HighDiskUsage",
            f"{disk} > {t.disk:g}",
            t.disk_for_s,
            "warning",
            "{{ $labels.instance }}: {{ $labels." + mountpoint + " }} "
            "{{ $value | humanizePercentage }} full",
            f"{{{{ $labels.{mountpoint} }}}} ({{{{ $labels.{device} }}}}) on "
            f"{{{{ $labels.instance }}}} is {{{{ $value | humanizePercentage }}}} full as df "
            f"counts it (threshold {t.disk:.0%}).",
            Runbook(
                "A filesystem is filling up; at 100 % writes fail (logs, uploads, the "
                "multiprocess metrics directory).",
                (disk, f'{fs}{{job="<service>"}}'),
                (
                    "logs not rotated",
                    "temporary or uploaded files never cleaned up",
                    "a database or queue on the same disk growing",
                ),
            ),
        ),
    )
    return [Group(f"{RULES_PREFIX}-system", (*records, *alerts))]


def process_groups(ctx: Context) -> list[Group]:
    t = ctx.thresholds
    busiest = "job_instance:process_cpu_utilization:max"
    cpu = ctx.series(PROCESS_CPU)
    # Modes of one process added up, then the busiest process of each target.
    spec = ctx.catalog.get(PROCESS_CPU)
    labels = spec.prometheus_labels() if spec is not None else ()
    inner = "sum without (" + ", ".join(labels) + ")" if labels else "sum"
    records = (Record(busiest, f"max {by('instance')} ({inner} ({cpu}{ctx.selector()}))"),)
    alerts = (
        Alert(
            "HighProcessCpuUsage",
            f"{busiest} > {t.cpu:g}",
            t.cpu_for_s,
            "warning",
            "{{ $labels.instance }}: a worker uses {{ $value | humanizePercentage }} CPU",
            f"The busiest process of {{{{ $labels.job }}}} on {{{{ $labels.instance }}}} used "
            f"{{{{ $value | humanizePercentage }}}} of the CPUs available to it "
            f"(threshold {t.cpu:.0%}).",
            Runbook(
                "One worker process is CPU-bound; with the GIL, its requests wait for it.",
                (busiest, f'{cpu}{{job="<service>"}}'),
                (
                    "an expensive request or a hot loop (profile that worker)",
                    "too few workers for CPU-heavy work",
                ),
            ),
        ),
    )
    return [Group(f"{RULES_PREFIX}-process", (*records, *alerts))]
