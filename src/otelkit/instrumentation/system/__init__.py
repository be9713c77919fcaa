"""System and process metrics from psutil, read once per collection.

Every instrument is observable: nothing runs between collections, and psutil is imported by
``install()`` only. A collection reads psutil once (a ``Sample``) and every callback of that
collection reports from it: the first callback of a collection takes the sample, the others
reuse it. A callback knows a new collection has begun when the sample it would reuse has
already served it once, so this works whatever order the SDK calls callbacks in.

Names and attributes follow the OpenTelemetry semantic conventions (``METRICS`` lists them):

- ``system.cpu.utilization`` by ``cpu.mode`` (user, nice, system, idle, iowait, interrupt,
  steal: the modes the conventions list), summed over all logical CPUs, so the modes of one
  collection add up to 1. Per-CPU series (``cpu.logical_number``) are opt-in in the conventions
  and cost ncpu * modes series; they are left out. Linux ``irq`` + ``softirq`` are
  ``interrupt``; ``guest`` time is already inside ``user``/``nice`` and is not counted twice.
- ``process.cpu.utilization`` by ``cpu.mode`` (user, system; the conventions require the
  attribute), divided by the CPUs this process may run on (its affinity), so it is in [0, 1].
- Both utilizations are the change in CPU seconds since the previous collection, never a
  blocking ``interval=``. The first collection measures since the process started (process) or
  since boot (system), so it reports an average rather than nothing. A collection less than
  ``min_window`` (1 s) after the previous one measures from the older baseline, so back-to-back
  collections (two readers, a flush after an export) do not report a few clock ticks' noise.
- ``system.memory.usage``/``.utilization`` by ``system.memory.state`` with psutil's meaning of
  each state (Linux ``used`` is total - available, as in procps ``free``; the states overlap).
- ``system.filesystem.usage``/``.utilization`` by ``system.device``, ``system.filesystem.*``
  (mountpoint, type, mode, state: used, free, reserved; the three add up to the size). Only
  local, disk-backed filesystems: pseudo and memory filesystems (proc, tmpfs, cgroup, squashfs
  snaps, …), network filesystems (NFS, CIFS, FUSE: a hung server would block the collection)
  and overlay mounts other than a container's ``/`` are skipped; a device mounted twice is
  reported once.
- ``system.network.io`` by ``network.interface.name`` and ``network.io.direction``.
- ``system.cpu.load_average.1m``: not in the conventions; named and typed like the Collector's
  hostmetrics receiver (gauge, unit ``{thread}``), on platforms with ``os.getloadavg``.
- ``process.unix.file_descriptor.count`` (the conventions' name since
  ``process.open_file_descriptor.count`` was deprecated), on platforms with file descriptors.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.metrics import Observation
from opentelemetry.semconv._incubating.attributes.cpu_attributes import CPU_MODE, CpuModeValues
from opentelemetry.semconv._incubating.attributes.network_attributes import (
    NETWORK_INTERFACE_NAME,
    NETWORK_IO_DIRECTION,
    NetworkIoDirectionValues,
)
from opentelemetry.semconv._incubating.attributes.system_attributes import (
    SYSTEM_DEVICE,
    SYSTEM_FILESYSTEM_MODE,
    SYSTEM_FILESYSTEM_MOUNTPOINT,
    SYSTEM_FILESYSTEM_STATE,
    SYSTEM_FILESYSTEM_TYPE,
    SYSTEM_MEMORY_STATE,
    SystemFilesystemStateValues,
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
    SYSTEM_CPU_UTILIZATION,
    SYSTEM_FILESYSTEM_USAGE,
    SYSTEM_FILESYSTEM_UTILIZATION,
    SYSTEM_MEMORY_USAGE,
    SYSTEM_MEMORY_UTILIZATION,
    SYSTEM_NETWORK_IO,
)

from otelkit._errors import ConfigError, guarded
from otelkit._version import __version__

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from opentelemetry.metrics import CallbackOptions
    from opentelemetry.sdk.metrics import MeterProvider

__all__ = ["METRICS", "PsutilReader", "Sample", "SystemMetrics", "available", "install"]

logger = logging.getLogger("otelkit")

SCOPE: Final = "otelkit.system"
COMPONENT: Final = "system"
EXTRA_HINT: Final = "pip install 'otelkit[system]'"

# Not in the semantic conventions; the Collector's hostmetrics receiver uses this name.
SYSTEM_CPU_LOAD_AVERAGE_1M: Final = "system.cpu.load_average.1m"

MIN_WINDOW_S: Final = 1.0

_LINUX = sys.platform.startswith("linux")

# cpu.mode → the psutil cpu_times fields it sums (those a platform lacks are skipped).
_SYSTEM_CPU_MODES: Final = (
    (CpuModeValues.USER.value, ("user",)),
    (CpuModeValues.NICE.value, ("nice",)),
    (CpuModeValues.SYSTEM.value, ("system",)),
    (CpuModeValues.IDLE.value, ("idle",)),
    (CpuModeValues.IOWAIT.value, ("iowait",)),
    (CpuModeValues.INTERRUPT.value, ("irq", "softirq", "interrupt", "dpc")),
    (CpuModeValues.STEAL.value, ("steal",)),
)
_PROCESS_CPU_MODES: Final = (CpuModeValues.USER.value, CpuModeValues.SYSTEM.value)
_MEMORY_STATES: Final = tuple(
    s.value
    for s in (
        SystemMemoryStateValues.USED,
        SystemMemoryStateValues.FREE,
        SystemMemoryStateValues.BUFFERS,
        SystemMemoryStateValues.CACHED,
    )
)

# Filesystems that are not local disks. Network ones are skipped also because statvfs on a
# hung server blocks the collection.
_PSEUDO_FILESYSTEMS: Final = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devfs",
        "devpts", "devtmpfs", "efivarfs", "fdescfs", "fusectl", "hugetlbfs", "iso9660",
        "mqueue", "nsfs", "nullfs", "proc", "procfs", "pstore", "ramfs", "rpc_pipefs",
        "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs", "udf",
    }
)  # fmt: skip
_NETWORK_FILESYSTEMS: Final = frozenset(
    {
        "9p", "afs", "beegfs", "ceph", "cifs", "coda", "davfs", "fuse", "glusterfs", "gpfs",
        "lustre", "ncpfs", "nfs", "nfs4", "smb3", "smbfs", "sshfs", "webdav",
    }
)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The catalog


@dataclass(frozen=True)
class MetricSpec:
    """One instrument of this module, as the catalog lists it."""

    name: str
    instrument: str
    """``gauge``, ``counter`` or ``updowncounter`` (all observable)."""
    unit: str
    description: str
    attributes: tuple[str, ...] = ()


_FS_ATTRIBUTES = (
    SYSTEM_DEVICE,
    SYSTEM_FILESYSTEM_MOUNTPOINT,
    SYSTEM_FILESYSTEM_TYPE,
    SYSTEM_FILESYSTEM_MODE,
    SYSTEM_FILESYSTEM_STATE,
)

METRICS: Final = (
    MetricSpec(
        SYSTEM_CPU_UTILIZATION,
        "gauge",
        "1",
        "Share of the CPU time of all logical CPUs spent in each mode since the last collection.",
        (CPU_MODE,),
    ),
    MetricSpec(
        SYSTEM_MEMORY_USAGE, "updowncounter", "By", "Memory by state.", (SYSTEM_MEMORY_STATE,)
    ),
    MetricSpec(
        SYSTEM_MEMORY_UTILIZATION,
        "gauge",
        "1",
        "Memory by state as a fraction of the total.",
        (SYSTEM_MEMORY_STATE,),
    ),
    MetricSpec(
        SYSTEM_FILESYSTEM_USAGE,
        "updowncounter",
        "By",
        "Space of each local filesystem by state.",
        _FS_ATTRIBUTES,
    ),
    MetricSpec(
        SYSTEM_FILESYSTEM_UTILIZATION,
        "gauge",
        "1",
        "Space of each local filesystem by state as a fraction of its size.",
        _FS_ATTRIBUTES,
    ),
    MetricSpec(
        SYSTEM_NETWORK_IO,
        "counter",
        "By",
        "Bytes sent and received by each network interface.",
        (NETWORK_INTERFACE_NAME, NETWORK_IO_DIRECTION),
    ),
    MetricSpec(
        SYSTEM_CPU_LOAD_AVERAGE_1M,
        "gauge",
        "{thread}",
        "Load average over the last minute (runnable and uninterruptible threads).",
    ),
    MetricSpec(
        PROCESS_CPU_UTILIZATION,
        "gauge",
        "1",
        "CPU time of this process since the last collection, divided by the elapsed time and "
        "the CPUs available to it.",
        (CPU_MODE,),
    ),
    MetricSpec(
        PROCESS_MEMORY_USAGE, "updowncounter", "By", "Physical memory of this process (RSS)."
    ),
    MetricSpec(
        PROCESS_MEMORY_VIRTUAL, "updowncounter", "By", "Virtual memory of this process (VMS)."
    ),
    MetricSpec(PROCESS_THREAD_COUNT, "updowncounter", "{thread}", "Threads of this process."),
    MetricSpec(
        PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
        "updowncounter",
        "{file_descriptor}",
        "File descriptors open in this process.",
    ),
    MetricSpec(PROCESS_UPTIME, "gauge", "s", "Time since this process started."),
)


# ---------------------------------------------------------------------------------------------
# Reading psutil


@dataclass(frozen=True)
class Filesystem:
    attributes: Mapping[str, str]
    """``system.device``, ``system.filesystem.mountpoint``, ``.type`` and ``.mode``."""
    used: int
    free: int
    reserved: int
    total: int


@dataclass(frozen=True)
class ProcessSample:
    pid: int
    started: float
    """Wall-clock time the process started (``time.time()`` scale)."""
    cpu_seconds: Mapping[str, float]
    """Cumulative CPU seconds by ``cpu.mode``."""
    cpus: int
    """How many CPUs the process may run on."""
    rss: int
    vms: int
    threads: int
    fds: int | None


@dataclass(frozen=True)
class Sample:
    """One reading of psutil: everything one collection reports.

    A part is None when it could not be read; its instruments then report nothing this time.
    """

    monotonic: float
    wall: float
    cpu_seconds: Mapping[str, float] | None
    """Cumulative CPU seconds of all logical CPUs by ``cpu.mode``."""
    memory: Mapping[str, int] | None
    """Bytes by ``system.memory.state``."""
    memory_total: int
    filesystems: Sequence[Filesystem] | None
    network: Mapping[str, tuple[int, int]] | None
    """Interface name → (bytes transmitted, bytes received)."""
    load_1m: float | None
    process: ProcessSample | None


class PsutilReader:
    """Takes a ``Sample`` from psutil; each part is read by one psutil call.

    ``psutil`` is the psutil module, or anything with its functions (tests pass a stand-in
    that counts the calls). Parts fail independently: an error in one is counted and logged
    once (``otelkit._errors.guarded``) and the rest of the sample is still taken.
    """

    def __init__(self, psutil: Any) -> None:
        self._psutil = psutil
        self._pid = -1
        self._process: Any = None
        self._fds = hasattr(psutil.Process, "num_fds")
        self._load = hasattr(os, "getloadavg")
        self._cpu_fields: tuple[tuple[str, tuple[str, ...]], ...] | None = None
        self._cpu_count: int | None = None
        self._mounts: dict[tuple[str, str, str, str], Mapping[str, str] | None] = {}

    def read(self) -> Sample:
        memory = self._memory()
        return Sample(
            monotonic=time.monotonic(),
            wall=time.time(),
            cpu_seconds=self._cpu_seconds(),
            memory=memory[0] if memory else None,
            memory_total=memory[1] if memory else 0,
            filesystems=self._filesystems(),
            network=self._network(),
            load_1m=self._load_1m(),
            process=self._process_sample(),
        )

    @guarded(COMPONENT, None)
    def _cpu_seconds(self) -> dict[str, float] | None:
        times = self._psutil.cpu_times()
        if self._cpu_fields is None:  # decided once: which fields this platform has
            present = set(times._fields)
            self._cpu_fields = tuple(
                (mode, tuple(f for f in fields if f in present))
                for mode, fields in _SYSTEM_CPU_MODES
                if any(f in present for f in fields)
            )
        return {mode: sum(getattr(times, f) for f in fields) for mode, fields in self._cpu_fields}

    @guarded(COMPONENT, None)
    def _memory(self) -> tuple[dict[str, int], int] | None:
        memory = self._psutil.virtual_memory()
        states = {s: getattr(memory, s) for s in _MEMORY_STATES if hasattr(memory, s)}
        return states, memory.total

    @guarded(COMPONENT, None)
    def _filesystems(self) -> tuple[Filesystem, ...] | None:
        found = []
        seen = set()
        mounts = {}
        # On Linux, psutil's own "physical only" filter drops overlay, the root of a container.
        for part in self._psutil.disk_partitions(all=_LINUX):
            key = (part.device, part.mountpoint, part.fstype, part.opts)
            attributes = self._mounts[key] if key in self._mounts else _local(part)
            mounts[key] = attributes
            if attributes is None:
                continue
            # A device mounted twice (bind mounts) is one filesystem.
            same = part.device if part.device.startswith("/dev/") else part.mountpoint
            if same in seen:
                continue
            try:
                usage = self._psutil.disk_usage(part.mountpoint)
            except OSError:  # unmounted meanwhile, or not ours to read: not an otelkit error
                continue
            seen.add(same)
            reserved = max(usage.total - usage.used - usage.free, 0)
            found.append(Filesystem(attributes, usage.used, usage.free, reserved, usage.total))
        self._mounts = mounts  # forget mounts that are gone
        return tuple(found)

    @guarded(COMPONENT, None)
    def _network(self) -> dict[str, tuple[int, int]] | None:
        counters = self._psutil.net_io_counters(pernic=True)
        return {name: (c.bytes_sent, c.bytes_recv) for name, c in counters.items()}

    def _load_1m(self) -> float | None:
        if not self._load:
            return None
        try:
            return os.getloadavg()[0]
        except OSError:
            return None

    @guarded(COMPONENT, None)
    def _process_sample(self) -> ProcessSample | None:
        pid = os.getpid()
        if pid != self._pid:  # first use, or a forked child: measure the current process
            self._process = self._psutil.Process(pid)
            self._pid = pid
        process = self._process
        cpu = process.cpu_times()
        memory = process.memory_info()
        return ProcessSample(
            pid=pid,
            started=process.create_time(),
            cpu_seconds={
                CpuModeValues.USER.value: cpu.user,
                CpuModeValues.SYSTEM.value: cpu.system,
            },
            cpus=self._available_cpus(),
            rss=memory.rss,
            vms=memory.vms,
            threads=process.num_threads(),
            fds=process.num_fds() if self._fds else None,
        )

    def _available_cpus(self) -> int:
        if hasattr(os, "sched_getaffinity"):
            return max(len(os.sched_getaffinity(0)), 1)
        if self._cpu_count is None:
            self._cpu_count = self._psutil.cpu_count() or 1
        return self._cpu_count


def _local(part: Any) -> Mapping[str, str] | None:
    """The attributes of a local disk filesystem, or None for one that is not reported."""
    fstype = part.fstype.lower()
    options = set(part.opts.split(","))
    if (
        not fstype
        or fstype in _PSEUDO_FILESYSTEMS
        or fstype in _NETWORK_FILESYSTEMS
        or fstype.startswith("fuse.")
        or (fstype == "overlay" and part.mountpoint != "/")  # other containers' layers
        or options & {"remote", "cdrom"}  # Windows network and optical drives
    ):
        return None
    if _LINUX and not os.path.isdir(part.mountpoint):  # a file bind-mounted (/etc/hosts)
        return None
    return {
        SYSTEM_DEVICE: part.device,
        SYSTEM_FILESYSTEM_MOUNTPOINT: part.mountpoint,
        SYSTEM_FILESYSTEM_TYPE: part.fstype,
        SYSTEM_FILESYSTEM_MODE: "ro" if "ro" in options else "rw",
    }


# ---------------------------------------------------------------------------------------------
# From samples to observations


_UNSET: Final = object()


class _CpuWindow:
    """Per-mode CPU seconds spent since the start of the current measurement window.

    The first window starts at ``origin`` (process start, or boot when ``origin`` is -inf).
    A window shorter than ``min_window`` does not move the start, so the next collection
    measures from the same, older start.
    """

    def __init__(self, min_window: float) -> None:
        self._min_window = min_window
        self._key: object = _UNSET
        self._start = 0.0
        self._seconds: Mapping[str, float] = {}
        self._first = True

    def advance(
        self, key: object, origin: float, now: float, seconds: Mapping[str, float]
    ) -> tuple[dict[str, float], float]:
        """(CPU seconds by mode, elapsed seconds) since the window's start; ``key`` changes
        (another process after a fork) start a new first window."""
        if key != self._key:
            self._key, self._start, self._seconds, self._first = key, origin, {}, True
        elapsed = now - self._start
        spent = {m: max(s - self._seconds.get(m, 0.0), 0.0) for m, s in seconds.items()}
        if self._first or elapsed >= self._min_window:
            self._start, self._seconds, self._first = now, seconds, False
        return spent, elapsed


@dataclass(frozen=True)
class Snapshot:
    """A sample and what is derived from it and the previous ones."""

    sample: Sample
    system_cpu: Mapping[str, float]
    process_cpu: Mapping[str, float]


class SystemMetrics:
    """The observable instruments of ``METRICS`` on one meter provider.

    ``read`` takes one ``Sample``; it is called once per collection (the seam the tests use to
    count psutil reads). ``min_window`` is the shortest CPU measurement window in seconds.
    """

    def __init__(
        self,
        meter_provider: MeterProvider,
        read: Callable[[], Sample],
        *,
        min_window: float = MIN_WINDOW_S,
        load_average: bool = True,
        file_descriptors: bool = True,
    ) -> None:
        self._read = read
        self._lock = threading.Lock()
        self._snapshot: Snapshot | None = None
        self._taken = False
        self._served: set[int] = set()
        self._system_window = _CpuWindow(min_window)
        self._process_window = _CpuWindow(min_window)
        self._last_system_cpu: dict[str, float] = {}
        self._attributes = _StaticAttributes()

        observers: dict[str, Callable[[Snapshot], list[Observation]]] = {
            SYSTEM_CPU_UTILIZATION: self._system_cpu,
            SYSTEM_MEMORY_USAGE: self._memory_usage,
            SYSTEM_MEMORY_UTILIZATION: self._memory_utilization,
            SYSTEM_FILESYSTEM_USAGE: self._filesystem_usage,
            SYSTEM_FILESYSTEM_UTILIZATION: self._filesystem_utilization,
            SYSTEM_NETWORK_IO: self._network_io,
            SYSTEM_CPU_LOAD_AVERAGE_1M: _load_average,
            PROCESS_CPU_UTILIZATION: self._process_cpu,
            PROCESS_MEMORY_USAGE: _process_rss,
            PROCESS_MEMORY_VIRTUAL: _process_vms,
            PROCESS_THREAD_COUNT: _process_threads,
            PROCESS_UNIX_FILE_DESCRIPTOR_COUNT: _process_fds,
            PROCESS_UPTIME: _process_uptime,
        }
        if not load_average:
            del observers[SYSTEM_CPU_LOAD_AVERAGE_1M]
        if not file_descriptors:
            del observers[PROCESS_UNIX_FILE_DESCRIPTOR_COUNT]

        meter = meter_provider.get_meter(SCOPE, __version__)
        create = {
            "gauge": meter.create_observable_gauge,
            "counter": meter.create_observable_counter,
            "updowncounter": meter.create_observable_up_down_counter,
        }
        self.names: tuple[str, ...] = tuple(s.name for s in METRICS if s.name in observers)
        for index, spec in enumerate(s for s in METRICS if s.name in observers):
            create[spec.instrument](
                spec.name,
                callbacks=[self._callback(index, observers[spec.name])],
                unit=spec.unit,
                description=spec.description,
            )

    def _callback(
        self, index: int, observe: Callable[[Snapshot], list[Observation]]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        @guarded(COMPONENT, ())
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            snapshot = self._snapshot_for(index)
            return () if snapshot is None else observe(snapshot)

        return callback

    def _snapshot_for(self, index: int) -> Snapshot | None:
        """The snapshot of the current collection: a new one when ``index`` was served already."""
        with self._lock:
            if not self._taken or index in self._served:
                self._served = set()
                self._snapshot = self._take()  # None if it failed: this collection reports nothing
                self._taken = True
            self._served.add(index)
            return self._snapshot

    @guarded(COMPONENT, None)
    def _take(self) -> Snapshot | None:
        sample = self._read()
        system_cpu: dict[str, float] = {}
        if sample.cpu_seconds is not None:
            spent, _ = self._system_window.advance(
                None, float("-inf"), sample.monotonic, sample.cpu_seconds
            )
            total = sum(spent.values())
            if total > 0:
                system_cpu = {mode: seconds / total for mode, seconds in spent.items()}
                self._last_system_cpu = system_cpu
            else:  # not one clock tick since the window's start: nothing new to say
                system_cpu = self._last_system_cpu
        process_cpu: dict[str, float] = {}
        process = sample.process
        if process is not None:
            # The process start on the monotonic clock: the origin of the first window.
            origin = sample.monotonic - (sample.wall - process.started)
            spent, elapsed = self._process_window.advance(
                process.pid, origin, sample.monotonic, process.cpu_seconds
            )
            if elapsed > 0:
                capacity = elapsed * process.cpus
                process_cpu = {m: min(s / capacity, 1.0) for m, s in spent.items()}
        return Snapshot(sample, system_cpu, process_cpu)

    # One method per instrument: the observations of a snapshot.

    def _system_cpu(self, snapshot: Snapshot) -> list[Observation]:
        modes = self._attributes.cpu_mode
        return [Observation(v, modes[m]) for m, v in snapshot.system_cpu.items()]

    def _process_cpu(self, snapshot: Snapshot) -> list[Observation]:
        modes = self._attributes.cpu_mode
        return [Observation(v, modes[m]) for m, v in snapshot.process_cpu.items()]

    def _memory_usage(self, snapshot: Snapshot) -> list[Observation]:
        memory = snapshot.sample.memory or {}
        states = self._attributes.memory_state
        return [Observation(v, states[s]) for s, v in memory.items()]

    def _memory_utilization(self, snapshot: Snapshot) -> list[Observation]:
        memory, total = snapshot.sample.memory, snapshot.sample.memory_total
        if not memory or total <= 0:
            return []
        states = self._attributes.memory_state
        return [Observation(v / total, states[s]) for s, v in memory.items()]

    def _filesystem_usage(self, snapshot: Snapshot) -> list[Observation]:
        return [
            Observation(value, {**fs.attributes, SYSTEM_FILESYSTEM_STATE: state})
            for fs in snapshot.sample.filesystems or ()
            for state, value in _fs_states(fs)
        ]

    def _filesystem_utilization(self, snapshot: Snapshot) -> list[Observation]:
        return [
            Observation(value / fs.total, {**fs.attributes, SYSTEM_FILESYSTEM_STATE: state})
            for fs in snapshot.sample.filesystems or ()
            if fs.total > 0
            for state, value in _fs_states(fs)
        ]

    def _network_io(self, snapshot: Snapshot) -> list[Observation]:
        transmit, receive = self._attributes.directions
        observations = []
        for name, (sent, received) in (snapshot.sample.network or {}).items():
            observations.append(Observation(sent, {NETWORK_INTERFACE_NAME: name, **transmit}))
            observations.append(Observation(received, {NETWORK_INTERFACE_NAME: name, **receive}))
        return observations


class _StaticAttributes:
    """Attribute dicts built once, shared by every collection."""

    def __init__(self) -> None:
        modes = {m for m, _ in _SYSTEM_CPU_MODES} | set(_PROCESS_CPU_MODES)
        self.cpu_mode = {m: {CPU_MODE: m} for m in modes}
        self.memory_state = {s: {SYSTEM_MEMORY_STATE: s} for s in _MEMORY_STATES}
        self.directions = (
            {NETWORK_IO_DIRECTION: NetworkIoDirectionValues.TRANSMIT.value},
            {NETWORK_IO_DIRECTION: NetworkIoDirectionValues.RECEIVE.value},
        )


def _fs_states(fs: Filesystem) -> tuple[tuple[str, int], ...]:
    return (
        (SystemFilesystemStateValues.USED.value, fs.used),
        (SystemFilesystemStateValues.FREE.value, fs.free),
        (SystemFilesystemStateValues.RESERVED.value, fs.reserved),
    )


def _load_average(snapshot: Snapshot) -> list[Observation]:
    load = snapshot.sample.load_1m
    return [] if load is None else [Observation(load)]


def _process_rss(snapshot: Snapshot) -> list[Observation]:
    process = snapshot.sample.process
    return [] if process is None else [Observation(process.rss)]


def _process_vms(snapshot: Snapshot) -> list[Observation]:
    process = snapshot.sample.process
    return [] if process is None else [Observation(process.vms)]


def _process_threads(snapshot: Snapshot) -> list[Observation]:
    process = snapshot.sample.process
    return [] if process is None else [Observation(process.threads)]


def _process_fds(snapshot: Snapshot) -> list[Observation]:
    process = snapshot.sample.process
    return [] if process is None or process.fds is None else [Observation(process.fds)]


def _process_uptime(snapshot: Snapshot) -> list[Observation]:
    process = snapshot.sample.process
    return [] if process is None else [Observation(snapshot.sample.wall - process.started)]


# ---------------------------------------------------------------------------------------------
# Installation

_installed_lock = threading.Lock()
_installed: weakref.WeakSet[MeterProvider] = weakref.WeakSet()
_warned = False


def available(*, required: bool = False) -> bool:
    """Whether psutil can be imported.

    When it cannot: with ``required`` (the user asked for ``system`` by name) raise
    ``ConfigError`` naming the extra; otherwise log one warning per process and return False.
    """
    global _warned
    try:
        import psutil  # noqa: F401
    except ImportError:
        if required:
            raise ConfigError(
                "OTELKIT_INSTRUMENT (or instrument=) lists 'system', whose system and process "
                f"metrics need psutil, which is not installed: {EXTRA_HINT}."
            ) from None
        if not _warned:
            _warned = True
            logger.warning(
                "otelkit: system and process metrics are off because psutil is not installed "
                "(%s, or OTELKIT_SYSTEM_METRICS=off to silence this)",
                EXTRA_HINT,
            )
        return False
    return True


def install(meter_provider: MeterProvider, *, required: bool = False) -> SystemMetrics | None:
    """Register the observable system and process instruments on ``meter_provider``.

    Without psutil: ``ConfigError`` if ``required``, else one warning and nothing installed.
    A provider that already has them is left as it is (None is returned).
    """
    if not available(required=required):
        return None
    import psutil

    with _installed_lock:
        if meter_provider in _installed:
            logger.debug("otelkit: system metrics already installed on this meter provider")
            return None
        _installed.add(meter_provider)
    return SystemMetrics(
        meter_provider,
        PsutilReader(psutil).read,
        load_average=hasattr(os, "getloadavg"),
        file_descriptors=hasattr(psutil.Process, "num_fds"),
    )
