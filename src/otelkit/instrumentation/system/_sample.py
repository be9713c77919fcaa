"""What one collection reads and derives: a ``Sample`` of psutil and its ``Snapshot``.

A collection reads psutil once (a ``Sample``, taken by ``_reader``); the CPU utilizations are
derived from it and the previous samples (``_cpu``) into a ``Snapshot``, which every
instrument of that collection reports from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["Filesystem", "ProcessSample", "Sample", "Snapshot"]


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
    processes: Mapping[str, int] | None = None
    """Processes on the host by ``process.state`` (``""``: the total, states not read)."""
    per_cpu_seconds: Sequence[Mapping[str, float]] | None = None
    """Cumulative CPU seconds of each logical CPU by ``cpu.mode`` (detail only)."""
    network_packets: Mapping[str, tuple[int, int]] | None = None
    """Interface name → (packets transmitted, packets received) (detail only)."""
    network_errors: Mapping[str, tuple[int, int]] | None = None
    """Interface name → (transmit errors, receive errors) (detail only)."""


@dataclass(frozen=True)
class Snapshot:
    """A sample and what is derived from it and the previous ones."""

    sample: Sample
    system_cpu: Mapping[str, float]
    process_cpu: Mapping[str, float]
