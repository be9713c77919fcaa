"""System and process metrics from psutil, read once per collection.

Every instrument is observable: nothing runs between collections, and psutil is imported by
``install()`` only. One module, one job:

- ``_catalog``: every instrument under its semantic-convention name, unit and attributes;
- ``_sample``: what one collection reads (``Sample``) and derives (``Snapshot``);
- ``_reader``: ``PsutilReader``, which takes a ``Sample`` from psutil;
- ``_filesystems``: which filesystems are reported (local, disk-backed, each device once);
- ``_cpu``: CPU utilization as the change in CPU seconds between collections;
- ``_system_observers``, ``_process_observers``: what each instrument reports from a snapshot;
- ``_collector``: ``SystemMetrics``, the instruments on one meter provider, one sample per
  collection;
- ``_install``: ``install()`` and ``available()``: psutil or a clear message, once per provider.
"""

from otelkit.instrumentation.system._catalog import METRICS
from otelkit.instrumentation.system._collector import SystemMetrics
from otelkit.instrumentation.system._install import available, install
from otelkit.instrumentation.system._reader import PsutilReader
from otelkit.instrumentation.system._sample import Sample

__all__ = ["METRICS", "PsutilReader", "Sample", "SystemMetrics", "available", "install"]
