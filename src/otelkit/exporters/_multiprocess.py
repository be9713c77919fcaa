"""Prometheus under pre-fork servers: one memory-mapped file per process, summed at scrape time.

Every process of a server (gunicorn's workers and master, uvicorn's workers, Celery's pool)
keeps the values of otelkit's fast instruments in its own file in one directory, written in
place on every measurement. Whichever process receives a scrape reads all the files and adds
them up, so one scrape returns the exact total over all workers, including those that have
exited or been recycled (their files stay). docs/architecture.md records why this design.

File layout (native byte order, every number 8-byte aligned)::

    header   magic (8 bytes) | bytes in use (u64)
    entry    key length (u32) | number of values (u32) | key (JSON, padded to 8) | values (f64)

An entry's key is ``["m", name, kind, unit, description, scope, version, schema, bounds]`` for
an instrument's description (no values) or ``[kind, name, attributes]`` for one series, kind
``h`` (histogram: count, sum, buckets), ``c`` (counter) or ``u`` (up-down counter). Entries
are only appended; the header's length is written last, so a reader never sees half an entry.

A process holds a POSIX record lock on its own file while it lives; the kernel drops it when
the process ends, however it ends. Readers test the lock to tell live files from dead ones:
up-down counters and gauges count only for live processes, counters and histograms for all.

Instruments of the OpenTelemetry SDK (observable gauges and counters: process and system
metrics, health, the user's own instruments) cannot live in a shared file; each process writes
a snapshot of them next to its file every few seconds, and a scrape reports them
per live process with a ``process.pid`` attribute. ``system.*`` metrics describe the host, not
the process: a scrape reports the receiving process's own reading, once.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import mmap
import os
import struct
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv._incubating.attributes.process_attributes import PROCESS_PID
from opentelemetry.semconv.attributes.service_attributes import SERVICE_INSTANCE_ID

from otelkit._errors import record_internal_error
from otelkit._fastpath import REGISTRY, FastHistogram, FastSum

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, MutableSequence, Sequence

    from opentelemetry.util.types import Attributes

    from otelkit._fastpath import _Instrument

logger = logging.getLogger("otelkit")

MAGIC = b"otelkit\x01"
_HEADER = struct.Struct("=8sQ")
_ENTRY = struct.Struct("=II")
_INITIAL_SIZE = 64 * 1024
SUFFIX = ".otelkit"
SNAPSHOT_SUFFIX = ".snapshot.json"
GROUP_FILE = "group.id"


def _padded(length: int) -> int:
    return (length + 7) & ~7


class ProcessFile:
    """This process's file: ``allocate()`` hands out zeroed cells that other processes can read."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
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
            _HEADER.pack_into(self._map, 0, MAGIC, _HEADER.size)
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
        self._used = _HEADER.size
        self._lock = threading.Lock()
        self._snapshot_lock = threading.Lock()
        self._described: set[str] = set()

    def allocate(
        self, instrument: _Instrument, attributes: Attributes, size: int
    ) -> MutableSequence[float]:
        with self._lock:
            if instrument.name not in self._described:
                self._append(_description(instrument), 0)
                self._described.add(instrument.name)
            key = [_kind(instrument), instrument.name, sorted((attributes or {}).items())]
            return self._append(key, size)

    def _append(self, key: list[Any], size: int) -> MutableSequence[float]:
        encoded = json.dumps(key, separators=(",", ":"), default=str).encode()
        offset = self._used
        start = offset + _ENTRY.size + _padded(len(encoded))
        end = start + 8 * size
        if end > len(self._map):
            self._grow(end)
        _ENTRY.pack_into(self._map, offset, len(encoded), size)
        self._map[offset + _ENTRY.size : offset + _ENTRY.size + len(encoded)] = encoded
        self._used = end
        _HEADER.pack_into(self._map, 0, MAGIC, end)  # last: the entry is complete
        # A memoryview of doubles: indexable and assignable like the list it stands in for.
        return cast("MutableSequence[float]", memoryview(self._map)[start:end].cast("d"))

    def _grow(self, needed: int) -> None:
        size = len(self._map)
        while size < needed:
            size *= 2
        _reserve(self._fd, size)
        self._map = mmap.mmap(self._fd, size)
        self._maps.append(self._map)

    def contents(self) -> bytes:
        """The file as other processes read it (this process must not open and close its own
        file: closing any descriptor of it would drop the lock that says it is alive)."""
        with self._lock:
            return bytes(self._map[: self._used])

    def write_snapshot(self, metrics: list[dict[str, Any]]) -> None:
        """Replace this process's snapshot of its SDK instruments (atomically)."""
        temporary = self.snapshot_path.with_name(self.snapshot_path.name + ".tmp")
        with self._snapshot_lock:
            temporary.write_text(json.dumps(metrics, separators=(",", ":")))
            os.replace(temporary, self.snapshot_path)

    def release(self) -> None:
        """This process is done with the file: unlocked, it counts as an ended process's."""
        for mapping in self._maps:
            with contextlib.suppress(BufferError):  # a cell still points into it: GC closes it
                mapping.close()
        with contextlib.suppress(OSError):
            os.close(self._fd)  # drops the lock

    def close_inherited(self) -> None:
        """In a forked child: let go of the parent's file (the parent keeps writing it)."""
        for mapping in self._maps:
            with contextlib.suppress(BufferError):  # a view still points into it: leave it
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


