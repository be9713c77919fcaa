"""otelkit's own counters (``otelkit.internal.errors``, ``otelkit.dropped``,
``otelkit.export.failures``) never block, never recurse, and hold process totals.

Counting an error records into a counter; when recording itself fails (the multi-process
store on a full disk), the count of that failure must neither wait on a lock its own thread
holds nor go round again. The own counters live in this process's memory, never in the
shared store, and a new configuration does not reset them.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv._incubating.attributes.otel_attributes import (
    OTEL_COMPONENT_NAME,
    OTEL_COMPONENT_TYPE,
)
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

import otelkit
from otelkit import _errors, testing
from otelkit.metrics._fastpath import REGISTRY, FastSum

if TYPE_CHECKING:
    from collections.abc import Iterator, MutableSequence
    from pathlib import Path

    from opentelemetry.util.types import Attributes

    from otelkit.metrics._fastpath import _Instrument

SCOPE = InstrumentationScope("tests.own_counters")
_serial = itertools.count()


def _unique(prefix: str) -> str:
    """A name no other test of the session has used (instruments live per process)."""
    return f"{prefix}.n{next(_serial)}"


class DiskFull(OSError):
    """Its own kind, so that the error's series is new in every session."""


class FullDiskStore:
    """A multi-process store whose every allocation fails, as on a full file system."""

    exponential = False

    def __init__(self) -> None:
        self.asked: list[str] = []

    def allocate(
        self, instrument: _Instrument, attributes: Attributes, size: int
    ) -> MutableSequence[float]:
        self.asked.append(instrument.name)
        raise DiskFull(28, "No space left on device")


@pytest.fixture
def telemetry() -> otelkit.Telemetry:
    return otelkit.init_telemetry(service_name="shop", metrics_exporters="memory")


@pytest.fixture
def full_disk(telemetry: otelkit.Telemetry) -> Iterator[FullDiskStore]:
    store = FullDiskStore()
    REGISTRY.use_store(store)
    yield store
    REGISTRY.use_store(None)


def _own(telemetry: otelkit.Telemetry, name: str) -> Counter[tuple[str, str]]:
    return Counter(
        {
            (
                p.attributes.get(OTEL_COMPONENT_NAME) or p.attributes[OTEL_COMPONENT_TYPE],
                p.attributes[ERROR_TYPE],
            ): p.value
            for p in testing.points(telemetry, name)
        }
    )


def _promptly(action: Any) -> None:
    """Run ``action`` in a thread; fail (rather than hang the suite) if it does not return."""
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "deadlocked: the call did not return within 10 s"


def test_a_full_disk_store_neither_deadlocks_nor_goes_uncounted(
    telemetry: otelkit.Telemetry, full_disk: FullDiskStore
) -> None:
    errors = ("otelkit_multi_process_store", "DiskFull")
    before = _own(telemetry, "otelkit.internal.errors")[errors]
    counter = REGISTRY.sum(
        _unique("tests.orders"), unit="{order}", description="", scope=SCOPE, monotonic=True
    )

    _promptly(lambda: counter.add(("web",), {"channel": "web"}, 1))
    _promptly(lambda: otelkit.record(_unique("tests.basket.size"), 3.0, channel="web"))

    assert _own(telemetry, "otelkit.internal.errors")[errors] - before == 2
    (point,) = testing.points(telemetry, counter.name)
    assert point.value == 1  # kept in this process's memory instead


def test_the_own_counters_never_ask_the_shared_store_for_cells(
    telemetry: otelkit.Telemetry, full_disk: FullDiskStore
) -> None:
    otelkit.record(_unique("tests.refused"), 1.0, detail=None)  # one invalid attribute: dropped
    _promptly(lambda: otelkit.record(_unique("tests.fine"), 1.0))

    own = {"otelkit.internal.errors", "otelkit.dropped", "otelkit.export.failures"}
    assert full_disk.asked  # the business histograms did ask
    assert own.isdisjoint(full_disk.asked)


def test_counting_an_error_never_counts_another_error_on_the_same_thread(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An observer that fails by recording an error of its own is not called again for it."""
    calls: list[str] = []

    def observer(component: str, kind: str, amount: int) -> None:
        calls.append(component)
        _errors.record_internal_error("tests.observer", RuntimeError("the counter failed too"))

    monkeypatch.setattr(_errors, "_observer", observer)
    _promptly(lambda: _errors.record_internal_error("tests.first", ValueError("boom")))

    assert calls == ["tests.first"]
    assert _errors.internal_error_count("tests.observer") >= 1  # counted, just not reported


def test_internal_errors_stay_a_process_total_across_configurations() -> None:
    errors = ("otelkit_tests_reinit", "ValueError")
    first = otelkit.init_telemetry(service_name="shop", metrics_exporters="memory")
    before = _own(first, "otelkit.internal.errors")[errors]
    _errors.record_internal_error("tests.reinit", ValueError("swallowed once"))
    assert _own(first, "otelkit.internal.errors")[errors] == before + 1
    first.shutdown(timeout=5)

    second = otelkit.init_telemetry(service_name="shop", metrics_exporters="memory")

    assert _own(second, "otelkit.internal.errors")[errors] == before + 1


def test_an_attribute_set_folded_into_the_overflow_series_is_counted_once(
    telemetry: otelkit.Telemetry,
) -> None:
    """The values are kept (in the overflow series): what is counted is each attribute set
    that lost its own series, not each of its measurements."""
    overflow = ("otelkit_metric_store", "cardinality_overflow")
    before = _own(telemetry, "otelkit.dropped")[overflow]
    # At most limit - 1 = 2 series of their own, then the overflow series.
    lookups = FastSum(_unique("tests.lookups"), "{lookup}", "", SCOPE, monotonic=True, limit=3)
    lookups.add(("a",), {"user": "a"}, 1)
    lookups.add(("b",), {"user": "b"}, 1)

    for _ in range(10):
        lookups.add(("c",), {"user": "c"}, 1)
    assert _own(telemetry, "otelkit.dropped")[overflow] - before == 1

    lookups.add(("d",), {"user": "d"}, 1)
    assert _own(telemetry, "otelkit.dropped")[overflow] - before == 2
    kept = {tuple(sorted(s.attributes.items())): s.value for s in lookups.all_series()}
    assert kept == {
        (("user", "a"),): 1,
        (("user", "b"),): 1,
        (("otel.metric.overflow", True),): 11,
    }


def test_under_a_pre_fork_server_the_own_counters_show_per_process(tmp_path: Path) -> None:
    """Not in the shared files (their failure is what may need counting), yet on the scrape:
    each process's own totals, with its ``process_pid``."""
    telemetry = otelkit.init_telemetry(
        service_name="shop",
        exporters="prometheus",
        prometheus_port=0,
        prometheus_multiprocess_dir=str(tmp_path),
    )
    try:
        _errors.record_internal_error("tests.shared", ValueError("swallowed"))

        page = b"".join(otelkit.metrics_wsgi()({}, lambda *_: None)).decode()
    finally:
        telemetry.shutdown()

    (line,) = [
        line
        for line in page.splitlines()
        if line.startswith("otelkit_internal_errors_total{")
        and 'otel_component_type="otelkit_tests_shared"' in line
    ]
    assert f'process_pid="{os.getpid()}"' in line
    assert line.endswith(" 1")
