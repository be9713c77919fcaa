"""System and process row: host CPU, memory, disk and network; the service's processes.

Host metrics are reported once per instance (a scrape reports the receiving process's reading);
process metrics once per live process, so they are summed per instance, never shown per pid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.semconv._incubating.attributes.cpu_attributes import CPU_MODE
from opentelemetry.semconv._incubating.attributes.network_attributes import NETWORK_IO_DIRECTION
from opentelemetry.semconv._incubating.attributes.system_attributes import (
    SYSTEM_FILESYSTEM_MOUNTPOINT,
    SYSTEM_FILESYSTEM_STATE,
    SYSTEM_MEMORY_STATE,
)

from otelkit.ops.dashboard._model import Panel, Row, Target
from otelkit.ops.dashboard._promql import INSTANCE_LABEL, by, label, selector, sum_rate

if TYPE_CHECKING:
    from otelkit.ops.dashboard._names import Names

INSTANCE = (INSTANCE_LABEL,)
INSTANCE_LEGEND = f"{{{{{INSTANCE_LABEL}}}}}"
MOUNT, FS_STATE = label(SYSTEM_FILESYSTEM_MOUNTPOINT), label(SYSTEM_FILESYSTEM_STATE)
DIRECTION = label(NETWORK_IO_DIRECTION)

# (OpenTelemetry name, panel title, Grafana unit), each summed per instance
PROCESS = (
    ("process.cpu.utilization", "Process CPU (all workers)", "percentunit"),
    ("process.memory.usage", "Process resident memory (all workers)", "bytes"),
    ("process.thread.count", "Process threads", "short"),
    ("process.unix.file_descriptor.count", "Open file descriptors", "short"),
)


def rows(names: Names) -> tuple[Row, ...]:
    panels = [*_system(names), *_process(names)]
    return (Row("System and process", tuple(panels)),) if panels else ()


def _system(names: Names) -> list[Panel]:
    panels: list[Panel] = []
    if "system.cpu.utilization" in names:
        busy = selector(names.series("system.cpu.utilization"), f'{label(CPU_MODE)}!="idle"')
        panels.append(_per_instance("Host CPU busy", by(INSTANCE, busy), "percentunit", 1))
    if "system.memory.utilization" in names:
        used = selector(
            names.series("system.memory.utilization"), f'{label(SYSTEM_MEMORY_STATE)}="used"'
        )
        panels.append(_per_instance("Host memory used", by(INSTANCE, used), "percentunit", 1))
    if "system.filesystem.usage" in names:
        usage = names.series("system.filesystem.usage")
        keys = (INSTANCE_LABEL, MOUNT)
        used = by(keys, selector(usage, f'{FS_STATE}="used"'))
        usable = by(keys, selector(usage, f'{FS_STATE}=~"used|free"'))
        panels.append(
            Panel(
                "Disk used (as df shows it)",
                "timeseries",
                (Target(f"{used} / {usable}", f"{INSTANCE_LEGEND} {{{{{MOUNT}}}}}"),),
                unit="percentunit",
                description="used / (used + free): the blocks reserved for root are left out.",
                max_value=1,
            )
        )
    if "system.network.io" in names:
        io = sum_rate(selector(names.series("system.network.io")), (INSTANCE_LABEL, DIRECTION))
        panels.append(
            Panel(
                "Network I/O",
                "timeseries",
                (Target(io, f"{INSTANCE_LEGEND} {{{{{DIRECTION}}}}}"),),
                unit="Bps",
            )
        )
    if "system.cpu.load_average.1m" in names:
        load = by(INSTANCE, selector(names.series("system.cpu.load_average.1m")), "max")
        panels.append(_per_instance("Load average (1 m)", load, "short"))
    return panels


def _process(names: Names) -> list[Panel]:
    panels: list[Panel] = []
    for name, title, unit in PROCESS:
        if name in names:
            panels.append(_per_instance(title, by(INSTANCE, selector(names.series(name))), unit))
    if "process.uptime" in names:
        youngest = by(INSTANCE, selector(names.series("process.uptime")), "min")
        panels.append(
            _per_instance(
                "Youngest process uptime",
                youngest,
                "s",
                description="Drops to zero when a worker restarts.",
            )
        )
    return panels


def _per_instance(
    title: str, expr: str, unit: str, max_value: float | None = None, description: str = ""
) -> Panel:
    return Panel(
        title,
        "timeseries",
        (Target(expr, INSTANCE_LEGEND),),
        unit=unit,
        max_value=max_value,
        description=description,
    )