# -- the directory ---------------------------------------------------------------------------


def prepare(directory: Path) -> str:
    """Create ``directory`` if needed (mode 0700) and return the group id all processes share.

    Raises OSError when it cannot be created or written.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    group = directory / GROUP_FILE
    with contextlib.suppress(FileNotFoundError):
        return group.read_text().strip()
    candidate = directory / f"{GROUP_FILE}.{os.getpid()}.tmp"
    candidate.write_text(str(uuid.uuid4()))
    try:
        os.link(candidate, group)  # the first process to get here names the group
    except FileExistsError:
        pass
    finally:
        candidate.unlink()
    return group.read_text().strip()


def _start_ticks(pid: int) -> str:
    """When ``pid`` started (Linux clock ticks since boot): tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "0"
    return stat.rsplit(")", 1)[1].split()[19]


def automatic_directory(supervisor: int) -> Path:
    """The directory of the server whose processes descend from ``supervisor``.

    Under the temporary directory, one per user; directories of servers that have ended are
    removed when a new one is made.
    """
    base = Path(tempfile.gettempdir()) / f"otelkit-{os.getuid()}"
    base.mkdir(mode=0o700, exist_ok=True)
    info = base.lstat()
    if info.st_uid != os.getuid() or not base.is_dir() or base.is_symlink():
        raise OSError(errno.EPERM, f"{base} belongs to another user or is not a directory")
    name = f"{supervisor}-{_start_ticks(supervisor)}"
    directory = base / name
    if not directory.exists():
        _remove_ended(base, keep=name)
    return directory


def _remove_ended(base: Path, keep: str) -> None:
    for entry in base.iterdir():
        pid_text, _, ticks = entry.name.partition("-")
        if entry.name == keep or not pid_text.isdigit():
            continue
        if _running(int(pid_text), ticks):
            continue
        with contextlib.suppress(OSError):
            for child in entry.iterdir():
                child.unlink()
            entry.rmdir()


def _running(pid: int, ticks: str) -> bool:
    """Whether the server that made a directory still runs (without /proc: its pid exists)."""
    if ticks != "0":
        return _start_ticks(pid) == ticks
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def detect_supervisor() -> int | None:
    """The pid of the pre-fork server this process is a worker of, if it is one.

    gunicorn (any worker class), ``uvicorn --workers`` and Celery's prefork pool. A process
    that configured otelkit and then forks needs no detection: see ``otelkit._fork``.
    """
    if os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn/") and _in_gunicorn_worker():
        return os.getppid()
    if "uvicorn" in sys.modules and "multiprocessing" in sys.modules:
        import multiprocessing

        parent = multiprocessing.parent_process()
        if parent is not None and parent.pid is not None:
            return parent.pid
    if "billiard" in sys.modules:
        from billiard import process  # type: ignore[import-untyped]

        if process.current_process().name != "MainProcess":
            return os.getppid()
    return None


def _in_gunicorn_worker() -> bool:
    """gunicorn's master and workers share SERVER_SOFTWARE; only a worker runs worker code."""
    marker = f"{os.sep}gunicorn{os.sep}workers{os.sep}"
    frame: Any = sys._getframe(1)
    while frame is not None:
        if marker in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def group_resource(resource: Resource, group: str) -> Resource:
    """The resource of the whole server: the group's instance id, no single process's pid."""
    attributes = dict(resource.attributes)
    attributes.pop(PROCESS_PID, None)
    attributes[SERVICE_INSTANCE_ID] = group
    return Resource(attributes, resource.schema_url)


# -- reading ---------------------------------------------------------------------------------


