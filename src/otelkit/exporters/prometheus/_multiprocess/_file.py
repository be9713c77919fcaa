"""One process's memory-mapped file: the format, and the cells it hands out."""

from __future__ import annotations

import contextlib
import fcntl
import json
import mmap
import os
import struct
import threading
import uuid
from typing import TYPE_CHECKING, Any, cast

from otelkit.metrics._fastpath import FastHistogram, FastSum

if TYPE_CHECKING:
    from collections.abc import MutableSequence
    from pathlib import Path

    from opentelemetry.util.types import Attributes

    from otelkit.metrics._fastpath import _Instrument


MAGIC = b"otelkit\x01"
HEADER = struct.Struct("=8sQ")
ENTRY = struct.Struct("=II")
_INITIAL_SIZE = 64 * 1024
SUFFIX = ".otelkit"
SNAPSHOT_SUFFIX = ".snapshot.json"


def padded(length: int) -> int:
    return (length + 7) & ~7


class ProcessFile:
    """This process's file: ``allocate()`` hands out zeroed cells that other processes can read."""

    def __init__(self, directory: Path, *, exponential: bool = False) -> None:
        self.directory = directory
        self.exponential = exponential
        """Histogram series get an exponential window after their explicit cells (kind ``e``)."""
        self.pid = os.getpid()
        self.path = directory / f"{self.pid}-{uuid.uuid4().hex[:12]}{SUFFIX}"
        self.snapshot_path = self.path.with_suffix(SNAPSHOT_SUFFIX)
        # Locked under a name readers ignore, then renamed: no reader may see it unlocked
        # (it would take it for the file of an ended process and compact it away).
        creating = self.path.with_suffix(".creating")
        fd = os.open(creating, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # "alive" until this process ends
            _reserve(fd, _INITIAL_SIZE)
            self._map = mmap.mmap(fd, _INITIAL_SIZE)
            HEADER.pack_into(self._map, 0, MAGIC, HEADER.size)
            os.rename(creating, self.path)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                creating.unlink()
            raise
        self._fd = fd
        # Cells handed out point into the mapping current at the time; a larger file gets a
        # new mapping and the old ones stay open (all map the same pages of the file).
        self._maps = [self._map]
        self._used = HEADER.size
        self._lock = threading.Lock()
        self.released = False
        self._snapshot_lock = threading.Lock()
        self._described: set[str] = set()

    def allocate(
        self, instrument: _Instrument, attributes: Attributes, size: int
    ) -> MutableSequence[float]:
        with self._lock:
            if instrument.name not in self._described:
                self._append(_description(instrument), 0)
                self._described.add(instrument.name)
            kind = _kind(instrument)
            if isinstance(instrument, FastHistogram) and size > len(instrument.boundaries) + 3:
                kind = "e"  # and an exponential window after the explicit cells
            key = [kind, instrument.name, sorted((attributes or {}).items())]
            return self._append(key, size)

    def _append(self, key: list[Any], size: int) -> MutableSequence[float]:
        encoded = json.dumps(key, separators=(",", ":"), default=str).encode()
        offset = self._used
        start = offset + ENTRY.size + padded(len(encoded))
        end = start + 8 * size
        if end > len(self._map):
            self._grow(end)
        ENTRY.pack_into(self._map, offset, len(encoded), size)
        self._map[offset + ENTRY.size : offset + ENTRY.size + len(encoded)] = encoded
        self._used = end
        HEADER.pack_into(self._map, 0, MAGIC, end)  # last: the entry is complete
        # A memoryview of doubles: indexable and assignable like the list it stands in for.
        return cast("MutableSequence[float]", memoryview(self._map)[start:end].cast("d"))

    def _grow(self, needed: int) -> None:
        size = len(self._map)
        while size < needed:
            size *= 2
        _reserve(self._fd, size)
        self._map = mmap.mmap(self._fd, size)
        self._maps.append(self._map)

    def contents(self) -> bytes | None:
        """The file as other processes read it (this process must not open and close its own
        file: closing any descriptor of it would drop the lock that says it is alive); None
        once released, when it is read like any ended process's file."""
        with self._lock:
            return None if self.released else bytes(self._map[: self._used])

    def write_snapshot(self, metrics: list[dict[str, Any]]) -> None:
        """Replace this process's snapshot of its SDK instruments (atomically)."""
        temporary = self.snapshot_path.with_name(self.snapshot_path.name + ".tmp")
        with self._snapshot_lock:
            temporary.write_text(json.dumps(metrics, separators=(",", ":")))
            os.replace(temporary, self.snapshot_path)

    def release(self) -> None:
        """This process is done with the file: unlocked, it counts as an ended process's."""
        with self._lock:
            if self.released:
                return
            self.released = True
        self._unmap()  # closing the descriptor drops the lock

    def close_inherited(self) -> None:
        """In a forked child: let go of the parent's file (the parent keeps writing it; its
        lock is the parent's, and this process's ``_lock`` may be held by a parent thread)."""
        self._unmap()

    def _unmap(self) -> None:
        for mapping in self._maps:
            with contextlib.suppress(BufferError):  # a cell still points into it: GC closes it
                mapping.close()
        with contextlib.suppress(OSError):
            os.close(self._fd)

    def remove_snapshot(self) -> None:
        with contextlib.suppress(OSError):
            self.snapshot_path.unlink()


def _reserve(fd: int, size: int) -> None:
    """Make the file ``size`` bytes with its blocks allocated: on a full file system this
    raises here, where a sparse file would kill the process with SIGBUS at its first write."""
    if hasattr(os, "posix_fallocate"):
        os.posix_fallocate(fd, 0, size)
    else:
        os.ftruncate(fd, size)


def _kind(instrument: _Instrument) -> str:
    if isinstance(instrument, FastHistogram):
        return "h"
    assert isinstance(instrument, FastSum)
    return "c" if instrument.monotonic else "u"


def _description(instrument: _Instrument) -> list[Any]:
    scope = instrument.scope
    bounds = list(instrument.boundaries) if isinstance(instrument, FastHistogram) else []
    return [
        "m",
        instrument.name,
        _kind(instrument),
        instrument.unit,
        instrument.description,
        scope.name,
        scope.version,
        scope.schema_url,
        bounds,
    ]
