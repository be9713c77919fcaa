"""Reading the directory at a scrape: live and ended processes' files, archives, compaction."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import struct
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from otelkit._errors import record_internal_error
from otelkit.metrics._fastpath._shared_exponential import WINDOW, State, decoded, encoded, merged

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence
    from pathlib import Path


from otelkit.exporters.prometheus._multiprocess._file import (
    ENTRY,
    HEADER,
    MAGIC,
    SNAPSHOT_SUFFIX,
    SUFFIX,
    ProcessFile,
    padded,
)

# -- reading ---------------------------------------------------------------------------------


logger = logging.getLogger("otelkit")


@dataclass
class _FileCache:
    """What is known of one file: its entries up to ``parsed`` (keys never change)."""

    parsed: int = HEADER.size
    entries: list[tuple[int, int, list[Any]]] = field(default_factory=list)
    dead: bool = False
    dead_values: list[tuple[int, list[Any], tuple[float, ...]]] | None = None


def _locked(fd: int) -> bool:
    """True while the process that owns the file runs (it holds the lock)."""
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return True
        raise
    return False


def _alive(path: Path) -> bool:
    """True while the process that owns ``path`` runs."""
    return (_liveness_and_contents(path) or (False, b""))[0]


def _liveness_and_contents(path: Path) -> tuple[bool, bytes] | None:
    """Whether the owner of ``path`` runs, then its bytes, through one descriptor; None if it
    is gone. Liveness first: what is read after the owner ended is final."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as file:
        alive = _locked(fd)
        return alive, file.read()


SeriesKey = tuple[str, tuple[tuple[str, Any], ...]]


def _series_key(name: str, attributes: list[list[Any]]) -> SeriesKey:
    return name, tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in attributes)


@dataclass
class Totals:
    descriptions: dict[str, list[Any]] = field(default_factory=dict)
    values: dict[SeriesKey, list[float]] = field(default_factory=dict)
    exponential: dict[SeriesKey, list[State]] = field(default_factory=dict)
    """Each process's exponential buckets of a series, to be ``merged``."""
    live_pids: list[tuple[int, Path]] = field(default_factory=list)