@dataclass
class _FileCache:
    """What is known of one file: its entries up to ``parsed`` (keys never change)."""

    parsed: int = _HEADER.size
    entries: list[tuple[int, int, list[Any]]] = field(default_factory=list)
    dead: bool = False
    dead_values: list[tuple[list[Any], tuple[float, ...]]] | None = None


def _alive(path: Path) -> bool:
    """True while the process that owns ``path`` runs (it holds the lock)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EAGAIN):
            return True
        raise
    finally:
        os.close(fd)
    return False


@dataclass
class _Totals:
    descriptions: dict[str, list[Any]] = field(default_factory=dict)
    values: dict[tuple[str, tuple[tuple[str, Any], ...]], list[float]] = field(default_factory=dict)
    live_pids: list[tuple[int, Path]] = field(default_factory=list)


class DirectoryReader:
    """Reads and adds up the directory's files; one per process, keeps what it learned."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[Path, _FileCache] = {}
        self._warned: set[str] = set()

    def totals(self, own: ProcessFile) -> _Totals:
        with _IO_LOCK:
            with _directory_lock(self.directory, exclusive=False):
                totals, dead, merged_away = self._read(own)
            if len(dead) >= COMPACT_AFTER:
                self._compact(dead, merged_away)
        return totals

    def _read(self, own: ProcessFile) -> tuple[_Totals, list[Path], list[Path]]:
        """The totals; the ended processes' files counted in them; files to skip."""
        totals = _Totals()
        paths = sorted(self.directory.glob(f"*{SUFFIX}"))
        for gone in self._files.keys() - set(paths):
            del self._files[gone]  # merged into an archive by some process
        # An archive names the files it holds: if its maker died before deleting them all,
        # they are still there and must not count twice.
        merged_away: set[str] = set()
        for path in paths:
            if path.name.startswith(ARCHIVE_PREFIX) and self._cached_dead(path):
                for key, _ in self._files[path].dead_values or ():
                    if key[0] == "s":
                        merged_away.update(key[1])
        # Own descriptions first: after a change of buckets, this process's definition wins.
        self._add(totals, own.path, own.contents(), live=True)
        totals.live_pids.append((own.pid, own.path))
        dead, skipped = [], []
        for path in paths:
            if path == own.path:
                continue
            if path.name in merged_away:
                skipped.append(path)
                continue
            cache = self._files.get(path)
            if cache is not None and cache.dead:
                self._add_dead(totals, path, cache)
                dead.append(path)
                continue
            alive = _alive(path)
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
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
        if len(data) < _HEADER.size:
            return cache.entries
        magic, used = _HEADER.unpack_from(data, 0)
        if magic != MAGIC:
            self._warn(str(path), f"otelkit: {path} is not an otelkit metrics file; ignored")
            return None
        used = min(used, len(data))
        offset = cache.parsed
        while offset + _ENTRY.size <= used:
            length, count = _ENTRY.unpack_from(data, offset)
            start = offset + _ENTRY.size + _padded(length)
            end = start + 8 * count
            if end > used:
                break
            key = json.loads(data[offset + _ENTRY.size : offset + _ENTRY.size + length])
            cache.entries.append((start, count, key))
            offset = end
        cache.parsed = offset
        return cache.entries

    def _add(self, totals: _Totals, path: Path, data: bytes, live: bool) -> None:
        entries = self._entries(path, data)
        for start, count, key in entries or ():
            if key[0] == "m":
                totals.descriptions.setdefault(key[1], key)
            elif key[0] != "s":
                self._accumulate(totals, key, struct.unpack_from(f"={count}d", data, start), live)

    def _freeze(self, path: Path, data: bytes) -> None:
        """A dead process's file never changes again: keep its values, stop reading it."""
        cache = self._files[path]
        cache.dead = True
        cache.dead_values = [
            (key, struct.unpack_from(f"={count}d", data, start) if count else ())
            for start, count, key in cache.entries
        ]
        with contextlib.suppress(OSError):
            path.with_suffix(SNAPSHOT_SUFFIX).unlink()  # its gauges ended with it

    def _add_dead(self, totals: _Totals, path: Path, cache: _FileCache) -> None:
        for key, values in cache.dead_values or ():
            if key[0] == "m":
                totals.descriptions.setdefault(key[1], key)
            elif key[0] != "s":
                self._accumulate(totals, key, values, live=False)

    def _compact(self, dead: list[Path], leftovers: list[Path]) -> None:
        """Merge the files of ended processes (and earlier archives) into one archive file.

        Under the directory's exclusive lock, so that a scrape in any process sees either the
        old files or the archive, never both or neither: a counter never jumps. The archive
        lists the files it replaces (``leftovers`` of an earlier, interrupted compaction too):
        if this process dies half way, readers skip those that remain.
        """
        merged = _Totals()
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
            self._files.pop(path, None)

    def _accumulate(
        self, totals: _Totals, key: list[Any], values: Sequence[float], live: bool
    ) -> None:
        kind, name, attributes = key
        if kind == "u" and not live:
            return  # in-flight work of an ended process is over
        series = (name, tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in attributes))
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


