"""What this package reports: every instrument, under its semantic-convention name.

Names and attributes follow the OpenTelemetry semantic conventions (``METRICS`` lists them):

- ``system.cpu.utilization`` by ``cpu.mode`` (user, nice, system, idle, iowait, interrupt,
  steal: the modes the conventions list), summed over all logical CPUs, so the modes of one
  collection add up to 1. Linux ``irq`` + ``softirq`` are ``interrupt``; ``guest`` time is
  already inside ``user``/``nice`` and is not counted twice. Per-CPU figures are opt-in
  (``OTELKIT_SYSTEM_METRICS_DETAIL``) and come as ``system.cpu.time`` by ``cpu.mode`` and
  ``cpu.logical_number`` (a counter: ``rate()`` of it is each CPU's utilization, as with
  node_exporter's ``node_cpu_seconds_total``), never as more ``system.cpu.utilization``
  series: the rules, the in-process alerts and the status page add that metric's series up.
- ``system.process.count``: processes on the host; with the detail option by
  ``process.state`` (running, sleeping, stopped, defunct), which reads every process's state
  at each collection (0.11 ms a process here: 14 ms for 126), so it is opt-in; without it one
  series, the total (a directory listing, 0.08 ms).
- ``process.cpu.utilization`` by ``cpu.mode`` (user, system; the conventions require the
  attribute), divided by the CPUs this process may run on (its affinity), so it is in [0, 1].
- ``system.memory.usage``/``.utilization`` by ``system.memory.state`` with psutil's meaning of
  each state (Linux ``used`` is total - available, as in procps ``free``; the states overlap).
- ``system.filesystem.usage``/``.utilization`` by ``system.device``, ``system.filesystem.*``
  (mountpoint, type, mode, state: used, free, reserved; the three add up to the size), for the
  filesystems ``_filesystems`` selects.
- ``system.network.io`` by ``network.interface.name`` and ``network.io.direction``; with the
  detail option also ``system.network.packet.count`` (the conventions' name since
  ``system.network.packets`` was deprecated) and ``system.network.errors``, by the same
  attributes, from the same psutil call.
- ``system.cpu.load_average.1m``: not in the conventions; named and typed like the Collector's
  hostmetrics receiver (gauge, unit ``{thread}``), on platforms with ``os.getloadavg``.
- ``process.unix.file_descriptor.count`` (the conventions' name since
  ``process.open_file_descriptor.count`` was deprecated), on platforms with file descriptors.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.semconv._incubating.attributes.cpu_attributes import (
    CPU_LOGICAL_NUMBER,
    CPU_MODE,
    CpuModeValues,
)
from opentelemetry.semconv._incubating.attributes.network_attributes import (
    NETWORK_INTERFACE_NAME,
    NETWORK_IO_DIRECTION,
)
from opentelemetry.semconv._incubating.attributes.process_attributes import (
    PROCESS_STATE,
    ProcessStateValues,
)
from opentelemetry.semconv._incubating.attributes.system_attributes import (
    SYSTEM_DEVICE,
    SYSTEM_FILESYSTEM_MODE,
    SYSTEM_FILESYSTEM_MOUNTPOINT,
    SYSTEM_FILESYSTEM_STATE,
    SYSTEM_FILESYSTEM_TYPE,
    SYSTEM_MEMORY_STATE,
    SystemMemoryStateValues,
)
from opentelemetry.semconv._incubating.metrics.process_metrics import (
    PROCESS_CPU_UTILIZATION,
    PROCESS_MEMORY_USAGE,
    PROCESS_MEMORY_VIRTUAL,
    PROCESS_THREAD_COUNT,
    PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
    PROCESS_UPTIME,
)
from opentelemetry.semconv._incubating.metrics.system_metrics import (
    SYSTEM_CPU_TIME,
    SYSTEM_CPU_UTILIZATION,
    SYSTEM_FILESYSTEM_USAGE,
    SYSTEM_FILESYSTEM_UTILIZATION,
    SYSTEM_MEMORY_USAGE,
    SYSTEM_MEMORY_UTILIZATION,
    SYSTEM_NETWORK_ERRORS,
    SYSTEM_NETWORK_IO,
    SYSTEM_NETWORK_PACKET_COUNT,
    SYSTEM_PROCESS_COUNT,
)

from otelkit.metrics._spec import MetricSpec, development

__all__ = [
    "COMPONENT",
    "DETAIL",
    "EXTRA_HINT",
    "MEMORY_STATES",
    "METRICS",
    "MIN_WINDOW_S",
    "PROCESS_CPU_MODES",
    "PROCESS_STATES",
    "SCOPE",
    "SYSTEM_CPU_LOAD_AVERAGE_1M",
    "SYSTEM_CPU_MODES",
]


SCOPE: Final = "otelkit.system"
COMPONENT: Final = "system"
EXTRA_HINT: Final = "pip install 'otelkit[system]'"

# Not in the semantic conventions; the Collector's hostmetrics receiver uses this name.
SYSTEM_CPU_LOAD_AVERAGE_1M: Final = "system.cpu.load_average.1m"

MIN_WINDOW_S: Final = 1.0

DETAIL: Final = frozenset({SYSTEM_CPU_TIME, SYSTEM_NETWORK_PACKET_COUNT, SYSTEM_NETWORK_ERRORS})
"""The instruments only ``OTELKIT_SYSTEM_METRICS_DETAIL`` turns on."""


# cpu.mode → the psutil cpu_times fields it sums (those a platform lacks are skipped).
SYSTEM_CPU_MODES: Final = (
    (CpuModeValues.USER.value, ("user",)),
    (CpuModeValues.NICE.value, ("nice",)),
    (CpuModeValues.SYSTEM.value, ("system",)),
    (CpuModeValues.IDLE.value, ("idle",)),
    (CpuModeValues.IOWAIT.value, ("iowait",)),
    (CpuModeValues.INTERRUPT.value, ("irq", "softirq", "interrupt", "dpc")),
    (CpuModeValues.STEAL.value, ("steal",)),
)
PROCESS_CPU_MODES: Final = (CpuModeValues.USER.value, CpuModeValues.SYSTEM.value)
MEMORY_STATES: Final = tuple(
    s.value
    for s in (
        SystemMemoryStateValues.USED,
        SystemMemoryStateValues.FREE,
        SystemMemoryStateValues.BUFFERS,
        SystemMemoryStateValues.CACHED,
    )
)


# psutil's process status -> the conventions' process.state (statuses not listed: sleeping).
PROCESS_STATES: Final = {
    "running": ProcessStateValues.RUNNING.value,
    "waking": ProcessStateValues.RUNNING.value,
    "stopped": ProcessStateValues.STOPPED.value,
    "tracing-stop": ProcessStateValues.STOPPED.value,
    "suspended": ProcessStateValues.STOPPED.value,
    "zombie": ProcessStateValues.DEFUNCT.value,
    "dead": ProcessStateValues.DEFUNCT.value,
}

_FS_ATTRIBUTES = (
    development(SYSTEM_DEVICE),
    development(SYSTEM_FILESYSTEM_MOUNTPOINT),
    development(SYSTEM_FILESYSTEM_TYPE),
    development(SYSTEM_FILESYSTEM_MODE),
    development(SYSTEM_FILESYSTEM_STATE, "used", "free", "reserved"),
)
_SYSTEM_CPU_MODE = (development(CPU_MODE, *(mode for mode, _ in SYSTEM_CPU_MODES)),)
_MEMORY_STATE = (development(SYSTEM_MEMORY_STATE, *MEMORY_STATES),)
_NETWORK = (
    development(NETWORK_INTERFACE_NAME),
    development(NETWORK_IO_DIRECTION, "receive", "transmit"),
)

METRICS: Final = (
    MetricSpec(
        SYSTEM_CPU_UTILIZATION,
        "observable_gauge",
        "1",
        "Share of the CPU time of all logical CPUs spent in each mode since the last collection.",
        _SYSTEM_CPU_MODE,
        "system",
    ),
    MetricSpec(
        SYSTEM_MEMORY_USAGE,
        "observable_updowncounter",
        "By",
        "Memory by state.",
        _MEMORY_STATE,
        "system",
    ),
    MetricSpec(
        SYSTEM_MEMORY_UTILIZATION,
        "observable_gauge",
        "1",
        "Memory by state as a fraction of the total.",
        _MEMORY_STATE,
        "system",
    ),
    MetricSpec(
        SYSTEM_FILESYSTEM_USAGE,
        "observable_updowncounter",
        "By",
        "Space of each local filesystem by state.",
        _FS_ATTRIBUTES,
        "system",
    ),
    MetricSpec(
        SYSTEM_FILESYSTEM_UTILIZATION,
        "observable_gauge",
        "1",
        "Space of each local filesystem by state as a fraction of its size.",
        _FS_ATTRIBUTES,
        "system",
    ),
    MetricSpec(
        SYSTEM_NETWORK_IO,
        "observable_counter",
        "By",
        "Bytes sent and received by each network interface.",
        _NETWORK,
        "system",
    ),
    MetricSpec(
        SYSTEM_PROCESS_COUNT,
        "observable_updowncounter",
        "{process}",
        "Processes on the host; by state with OTELKIT_SYSTEM_METRICS_DETAIL.",
        (development(PROCESS_STATE, *(s.value for s in ProcessStateValues)),),
        "system",
    ),
    MetricSpec(
        SYSTEM_CPU_TIME,
        "observable_counter",
        "s",
        "CPU seconds of each logical CPU in each mode since boot (rate() of it is that CPU's "
        "utilization).",
        (
            development(CPU_MODE, *(mode for mode, _ in SYSTEM_CPU_MODES)),
            development(CPU_LOGICAL_NUMBER),
        ),
        "system",
        opt_in=True,
    ),
    MetricSpec(
        SYSTEM_NETWORK_PACKET_COUNT,
        "observable_counter",
        "{packet}",
        "Packets sent and received by each network interface.",
        _NETWORK,
        "system",
        opt_in=True,
    ),
    MetricSpec(
        SYSTEM_NETWORK_ERRORS,
        "observable_counter",
        "{error}",
        "Errors sending and receiving on each network interface.",
        _NETWORK,
        "system",
        opt_in=True,
    ),
    MetricSpec(
        SYSTEM_CPU_LOAD_AVERAGE_1M,
        "observable_gauge",
        "{thread}",
        "Load average over the last minute (runnable and uninterruptible threads).",
        (),
        "system",
    ),
    MetricSpec(
        PROCESS_CPU_UTILIZATION,
        "observable_gauge",
        "1",
        "CPU time of this process since the last collection, divided by the elapsed time and "
        "the CPUs available to it.",
        (development(CPU_MODE, *PROCESS_CPU_MODES),),
        "process",
    ),
    MetricSpec(
        PROCESS_MEMORY_USAGE,
        "observable_updowncounter",
        "By",
        "Physical memory of this process (RSS).",
        (),
        "process",
    ),
    MetricSpec(
        PROCESS_MEMORY_VIRTUAL,
        "observable_updowncounter",
        "By",
        "Virtual memory of this process (VMS).",
        (),
        "process",
    ),
    MetricSpec(
        PROCESS_THREAD_COUNT,
        "observable_updowncounter",
        "{thread}",
        "Threads of this process.",
        (),
        "process",
    ),
    MetricSpec(
        PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
        "observable_updowncounter",
        "{file_descriptor}",
        "File descriptors open in this process.",
        (),
        "process",
    ),
    MetricSpec(
        PROCESS_UPTIME, "observable_gauge", "s", "Time since this process started.", (), "process"
    ),
)