class DirectoryReader:
    """Reads and adds up the directory's files; one per process, keeps what it learned."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[Path, _FileCache] = {}
        self._warned: set[str] = set()
        self._windows: dict[tuple[Path, int], State] = {}
        """The last exponential window read whole, by file and place: used when a read
        crosses a write (a series' buckets never go back between scrapes)."""

    def totals(self, own: ProcessFile) -> Totals:
        with _IO_LOCK:
            with _directory_lock(self.directory, exclusive=False):
                totals, dead, merged_away = self._read(own)
            if len(dead) >= COMPACT_AFTER:
                self._compact(dead, merged_away)
        return totals

    def _read(self, own: ProcessFile) -> tuple[Totals, list[Path], list[Path]]:
        """The totals; the ended processes' files counted in them; files to skip."""
        totals = Totals()
        paths = sorted(self.directory.glob(f"*{SUFFIX}"))
        for gone in self._files.keys() - set(paths):
            self._forget(gone)  # merged into an archive by some process
        # An archive names the files it holds: if its maker died before deleting them all,
        # they are still there and must not count twice.
        merged_away: set[str] = set()
        for path in paths:
            if path.name.startswith(ARCHIVE_PREFIX) and self._cached_dead(path):
                for _, key, _ in self._files[path].dead_values or ():
                    if key[0] == "s":
                        merged_away.update(key[1])
        # Own descriptions first: after a change of buckets, this process's definition wins.
        own_contents = own.contents()
        if own_contents is not None:
            self._add(totals, own.path, own_contents, live=True)
            totals.live_pids.append((own.pid, own.path))
        dead, skipped = [], []
        for path in paths:
            if path == own.path and own_contents is not None:
                continue
            if path.name in merged_away:
                skipped.append(path)
                continue
            cache = self._files.get(path)
            if cache is not None and cache.dead:
                self._add_dead(totals, path, cache)
                dead.append(path)
                continue
            found = _liveness_and_contents(path)
            if found is None:
                continue
            alive, data = found
            self._add(totals, path, data, live=alive)
            if alive:
                totals.live_pids.append((_pid_of(path), path))
            else:
                self._freeze(path, data)
                dead.append(path)
        return totals, dead, skipped

    def _cached_dead(self, path: Path) -> bool:
        """Read an archive (never locked, never changing) into the cache; False if gone."""
        cache = self._files.get(path)
        if cache is None or not cache.dead:
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                return False
            self._entries(path, data)
            self._freeze(path, data)
        return True

    def _entries(self, path: Path, data: bytes) -> list[tuple[int, int, list[Any]]] | None:
        cache = self._files.setdefault(path, _FileCache())
        if len(data) < HEADER.size:
            return cache.entries
        magic, used = HEADER.unpack_from(data, 0)
        if magic != MAGIC:
            self._warn(str(path), f"otelkit: {path} is not an otelkit metrics file; ignored")
            return None
        used = min(used, len(data))
        offset = cache.parsed
        while offset + ENTRY.size <= used:
            length, count = ENTRY.unpack_from(data, offset)
            start = offset + ENTRY.size + padded(length)
            end = start + 8 * count
            if end > used:
                break
            key = json.loads(data[offset + ENTRY.size : offset + ENTRY.size + length])
            cache.entries.append((start, count, key))
            offset = end
        cache.parsed = offset
        return cache.entries

    def _add(self, totals: Totals, path: Path, data: bytes, live: bool) -> None:
        entries = self._entries(path, data)
        for start, count, key in entries or ():
            if key[0] == "m":
                totals.descriptions.setdefault(key[1], key)
            elif key[0] != "s":
                values = struct.unpack_from(f"={count}d", data, start)
                self._add_series(totals, path, start, key, values, live)

    def _add_series(
        self,
        totals: Totals,
        path: Path,
        start: int,
        key: list[Any],
        values: Sequence[float],
        live: bool,
    ) -> None:
        if key[0] != "e":
            self._accumulate(totals, key, values, live)
            return
        explicit = len(values) - WINDOW  # a histogram with its exponential window after
        self._accumulate(totals, ["h", key[1], key[2]], values[:explicit], live)
        state = decoded(values[explicit:])
        if state is None:  # read across a write: what this window held last time
            state = self._windows.get((path, start))
        else:
            self._windows[path, start] = state
        if state is not None:
            totals.exponential.setdefault(_series_key(key[1], key[2]), []).append(state)

    def _forget(self, path: Path) -> None:
        self._files.pop(path, None)
        for place in [place for place in self._windows if place[0] == path]:
            del self._windows[place]

    def _freeze(self, path: Path, data: bytes) -> None:
        """A dead process's file never changes again: keep its values, stop reading it."""
        cache = self._files[path]
        cache.dead = True
        cache.dead_values = [
            (start, key, struct.unpack_from(f"={count}d", data, start) if count else ())
            for start, count, key in cache.entries
        ]
        with contextlib.suppress(OSError):
            path.with_suffix(SNAPSHOT_SUFFIX).unlink()  # its gauges ended with it

    def _add_dead(self, totals: Totals, path: Path, cache: _FileCache) -> None:
        for start, key, values in cache.dead_values or ():
            if key[0] == "m":
                totals.descriptions.setdefault(key[1], key)
            elif key[0] != "s":
                self._add_series(totals, path, start, key, values, live=False)

    def _compact(self, dead: list[Path], leftovers: list[Path]) -> None:
        """Merge the files of ended processes (and earlier archives) into one archive file.

        Under the directory's exclusive lock, so that a scrape in any process sees either the
        old files or the archive, never both or neither: a counter never jumps. The archive
        lists the files it replaces (``leftovers`` of an earlier, interrupted compaction too):
        if this process dies half way, readers skip those that remain.
        """
        merged = Totals()
        for path in dead:
            self._add_dead(merged, path, self._files[path])
        archive = self.directory / f"{ARCHIVE_PREFIX}{uuid.uuid4().hex[:12]}{SUFFIX}"
        staging = archive.with_suffix(".staging")
        replaced = [*dead, *leftovers]
        try:
            _write_archive(staging, merged, [path.name for path in replaced])
            with _directory_lock(self.directory, exclusive=True, wait=False):
                if not all(path.exists() for path in dead):
                    return  # another process compacted first: its archive has these
                os.rename(staging, archive)
                for path in replaced:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
        except BlockingIOError:
            pass  # another process is compacting or reading; next scrape
        except OSError as exc:
            record_internal_error("multi-process compaction", exc)  # a full disk: next time
        finally:
            with contextlib.suppress(FileNotFoundError):
                staging.unlink()
        for path in replaced:
            self._forget(path)

    def _accumulate(
        self, totals: Totals, key: list[Any], values: Sequence[float], live: bool
    ) -> None:
        kind, name, attributes = key
        if kind == "u" and not live:
            return  # in-flight work of an ended process is over
        series = _series_key(name, attributes)
        total = totals.values.get(series)
        if total is None:
            totals.values[series] = list(values)
        elif len(total) == len(values):
            for index, value in enumerate(values):
                total[index] += value
        else:
            self._warn(
                name,
                f"otelkit: the processes sharing {self.directory} define {name!r} with "
                "different buckets; the series of the older definition are left out. Use "
                "a fresh directory per deployment.",
            )

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)

    def snapshots(self, live: Iterable[tuple[int, Path]], own_pid: int) -> list[tuple[int, Any]]:
        """The SDK snapshots of the other live processes, with their pids."""
        found = []
        for pid, path in live:
            if pid == own_pid:
                continue
            try:
                found.append((pid, json.loads(path.with_suffix(SNAPSHOT_SUFFIX).read_text())))
            except FileNotFoundError:
                continue  # not written yet
            except ValueError as exc:
                record_internal_error("multi-process snapshot", exc)
        return found


