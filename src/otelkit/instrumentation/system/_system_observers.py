"""The ``system.*`` instruments: their observations of one ``Snapshot``.

One function per instrument; each reports nothing when its part of the sample could not be
read. Attribute dicts are built once, at import, and shared by every collection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry.metrics import Observation
from opentelemetry.semconv._incubating.attributes.cpu_attributes import CPU_LOGICAL_NUMBER, CPU_MODE
from opentelemetry.semconv._incubating.attributes.network_attributes import (
    NETWORK_INTERFACE_NAME,
    NETWORK_IO_DIRECTION,
    NetworkIoDirectionValues,
)
from opentelemetry.semconv._incubating.attributes.process_attributes import PROCESS_STATE
from opentelemetry.semconv._incubating.attributes.system_attributes import (
    SYSTEM_FILESYSTEM_STATE,
    SYSTEM_MEMORY_STATE,
    SystemFilesystemStateValues,
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

from otelkit.instrumentation.system._catalog import (
    MEMORY_STATES,
    SYSTEM_CPU_LOAD_AVERAGE_1M,
    SYSTEM_CPU_MODES,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from otelkit.instrumentation.system._sample import Filesystem, Snapshot

__all__ = ["OBSERVERS"]

_CPU_MODES = {m: {CPU_MODE: m} for m, _ in SYSTEM_CPU_MODES}
_MEMORY_STATES = {s: {SYSTEM_MEMORY_STATE: s} for s in MEMORY_STATES}
_TRANSMIT = {NETWORK_IO_DIRECTION: NetworkIoDirectionValues.TRANSMIT.value}
_RECEIVE = {NETWORK_IO_DIRECTION: NetworkIoDirectionValues.RECEIVE.value}


def _cpu_utilization(snapshot: Snapshot) -> list[Observation]:
    return [Observation(v, _CPU_MODES[m]) for m, v in snapshot.system_cpu.items()]


def _memory_usage(snapshot: Snapshot) -> list[Observation]:
    memory = snapshot.sample.memory or {}
    return [Observation(v, _MEMORY_STATES[s]) for s, v in memory.items()]


def _memory_utilization(snapshot: Snapshot) -> list[Observation]:
    memory, total = snapshot.sample.memory, snapshot.sample.memory_total
    if not memory or total <= 0:
        return []
    return [Observation(v / total, _MEMORY_STATES[s]) for s, v in memory.items()]


def _fs_states(fs: Filesystem) -> tuple[tuple[str, int], ...]:
    return (
        (SystemFilesystemStateValues.USED.value, fs.used),
        (SystemFilesystemStateValues.FREE.value, fs.free),
        (SystemFilesystemStateValues.RESERVED.value, fs.reserved),
    )


def _filesystem_usage(snapshot: Snapshot) -> list[Observation]:
    return [
        Observation(value, {**fs.attributes, SYSTEM_FILESYSTEM_STATE: state})
        for fs in snapshot.sample.filesystems or ()
        for state, value in _fs_states(fs)
    ]


def _filesystem_utilization(snapshot: Snapshot) -> list[Observation]:
    return [
        Observation(value / fs.total, {**fs.attributes, SYSTEM_FILESYSTEM_STATE: state})
        for fs in snapshot.sample.filesystems or ()
        if fs.total > 0
        for state, value in _fs_states(fs)
    ]


def _per_interface(counts: Mapping[str, tuple[int, int]] | None) -> list[Observation]:
    observations = []
    for name, (sent, received) in (counts or {}).items():
        observations.append(Observation(sent, {NETWORK_INTERFACE_NAME: name, **_TRANSMIT}))
        observations.append(Observation(received, {NETWORK_INTERFACE_NAME: name, **_RECEIVE}))
    return observations


def _network_io(snapshot: Snapshot) -> list[Observation]:
    return _per_interface(snapshot.sample.network)


def _network_packets(snapshot: Snapshot) -> list[Observation]:
    return _per_interface(snapshot.sample.network_packets)


def _network_errors(snapshot: Snapshot) -> list[Observation]:
    return _per_interface(snapshot.sample.network_errors)


def _process_count(snapshot: Snapshot) -> list[Observation]:
    return [
        Observation(count, {PROCESS_STATE: state} if state else None)
        for state, count in (snapshot.sample.processes or {}).items()
    ]


def _cpu_time(snapshot: Snapshot) -> list[Observation]:
    return [
        Observation(seconds, {CPU_MODE: mode, CPU_LOGICAL_NUMBER: number})
        for number, modes in enumerate(snapshot.sample.per_cpu_seconds or ())
        for mode, seconds in modes.items()
    ]


def _load_average(snapshot: Snapshot) -> list[Observation]:
    load = snapshot.sample.load_1m
    return [] if load is None else [Observation(load)]


OBSERVERS: Mapping[str, Callable[[Snapshot], list[Observation]]] = {
    SYSTEM_CPU_UTILIZATION: _cpu_utilization,
    SYSTEM_MEMORY_USAGE: _memory_usage,
    SYSTEM_MEMORY_UTILIZATION: _memory_utilization,
    SYSTEM_FILESYSTEM_USAGE: _filesystem_usage,
    SYSTEM_FILESYSTEM_UTILIZATION: _filesystem_utilization,
    SYSTEM_NETWORK_IO: _network_io,
    SYSTEM_CPU_LOAD_AVERAGE_1M: _load_average,
    SYSTEM_PROCESS_COUNT: _process_count,
    SYSTEM_CPU_TIME: _cpu_time,
    SYSTEM_NETWORK_PACKET_COUNT: _network_packets,
    SYSTEM_NETWORK_ERRORS: _network_errors,
}
"""Instrument name → the function that observes it."""
