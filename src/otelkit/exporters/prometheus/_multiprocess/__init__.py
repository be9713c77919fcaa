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
``h`` (histogram: count, sum, buckets), ``e`` (the same, then the window of its exponential
buckets: ``metrics/_fastpath/_shared_exponential``), ``c`` (counter) or ``u`` (up-down
counter). Entries
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

import threading
import time
from typing import TYPE_CHECKING

from otelkit._errors import record_internal_error
from otelkit.exporters.prometheus._multiprocess._directory import (
    automatic_directory,
    detect_supervisor,
    group_resource,
    prepare,
)
from otelkit.exporters.prometheus._multiprocess._exemplars import exemplar_entries, gather
from otelkit.exporters.prometheus._multiprocess._file import ProcessFile
from otelkit.exporters.prometheus._multiprocess._reading import COMPACT_AFTER, DirectoryReader
from otelkit.exporters.prometheus._multiprocess._scrape import (
    fast_metrics,
    merged,
    own_metrics,
    snapshot_metrics,
    snapshot_of,
)
from otelkit.metrics._fastpath import REGISTRY

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from opentelemetry.sdk.metrics.export import MetricsData
    from opentelemetry.sdk.resources import Resource

__all__ = [
    "COMPACT_AFTER",
    "DirectoryReader",
    "ProcessFile",
    "SharedMetrics",
    "automatic_directory",
    "detect_supervisor",
]

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
        exponential: bool = False,
    ) -> None:
        group = prepare(directory)
        self.exponential = exponential
        self.directory = directory
        self.resource = resource if keep_instance_id else group_resource(resource, group)
        self._collect = collect
        self._ready = ready
        self.file = ProcessFile(directory, exponential=exponential)
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
                exemplars = exemplar_entries(REGISTRY.instruments())
                self.file.write_snapshot([*snapshot_of(data), *exemplars])
            except Exception as exc:
                record_internal_error("multi-process snapshot", exc)
        return data

    def exposition(self, *, native: bool = True) -> MetricsData:
        """The whole server's metrics, as a scrape of this process returns them (with
        explicit buckets only unless ``native``: what the in-process alert rules read)."""
        now = time.time_ns()
        own = self.publish()
        with self._scrape_lock:
            totals = self._reader.totals(self.file)
            others = self._reader.snapshots(totals.live_pids, self.file.pid)
        # Exemplars: this process's fresh from memory, the others' from their snapshots.
        exemplars = gather(
            [
                *exemplar_entries(REGISTRY.instruments()),
                *(entry for _, entries in others for entry in entries),
            ]
        )
        return merged(
            self.resource,
            own_metrics(own, self.file.pid),
            fast_metrics(totals, now, exemplars, native=native),
            snapshot_metrics(others, now),
        )

    def after_fork_in_child(self) -> None:
        """A file of the child's own, a fresh reader and publishing thread."""
        inherited = self.file
        self.file = ProcessFile(self.directory, exponential=self.exponential)
        REGISTRY.use_store(self.file)
        inherited.close_inherited()
        self._reader = DirectoryReader(self.directory)
        self._scrape_lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = self._start_publishing()

    def stop_publishing(self) -> None:
        """The SDK side is shutting down: no more snapshots (scrapes still add up the files)."""
        self._stopping.set()
        if self._thread is not threading.current_thread() and self._thread.is_alive():
            self._thread.join(timeout=2)

    def close(self) -> None:
        """Stop publishing and let go of the file: this process's gauges and up-down counters
        end with it, its counters stay. After the listener closed; idempotent."""
        self.stop_publishing()
        if REGISTRY.store is self.file:
            REGISTRY.use_store(None)  # the cells leave the file, which can then be closed
        self.file.remove_snapshot()
        self.file.release()