COMPACT_AFTER = 8
"""Files of ended processes a scrape tolerates before merging them into one archive."""
ARCHIVE_PREFIX = "archive-"

_IO_LOCK = threading.Lock()
"""Held while this process has the directory lock file open. A fork waits for it: a child
that inherited the open lock file would hold the directory's lock for its whole life."""


def _reinit_io_lock() -> None:
    global _IO_LOCK
    _IO_LOCK = threading.Lock()


os.register_at_fork(
    before=lambda: _IO_LOCK.acquire(),
    after_in_parent=lambda: _IO_LOCK.release(),
    after_in_child=_reinit_io_lock,
)


@contextlib.contextmanager
def _directory_lock(directory: Path, *, exclusive: bool, wait: bool = True) -> Iterator[None]:
    """Scrapes read under a shared lock; compaction swaps files under the exclusive one."""
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


def _write_archive(path: Path, totals: Totals, replaces: list[str]) -> None:
    """A file in the process-file format holding the counters and histograms of ``totals``,
    and the names of the files it ``replaces`` (key ``["s", names]``)."""
    parts = [b""]
    size = HEADER.size

    def entry(key: list[Any], values: Sequence[float]) -> None:
        nonlocal size
        encoded = json.dumps(key, separators=(",", ":"), default=str).encode()
        parts.append(ENTRY.pack(len(encoded), len(values)))
        parts.append(encoded.ljust(padded(len(encoded)), b"\0"))
        parts.append(struct.pack(f"={len(values)}d", *values))
        size += ENTRY.size + padded(len(encoded)) + 8 * len(values)

    entry(["s", replaces], ())
    for description in totals.descriptions.values():
        entry(description, ())
    for (name, attributes), values in totals.values.items():
        kind = totals.descriptions.get(name, [None, None, None])[2]
        states = totals.exponential.get((name, attributes))
        if kind == "h" and states:
            kind, values = "e", [*values, *encoded(merged(states))]
        if kind in ("c", "h", "e"):  # up-down counters of ended processes count for nothing
            entry([kind, name, [list(pair) for pair in attributes]], values)
    parts[0] = HEADER.pack(MAGIC, size)
    path.write_bytes(b"".join(parts))


def _pid_of(path: Path) -> int:
    head = path.name.split("-", 1)[0]
    return int(head) if head.isdigit() else 0