def _write_archive(path: Path, totals: _Totals, replaces: list[str]) -> None:
    """A file in the process-file format holding the counters and histograms of ``totals``,
    and the names of the files it ``replaces`` (key ``["s", names]``)."""
    parts = [b""]
    size = _HEADER.size

    def entry(key: list[Any], values: Sequence[float]) -> None:
        nonlocal size
        encoded = json.dumps(key, separators=(",", ":"), default=str).encode()
        parts.append(_ENTRY.pack(len(encoded), len(values)))
        parts.append(encoded.ljust(_padded(len(encoded)), b"\0"))
        parts.append(struct.pack(f"={len(values)}d", *values))
        size += _ENTRY.size + _padded(len(encoded)) + 8 * len(values)

    entry(["s", replaces], ())
    for description in totals.descriptions.values():
        entry(description, ())
    for (name, attributes), values in totals.values.items():
        kind = totals.descriptions.get(name, [None, None, None])[2]
        if kind in ("c", "h"):  # up-down counters of ended processes count for nothing
            entry([kind, name, [list(pair) for pair in attributes]], values)
    parts[0] = _HEADER.pack(MAGIC, size)
    path.write_bytes(b"".join(parts))


def _pid_of(path: Path) -> int:
    head = path.name.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


# -- building the scrape ----------------------------------------------------------------------


def fast_metrics(totals: _Totals, now: int) -> dict[InstrumentationScope, list[Metric]]:
    """The summed fast instruments as OpenTelemetry metrics, by scope."""
    by_name: dict[str, list[tuple[Attributes, list[float]]]] = {}
    for (name, attributes), values in totals.values.items():
        by_name.setdefault(name, []).append((dict(attributes), values))
    scopes: dict[InstrumentationScope, list[Metric]] = {}
    for name, series in by_name.items():
        description = totals.descriptions.get(name)
        if description is None:
            continue
        _, _, kind, unit, text, scope_name, scope_version, schema, bounds = description
        scope = InstrumentationScope(scope_name, scope_version, schema)
        data: Histogram | Sum
        if kind == "h":
            width = len(bounds) + 3
            data = Histogram(
                data_points=[
                    HistogramDataPoint(
                        attributes=attributes,
                        start_time_unix_nano=0,
                        time_unix_nano=now,
                        count=int(values[0]),
                        sum=values[1],
                        bucket_counts=[int(c) for c in values[2:]],
                        explicit_bounds=list(bounds),
                        min=0.0,
                        max=0.0,
                        exemplars=[],
                    )
                    for attributes, values in series
                    if len(values) == width
                ],
                aggregation_temporality=AggregationTemporality.CUMULATIVE,
            )
        else:
            data = Sum(
                data_points=[
                    NumberDataPoint(
                        attributes=attributes,
                        start_time_unix_nano=0,
                        time_unix_nano=now,
                        value=_number(values[0]),
                        exemplars=[],
                    )
                    for attributes, values in series
                ],
                aggregation_temporality=AggregationTemporality.CUMULATIVE,
                is_monotonic=kind == "c",
            )
        scopes.setdefault(scope, []).append(Metric(name, text, unit, data))
    return scopes


def _number(value: float) -> float:
    return int(value) if value.is_integer() else value


def is_host_metric(name: str) -> bool:
    """``system.*`` describes the machine: any process's reading is the reading."""
    return name.startswith("system.")


def snapshot_of(data: MetricsData | None) -> list[dict[str, Any]]:
    """A process's SDK metrics (less the host's) in the snapshot's JSON form."""
    out: list[dict[str, Any]] = []
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope
            for metric in scope_metrics.metrics:
                if is_host_metric(metric.name):
                    continue
                entry = _metric_json(metric)
                if entry is not None:
                    entry["scope"] = [scope.name, scope.version, scope.schema_url]
                    out.append(entry)
    return out


