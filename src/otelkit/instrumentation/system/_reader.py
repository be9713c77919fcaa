"""Reading psutil: one ``Sample`` per collection, one psutil call per part.

psutil is imported by ``install()`` only and handed in; nothing here runs between
collections.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from opentelemetry.semconv._incubating.attributes.cpu_attributes import CpuModeValues

from otelkit._errors import guarded
from otelkit.instrumentation.system._catalog import (
    COMPONENT,
    MEMORY_STATES,
    PROCESS_STATES,
    SYSTEM_CPU_MODES,
)
from otelkit.instrumentation.system._filesystems import LINUX, local
from otelkit.instrumentation.system._sample import Filesystem, ProcessSample, Sample

if TYPE_CHECKING:
    from collections.abc import Mapping


__all__ = ["PsutilReader"]

_PerInterface = dict[str, tuple[int, int]]


class PsutilReader:
    """Takes a ``Sample`` from psutil; each part is read by one psutil call.

    ``psutil`` is the psutil module, or anything with its functions (tests pass a stand-in
    that counts the calls). ``detail`` adds per-CPU times, processes by state and the network
    packets and errors (read from the call that reads the bytes). Parts fail independently:
    an error in one is counted and logged once (``otelkit._errors.guarded``) and the rest of
    the sample is still taken.
    """

    def __init__(self, psutil: Any, *, detail: bool = False) -> None:
        self._psutil = psutil
        self._detail = detail
        self._pid = -1
        self._process: Any = None
        self._fds = hasattr(psutil.Process, "num_fds")
        self._load = hasattr(os, "getloadavg")
        self._cpu_fields: tuple[tuple[str, tuple[str, ...]], ...] | None = None
        self._cpu_count: int | None = None
        self._mounts: dict[tuple[str, str, str, str], Mapping[str, str] | None] = {}

    def read(self) -> Sample:
        memory = self._memory()
        network = self._network()
        detail = self._detail
        return Sample(
            monotonic=time.monotonic(),
            wall=time.time(),
            cpu_seconds=self._cpu_seconds(),
            memory=memory[0] if memory else None,
            memory_total=memory[1] if memory else 0,
            filesystems=self._filesystems(),
            network=network[0] if network else None,
            load_1m=self._load_1m(),
            process=self._process_sample(),
            processes=self._processes(),
            per_cpu_seconds=self._per_cpu_seconds() if detail else None,
            network_packets=network[1] if network and detail else None,
            network_errors=network[2] if network and detail else None,
        )

    @guarded(COMPONENT, None)
    def _cpu_seconds(self) -> dict[str, float] | None:
        return self._by_mode(self._psutil.cpu_times())

    @guarded(COMPONENT, None)
    def _per_cpu_seconds(self) -> list[dict[str, float]] | None:
        return [self._by_mode(times) for times in self._psutil.cpu_times(percpu=True)]

    def _by_mode(self, times: Any) -> dict[str, float]:
        if self._cpu_fields is None:  # decided once: which fields this platform has
            present = set(times._fields)
            self._cpu_fields = tuple(
                (mode, tuple(f for f in fields if f in present))
                for mode, fields in SYSTEM_CPU_MODES
                if any(f in present for f in fields)
            )
        return {mode: sum(getattr(times, f) for f in fields) for mode, fields in self._cpu_fields}

    @guarded(COMPONENT, None)
    def _processes(self) -> dict[str, int] | None:
        if not self._detail:
            return {"": len(self._psutil.pids())}
        states: dict[str, int] = {}
        for process in self._psutil.process_iter(["status"]):
            status = process.info.get("status")
            if status is None:  # gone meanwhile, or not ours to read
                continue
            state = PROCESS_STATES.get(status, "sleeping")
            states[state] = states.get(state, 0) + 1
        return states

    @guarded(COMPONENT, None)
    def _memory(self) -> tuple[dict[str, int], int] | None:
        memory = self._psutil.virtual_memory()
        states = {s: getattr(memory, s) for s in MEMORY_STATES if hasattr(memory, s)}
        return states, memory.total

    @guarded(COMPONENT, None)
    def _filesystems(self) -> tuple[Filesystem, ...] | None:
        found = []
        seen = set()
        mounts = {}
        # On Linux, psutil's own "physical only" filter drops overlay, the root of a container.
        for part in self._psutil.disk_partitions(all=LINUX):
            key = (part.device, part.mountpoint, part.fstype, part.opts)
            attributes = self._mounts[key] if key in self._mounts else local(part)
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
    def _network(self) -> tuple[_PerInterface, _PerInterface, _PerInterface] | None:
        """Bytes, packets and errors (transmitted, received) per interface, from one call."""
        counters = self._psutil.net_io_counters(pernic=True)
        return (
            {name: (c.bytes_sent, c.bytes_recv) for name, c in counters.items()},
            {name: (c.packets_sent, c.packets_recv) for name, c in counters.items()},
            {name: (c.errout, c.errin) for name, c in counters.items()},
        )

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
