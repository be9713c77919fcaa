"""All fast instruments of the process, by name, and the readers they feed."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otelkit import _errors, _sdk_compat
from otelkit._version import __version__
from otelkit.metrics._fastpath import _components, _drops
from otelkit.metrics._fastpath._aggregation import wants_exponential
from otelkit.metrics._fastpath._instruments import FastHistogram, FastSum, _Instrument
from otelkit.metrics._fastpath._names import NameCollision, prometheus_samples
from otelkit.metrics._fastpath._readers import ReaderState, collect_scopes, follow_readers, merge

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader, MetricsData
    from opentelemetry.sdk.resources import Resource

    from otelkit._sdk_compat import CollectFn
    from otelkit.metrics._fastpath._store import Store

logger = logging.getLogger("otelkit")

OWN_SCOPE = InstrumentationScope("otelkit.internal", __version__)
"""The scope of otelkit's own loss accounting (``_drops``): not ``otelkit``, the scope of the
handle's SDK meter, since the OTLP encoder keeps one of two scopes of the same name."""
_OWN = {
    _drops.DROPPED: (
        "{item}",
        "Items otelkit did not deliver: spans and log records (full queue, failed export), "
        "attribute sets folded into the overflow series, invalid attribute values, refused "
        "metric names, what a shutdown could not wait for.",
    ),
    _drops.EXPORT_FAILURES: ("{export}", "Exports that failed, by exporter and error type."),
    _drops.INTERNAL_ERRORS: (
        "{error}",
        "Errors inside otelkit that were logged and swallowed instead of reaching the application.",
    ),
}


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
        self._samples: dict[str, str] = {}
        """Prometheus sample name -> the instrument (or claimed name) that owns it."""
        self._claimed: dict[str, str] = {}
        """Names that are no fast instrument but are exposed (``gauge()``), with their kind."""
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
            self._check_samples(name, unit, "histogram")
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
            self._check_samples(name, unit, "counter" if monotonic else "up_down_counter")
            instrument = FastSum(name, unit, description, scope, monotonic)
            self._adopt(instrument, transient)
            return instrument

    def _check_samples(self, name: str, unit: str, kind: str) -> None:
        """Raise ``NameCollision`` if ``name`` would share a Prometheus name with another
        instrument or claimed name (call with ``_lock`` held)."""
        if name in self._claimed:
            raise NameCollision(f"{name!r} is already a {self._claimed[name]}")
        for sample in sorted(prometheus_samples(name, unit, kind)):
            owner = self._samples.get(sample)
            if owner is not None and owner != name:
                raise NameCollision(
                    f"{name!r} and the existing {owner!r} would both be exposed to Prometheus "
                    f"as {sample!r}"
                )

    def claim(self, name: str, kind: str, unit: str = "") -> None:
        """Reserve the Prometheus names of an instrument the SDK holds (``gauge()``); raises
        ``NameCollision`` (a ``ValueError``) as a fast instrument's creation would."""
        with self._lock:
            if name in self._instruments:
                raise NameCollision(f"{name!r} is already a {self._instruments[name].kind}")
            self._check_samples(name, unit, kind)
            self._claimed[name] = kind
            self._samples.update(dict.fromkeys(prometheus_samples(name, unit, kind), name))

    def reserve(self, name: str, kind: str, unit: str = "") -> None:
        """Reserve the Prometheus names of an SDK instrument of the handle's meter: refused
        (``NameCollision``) when another name takes one of them, or this name is another kind;
        the same name and kind on both sides is one metric (told apart by its scope)."""
        with self._lock:
            existing = self._instruments.get(name)
            held = existing.kind if existing is not None else self._claimed.get(name)
            if held is not None:
                if held != kind:
                    raise NameCollision(f"{name!r} is already a {held}, not a {kind}")
                return
            self._check_samples(name, unit, kind)
            self._samples.update(dict.fromkeys(prometheus_samples(name, unit, kind), name))

    def count_own(self, metric: str, component: str, reason: str, amount: int) -> None:
        """Add to one of otelkit's own loss counters (``_drops``)."""
        instrument = self._instruments.get(metric)
        if not isinstance(instrument, FastSum):
            unit, description = _OWN[metric]
            instrument = self.sum(
                metric, unit=unit, description=description, scope=OWN_SCOPE, monotonic=True
            )
        attributes = _components.attributes(component, reason)
        instrument.add(tuple(attributes.items()), attributes, amount)

    def _adopt(self, instrument: _Instrument, transient: bool) -> None:
        """Register a new instrument in the current mode (call with ``_lock`` held)."""
        samples = prometheus_samples(instrument.name, instrument.unit, instrument.kind)
        self._samples.update(dict.fromkeys(samples, instrument.name))
        instrument.transient = transient
        instrument.local = instrument.scope is OWN_SCOPE
        instrument.store = None if instrument.local else self._store
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

    def instruments(self) -> list[_Instrument]:
        """Every fast instrument (the pre-fork store publishes their exemplars)."""
        with self._lock:
            return list(self._instruments.values())

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
        state = ReaderState(_sdk_compat.reader_temporality(reader), wants_exponential(reader))
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
        """Forget the readers and every recorded value (a new configuration starts from zero),
        but otelkit's own counters (``OWN_SCOPE``): they are process totals, across
        configurations. (Forwarding to SDK instruments, the SDK holds their values, and they
        go with its provider.)"""
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
            self._samples = {
                sample: owner
                for sample, owner in self._samples.items()
                if owner in self._instruments or owner in self._claimed
            }
            for instrument in self._instruments.values():
                if not instrument.local or instrument.sink is not None:
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
                shared = not getattr(reader, "merges_fast_path", True)
                with self._lock:
                    # A reader that reads the shared instruments from the pre-fork files
                    # still gets the process-local ones (otelkit's own counters) here.
                    instruments = [i for i in self._instruments.values() if i.local or not shared]
                if not instruments:
                    return data
                return merge(data, collect_scopes(instruments, state), self._resource)

        return collect


REGISTRY = Registry()
_drops.bind(REGISTRY.count_own)
_drops.zero(_drops.DROPPED, "metrics", "cardinality_overflow")
"""At 0 from the start in every process, whatever its exporters: the loss counter every
dashboard and alert reads has a series before the first loss (the exporters' own are added
when a configuration builds them)."""
_errors.observe_internal_errors(
    lambda component, kind, amount: REGISTRY.count_own(
        _drops.INTERNAL_ERRORS, component, kind, amount
    )
)