def _metric_json(metric: Metric) -> dict[str, Any] | None:
    data = metric.data
    points: list[list[Any]]
    if isinstance(data, Histogram):
        kind = "histogram"
        points = [
            [
                sorted((p.attributes or {}).items()),
                p.count,
                p.sum,
                list(p.explicit_bounds),
                list(p.bucket_counts),
            ]
            for p in data.data_points
        ]
    elif isinstance(data, (Sum, Gauge)):
        kind = "sum" if isinstance(data, Sum) else "gauge"
        points = [[sorted((p.attributes or {}).items()), p.value] for p in data.data_points]
    else:
        return None
    return {
        "name": metric.name,
        "description": metric.description,
        "unit": metric.unit,
        "kind": kind,
        "monotonic": isinstance(data, Sum) and data.is_monotonic,
        "points": points,
    }


def snapshot_metrics(
    snapshots: Iterable[tuple[int, list[dict[str, Any]]]], now: int
) -> dict[InstrumentationScope, list[Metric]]:
    """Other processes' snapshots as metrics, each point marked with its ``process.pid``."""
    scopes: dict[InstrumentationScope, list[Metric]] = {}
    for pid, metrics in snapshots:
        for entry in metrics:
            scope = InstrumentationScope(*entry["scope"])
            points = entry["points"]
            data: Histogram | Sum | Gauge
            if entry["kind"] == "histogram":
                data = Histogram(
                    data_points=[
                        HistogramDataPoint(
                            attributes=_with_pid(attributes, pid),
                            start_time_unix_nano=0,
                            time_unix_nano=now,
                            count=count,
                            sum=total,
                            bucket_counts=buckets,
                            explicit_bounds=bounds,
                            min=0.0,
                            max=0.0,
                            exemplars=[],
                        )
                        for attributes, count, total, bounds, buckets in points
                    ],
                    aggregation_temporality=AggregationTemporality.CUMULATIVE,
                )
            else:
                numbers = [
                    NumberDataPoint(
                        attributes=_with_pid(attributes, pid),
                        start_time_unix_nano=0,
                        time_unix_nano=now,
                        value=value,
                        exemplars=[],
                    )
                    for attributes, value in points
                ]
                data = (
                    Sum(numbers, AggregationTemporality.CUMULATIVE, entry["monotonic"])
                    if entry["kind"] == "sum"
                    else Gauge(numbers)
                )
            metric = Metric(entry["name"], entry["description"], entry["unit"], data)
            scopes.setdefault(scope, []).append(metric)
    return scopes


def _with_pid(attributes: Iterable[tuple[str, Any]], pid: int) -> dict[str, Any]:
    marked = {k: tuple(v) if isinstance(v, list) else v for k, v in attributes}
    marked[PROCESS_PID] = pid
    return marked


def own_metrics(data: MetricsData | None, pid: int) -> dict[InstrumentationScope, list[Metric]]:
    """This process's fresh SDK metrics: host metrics as they are, the rest with its pid."""
    scopes: dict[InstrumentationScope, list[Metric]] = {}
    for resource_metrics in data.resource_metrics if data else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if not is_host_metric(metric.name):
                    metric = _mark(metric, pid)
                scopes.setdefault(scope_metrics.scope, []).append(metric)
    return scopes


def _mark(metric: Metric, pid: int) -> Metric:
    data: Any = metric.data
    points = [_point_with(point, pid) for point in data.data_points]
    if isinstance(data, Histogram):
        new: Any = Histogram(points, data.aggregation_temporality)
    elif isinstance(data, Sum):
        new = Sum(points, data.aggregation_temporality, data.is_monotonic)
    else:
        new = Gauge(points)
    return Metric(metric.name, metric.description, metric.unit, new)


def _point_with(point: Any, pid: int) -> Any:
    attributes = _with_pid((point.attributes or {}).items(), pid)
    if isinstance(point, HistogramDataPoint):
        return HistogramDataPoint(
            attributes,
            point.start_time_unix_nano,
            point.time_unix_nano,
            point.count,
            point.sum,
            point.bucket_counts,
            point.explicit_bounds,
            point.min,
            point.max,
            point.exemplars,
        )
    return NumberDataPoint(
        attributes, point.start_time_unix_nano, point.time_unix_nano, point.value, point.exemplars
    )


