"""The ``process.*`` instruments: their observations of one ``Snapshot``.

They describe the current process (``os.getpid()`` at the time of the sample, so a forked child
reports itself). One function per instrument; each reports nothing when the process part of
the sample could not be read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.metrics import Observation
from opentelemetry.semconv._incubating.attributes.cpu_attributes import CPU_MODE
from opentelemetry.semconv._incubating.metrics.process_metrics import (
    PROCESS_CPU_UTILIZATION,
    PROCESS_MEMORY_USAGE,
    PROCESS_MEMORY_VIRTUAL,
    PROCESS_THREAD_COUNT,
    PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
    PROCESS_UPTIME,
)

from otelkit.instrumentation.system._catalog import PROCESS_CPU_MODES

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from otelkit.instrumentation.system._sample import Snapshot

__all__ = ["OBSERVERS"]

_CPU_MODES = {m: {CPU_MODE: m} for m in PROCESS_CPU_MODES}


def _cpu_utilization(snapshot: Snapshot) -> list[Observation]:
    return [Observation(v, _CPU_MODES[m]) for m, v in snapshot.process_cpu.items()]


def _rss(snapshot: Snapshot) -> list[Observation]:
    process = snapshot.sample.process
    return [] if process is None else [Observation(process.rss)]


def _vms(snapshot: Snapshot) -> list[Observation]:
    process = snapshot.sample.process
    return [] if process is None else [Observation(process.vms)]


def _threads(snapshot: Snapshot) -> list[Observation]:
    process = snapshot.sample.process
    return [] if process is None else [Observation(process.threads)]


def _fds(snapshot: Snapshot) -> list[Observation]:
    process = snapshot.sample.process
    return [] if process is None or process.fds is None else [Observation(process.fds)]


def _uptime(snapshot: Snapshot) -> list[Observation]:
    process = snapshot.sample.process
    return [] if process is None else [Observation(snapshot.sample.wall - process.started)]


OBSERVERS: Mapping[str, Callable[[Snapshot], list[Observation]]] = {
    PROCESS_CPU_UTILIZATION: _cpu_utilization,
    PROCESS_MEMORY_USAGE: _rss,
    PROCESS_MEMORY_VIRTUAL: _vms,
    PROCESS_THREAD_COUNT: _threads,
    PROCESS_UNIX_FILE_DESCRIPTOR_COUNT: _fds,
    PROCESS_UPTIME: _uptime,
}
"""Instrument name → the function that observes it."""
