"""All fast instruments of the process, by name, and the readers they feed."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from otelkit import _sdk_compat
from otelkit.metrics._fastpath._instruments import FastHistogram, FastSum, _Instrument
from otelkit.metrics._fastpath._readers import ReaderState, collect_scopes, follow_readers, merge

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader, MetricsData
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    from otelkit._sdk_compat import CollectFn
    from otelkit.metrics._fastpath._instruments import Store

logger = logging.getLogger("otelkit")


def fast_path_usable() -> bool:
    """Whether the SDK seams the fast path needs passed their probe (``_sdk_compat``)."""
    return _sdk_compat.usable(_sdk_compat.COLLECT_CALLBACK) and _sdk_compat.usable(
        _sdk_compat.READER_TEMPORALITY
    )


class Registry:
    """All fast instruments of the process, by name, and the readers they feed.

    ``attach()`` picks the mode for a configuration: the fast path (each reader's collection
    gets the series appended) or, when the SDK seams are gone, forwarding every measurement to
    SDK instruments of the configuration's provider (``_fallback``).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._instruments: dict[str, _Instrument] = {}
        self._readers: dict[int, ReaderState] = {}
        """The readers fed through the collection hook (none when forwarding)."""
        self._provider_readers: dict[int, MetricReader] = {}
        """Every reader of the attached provider, hooked or not: those it was built with and
        those added since through ``add_metric_reader()`` (``readers()``)."""
        self._resource: Resource | None = None
        self._store: Store | None = None
        self._provider: MeterProvider | None = None
        self.forwarding = False
        """True when the instruments record through SDK instruments (no reader seam)."""
        self.sdk_metrics_dropped = False
        """Set in a forked child whose SDK aggregates could not be cleared: collections carry
        only the fast instruments, never the parent's SDK totals again."""
        self.collecting = threading.RLock()
        """Held around every collection of every reader; a fork waits for it (``_fork``), so
        that no lock of the collection path is taken in the parent at the moment of the fork."""

    def histogram(
        self,
        name: str,
        *,
        unit: str,
        description: str,
        scope: InstrumentationScope,
        boundaries: tuple[float, ...],
        transient: bool = False,
    ) -> FastHistogram:
        """The histogram of this name, created on first request (same name → same object).

        A ``transient`` instrument belongs to one configuration (the HTTP metrics, whose buckets
        come from the settings) and is forgotten at ``detach()``; the others (the user's
        business metrics, declared at import) live as long as the process.
        """
        with self._lock:
            existing = self._instruments.get(name)
            if isinstance(existing, FastHistogram) and existing.boundaries == tuple(
                float(b) for b in boundaries
            ):
                return existing
            if existing is not None:
                raise ValueError(f"instrument {name!r} already exists with another definition")
            instrument = FastHistogram(name, unit, description, scope, boundaries)
            self._adopt(instrument, transient)
            for state in self._readers.values():
                if state.is_delta(instrument):
                    state.slots[id(instrument)] = instrument.add_slot()
            return instrument

    def sum(
        self,
        name: str,
        *,
        unit: str,
        description: str,
        scope: InstrumentationScope,
        monotonic: bool,
        transient: bool = False,
    ) -> FastSum:
        with self._lock:
            existing = self._instruments.get(name)
            if isinstance(existing, FastSum) and existing.monotonic == monotonic:
                return existing
            if existing is not None:
                raise ValueError(f"instrument {name!r} already exists with another definition")
            instrument = FastSum(name, unit, description, scope, monotonic)
            self._adopt(instrument, transient)
            return instrument

    def _adopt(self, instrument: _Instrument, transient: bool) -> None:
        """Register a new instrument in the current mode (call with ``_lock`` held)."""
        instrument.transient = transient
        instrument.store = self._store
        if self.forwarding and self._provider is not None:
            instrument.forward_to(self._provider)
        self._instruments[instrument.name] = instrument

    @property
    def store(self) -> Store | None:
        return self._store

    def use_store(self, store: Store | None) -> None:
        """Keep every series' values in ``store`` from now on, carrying over what they hold."""
        with self._lock:
            self._store = store
            instruments = list(self._instruments.values())
        for instrument in instruments:
            instrument.use_store(store)

    def set_resource(self, resource: Resource) -> None:
        self._resource = resource

    def reset_after_fork(self, store: Store | None) -> None:
        """In a forked child: start every series from zero (in ``store``) and forget deltas.

        Runs in the child's only thread, before anything else records: locks another thread
        of the parent held at the fork are replaced, not waited for.
        """
        self._lock = threading.Lock()
        self._store = store
        for instrument in self._instruments.values():
            instrument.reset_after_fork(store)
        now = time.time_ns()
        for state in self._readers.values():
            state.previous.clear()
            state.last_ns = now

    def has(self, name: str) -> bool:
        with self._lock:
            return name in self._instruments

    def attach(
        self,
        readers: list[MetricReader],
        resource: Resource,
        provider: MeterProvider | None = None,
    ) -> None:
        """Feed these readers of ``provider`` (and any it is given later) from now on.

        Without the SDK seams (and with a provider to forward to), the instruments record
        through SDK instruments instead; measurements taken before are carried over for sums.
        """
        forwarding = provider is not None and not fast_path_usable()
        with self._lock:
            self._resource = resource
            self._provider = provider
            self._provider_readers = {id(reader): reader for reader in readers}
            self.forwarding = forwarding
            self.sdk_metrics_dropped = False
            instruments = list(self._instruments.values())
        if forwarding:
            assert provider is not None
            dropped = sum(instrument.forward_to(provider) for instrument in instruments)
            if dropped:
                logger.warning(
                    "otelkit: %d histogram measurements taken before init_telemetry() are not "
                    "exported (the fast path is unavailable, see the warning above)",
                    dropped,
                )
        else:
            for reader in readers:
                self.attach_reader(reader)
        if provider is not None:
            follow_readers(provider, self._reader_added, self._reader_removed)

    def readers(self) -> list[MetricReader]:
        """Every reader of the attached provider, including those added (and less those
        removed) since ``attach()``: what a forked child resets or stops (``_fork``)."""
        with self._lock:
            return list(self._provider_readers.values())

    def _reader_added(self, reader: MetricReader) -> None:
        with self._lock:
            self._provider_readers[id(reader)] = reader
        self.attach_reader(reader, from_now=True)

    def _reader_removed(self, reader: MetricReader) -> None:
        with self._lock:
            self._provider_readers.pop(id(reader), None)
        self.detach_reader(reader)

    def attach_reader(self, reader: MetricReader, *, from_now: bool = False) -> None:
        """Add the fast instruments to every collection of ``reader`` (after the SDK's).

        A reader built with the provider sees what was recorded before ``init_telemetry()``;
        one added later (``from_now``), like an SDK reader added later, sees in delta
        temporality only what is recorded from now on: its first delta point starts here.
        """
        if self.forwarding:
            return  # SDK instruments: every reader of the provider sees them already
        state = ReaderState(_sdk_compat.reader_temporality(reader))
        seen = state if from_now else None
        with self._lock:
            for instrument in self._instruments.values():
                if not state.is_delta(instrument):
                    continue
                if isinstance(instrument, FastHistogram):
                    state.slots[id(instrument)] = instrument.add_slot(seen)
                elif seen is not None:
                    instrument.start_deltas(seen)
            self._readers[id(reader)] = state
        _sdk_compat.hook_collect(reader, lambda original: self._collector(original, state))

    def detach_reader(self, reader: MetricReader) -> None:
        with self._lock:
            self._readers.pop(id(reader), None)

    def feeds(self, reader: MetricReader) -> bool:
        """Whether ``reader``'s collections go through the fast path's hook."""
        with self._lock:
            return id(reader) in self._readers

    def drop_sdk_metrics(self) -> None:
        """From now on, hooked readers collect the fast instruments only (a forked child
        whose SDK aggregates still hold the parent's totals)."""
        self.sdk_metrics_dropped = True

    def detach(self) -> None:
        """Forget the readers and every recorded value (a new configuration starts from zero)."""
        with self._lock:
            self._readers.clear()
            self._provider_readers = {}
            self._resource = None
            self._store = None
            self._provider = None
            self.forwarding = False
            self.sdk_metrics_dropped = False
            self._instruments = {
                name: instrument
                for name, instrument in self._instruments.items()
                if not instrument.transient
            }
            for instrument in self._instruments.values():
                instrument.reset()
                instrument.store = None
                if isinstance(instrument, FastHistogram):
                    instrument.slots = 0

    def _collector(self, original: CollectFn | None, state: ReaderState) -> CollectFn:
        def collect(reader: MetricReader, timeout_millis: float = 10_000) -> MetricsData | None:
            with self.collecting:
                data = None
                if original is not None and not self.sdk_metrics_dropped:
                    data = original(reader, timeout_millis=timeout_millis)
                if not getattr(reader, "merges_fast_path", True):
                    return data  # it reads the fast instruments elsewhere (the pre-fork files)
                with self._lock:
                    instruments = list(self._instruments.values())
                return merge(data, collect_scopes(instruments, state), self._resource)

        return collect


REGISTRY = Registry()