def merged(resource: Resource, *parts: dict[InstrumentationScope, list[Metric]]) -> MetricsData:
    """One MetricsData of all parts; metrics of one name and scope become one metric."""
    scopes: dict[InstrumentationScope, dict[str, Metric]] = {}
    for part in parts:
        for scope, metrics in part.items():
            by_name = scopes.setdefault(scope, {})
            for metric in metrics:
                existing = by_name.get(metric.name)
                by_name[metric.name] = metric if existing is None else _combine(existing, metric)
    return MetricsData(
        resource_metrics=[
            ResourceMetrics(
                resource=resource,
                scope_metrics=[
                    ScopeMetrics(scope, list(metrics.values()), scope.schema_url or "")
                    for scope, metrics in scopes.items()
                ],
                schema_url=resource.schema_url,
            )
        ]
    )


def _combine(first: Metric, second: Metric) -> Metric:
    a: Any = first.data
    b: Any = second.data
    if type(a) is not type(b):
        return first
    points = [*a.data_points, *b.data_points]
    if isinstance(a, Histogram):
        data: Any = Histogram(points, a.aggregation_temporality)
    elif isinstance(a, Sum):
        data = Sum(points, a.aggregation_temporality, a.is_monotonic)
    else:
        data = Gauge(points)
    return Metric(first.name, first.description, first.unit, data)


# -- one process's part ------------------------------------------------------------------------

PUBLISH_INTERVAL_S = 5.0
"""How often a process refreshes the snapshot of its SDK instruments for the others."""


class SharedMetrics:
    """This process's membership in a directory: its file, its snapshots, the summed scrape.

    ``collect`` returns this process's SDK metrics (without the fast instruments, which are in
    the files); it is called by the publishing thread, once ``ready()``, and on each scrape.
    """

    def __init__(
        self,
        directory: Path,
        resource: Resource,
        collect: Callable[[], MetricsData | None],
        *,
        ready: Callable[[], bool] = lambda: True,
        keep_instance_id: bool = False,
    ) -> None:
        group = prepare(directory)
        self.directory = directory
        self.resource = resource if keep_instance_id else group_resource(resource, group)
        self._collect = collect
        self._ready = ready
        self.file = ProcessFile(directory)
        self._reader = DirectoryReader(directory)
        self._scrape_lock = threading.Lock()
        self._publish_lock = threading.Lock()
        REGISTRY.use_store(self.file)
        self._stopping = threading.Event()
        self._thread = self._start_publishing()

    def _start_publishing(self) -> threading.Thread:
        thread = threading.Thread(target=self._publish_loop, name="otelkit-publish", daemon=True)
        thread.start()
        return thread

    def _publish_loop(self) -> None:
        # At once (when the reader is registered with its provider, a moment after this
        # starts): a new worker's gauges show from the next scrape on.
        while not self._ready() and not self._stopping.wait(0.05):
            pass
        self.publish()
        while not self._stopping.wait(PUBLISH_INTERVAL_S):
            self.publish()

    def publish(self) -> MetricsData | None:
        """Collect this process's SDK metrics and write them where the other processes read
        them; return them. One at a time: an older collection never overwrites a newer one
        (a counter of this process would go backwards in another's scrape)."""
        with self._publish_lock:
            data = self._collect()
            try:
                self.file.write_snapshot(snapshot_of(data))
            except Exception as exc:
                record_internal_error("multi-process snapshot", exc)
        return data

    def exposition(self) -> MetricsData:
        """The whole server's metrics, as a scrape of this process returns them."""
        now = time.time_ns()
        own = self.publish()
        with self._scrape_lock:
            totals = self._reader.totals(self.file)
            others = self._reader.snapshots(totals.live_pids, self.file.pid)
        return merged(
            self.resource,
            own_metrics(own, self.file.pid),
            fast_metrics(totals, now),
            snapshot_metrics(others, now),
        )

    def after_fork_in_child(self) -> None:
        """A file of the child's own, a fresh reader and publishing thread."""
        inherited = self.file
        self.file = ProcessFile(self.directory)
        REGISTRY.use_store(self.file)
        inherited.close_inherited()
        self._reader = DirectoryReader(self.directory)
        self._scrape_lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = self._start_publishing()

    def close(self) -> None:
        """Stop publishing and let go of the file: this process's gauges and up-down counters
        end with it, its counters stay. Idempotent."""
        self._stopping.set()
        if self._thread is not threading.current_thread() and self._thread.is_alive():
            self._thread.join(timeout=2)
        if REGISTRY.store is self.file:
            REGISTRY.use_store(None)  # the cells leave the file, which can then be closed
        self.file.remove_snapshot()
        self.file.release()
