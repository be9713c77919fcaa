"""Every private SDK seam is probed, and a renamed internal makes its feature take the public path.

Each test renames one private SDK attribute the way a new SDK release would
(``tests/fixtures/sdk_changes.rename``: the SDK still reaches it, otelkit no longer does),
probes again, and reads what is exported: never wrong numbers, only a slower or a quieter path.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics._internal import instrument as sdk_instrument
from opentelemetry.sdk.metrics._internal._view_instrument_match import _ViewInstrumentMatch
from opentelemetry.sdk.metrics._internal.measurement_consumer import (
    SynchronousMeasurementConsumer,
)
from opentelemetry.sdk.metrics._internal.metric_reader_storage import MetricReaderStorage
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider

from otelkit import _sdk_compat
from tests.fixtures.sdk_changes import rename

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import ModuleType


class SdkRelease:
    """The installed SDK with some internals renamed; otelkit re-probes after each change."""

    def __init__(self) -> None:
        self.patch = pytest.MonkeyPatch()

    def rename(self, owner: type | ModuleType, name: str) -> dict[str, bool]:
        rename(owner, name, self.patch)
        return _sdk_compat.probe_all()

    def restore(self) -> None:
        self.patch.undo()
        _sdk_compat.probe_all()


@pytest.fixture
def sdk() -> Iterator[SdkRelease]:
    release = SdkRelease()
    yield release
    release.restore()


SEAM_INTERNALS: list[tuple[str, Any, str]] = [
    (_sdk_compat.COLLECT_CALLBACK, MetricReader, "_collect"),
    (_sdk_compat.COLLECT_CALLBACK, MetricReader, "_set_collect_callback"),
    (_sdk_compat.READER_TEMPORALITY, MetricReader, "_instrument_class_temporality"),
    (_sdk_compat.READER_TEMPORALITY, sdk_instrument, "_Histogram"),
    (_sdk_compat.CLEAR_AGGREGATES, MeterProvider, "_measurement_consumer"),
    (_sdk_compat.CLEAR_AGGREGATES, SynchronousMeasurementConsumer, "_lock"),
    (_sdk_compat.CLEAR_AGGREGATES, SynchronousMeasurementConsumer, "_reader_storages"),
    (_sdk_compat.CLEAR_AGGREGATES, MetricReaderStorage, "_lock"),
    (_sdk_compat.CLEAR_AGGREGATES, MetricReaderStorage, "_instrument_view_instrument_matches"),
    (_sdk_compat.CLEAR_AGGREGATES, _ViewInstrumentMatch, "_lock"),
    (_sdk_compat.CLEAR_AGGREGATES, _ViewInstrumentMatch, "_attributes_aggregation"),
    (_sdk_compat.CLEAR_AGGREGATES, _ViewInstrumentMatch, "_previous_collection_start_nanos"),
    (_sdk_compat.EXPORT_LOCK, PeriodicExportingMetricReader, "_export_lock"),
    (_sdk_compat.UPDATE_RESOURCE, MeterProvider, "_update_resource"),
    (_sdk_compat.UPDATE_RESOURCE, MeterProvider, "_sdk_config"),
    (_sdk_compat.UPDATE_RESOURCE, TracerProvider, "_update_resource"),
    (_sdk_compat.UPDATE_RESOURCE, LoggerProvider, "_update_resource"),
]


def test_every_seam_holds_on_the_installed_sdk() -> None:
    assert _sdk_compat.probe_all() == dict.fromkeys(_sdk_compat.SEAMS, True)


@pytest.mark.parametrize(
    ("seam", "owner", "name"),
    SEAM_INTERNALS,
    ids=[f"{getattr(o, '__name__', o)}.{n}" for _, o, n in SEAM_INTERNALS],
)
def test_a_renamed_internal_fails_its_seam_with_one_warning(
    sdk: SdkRelease, caplog: pytest.LogCaptureFixture, seam: str, owner: Any, name: str
) -> None:
    with caplog.at_level(logging.WARNING, logger="otelkit"):
        results = sdk.rename(owner, name)
        _sdk_compat.probe_all()  # a second probe does not warn again
    assert results[seam] is False
    assert not _sdk_compat.usable(seam)
    (warning,) = [r.getMessage() for r in caplog.records if seam in r.getMessage()]
    assert f"opentelemetry-sdk {_sdk_compat.SDK_VERSION}" in warning
    assert _sdk_compat.SEAMS[seam].fallback in warning


def test_a_failure_first_found_by_usable_is_warned_at_the_next_probe(
    sdk: SdkRelease, caplog: pytest.LogCaptureFixture
) -> None:
    """A feature asked before ``init_telemetry()`` probed (a fresh process): the WARNING
    comes with the probe run, once."""
    seam = _sdk_compat.EXPORT_LOCK
    sdk.patch.setattr(_sdk_compat, "_usable", {})  # nothing probed yet
    rename(PeriodicExportingMetricReader, "_export_lock", sdk.patch)
    assert not _sdk_compat.usable(seam)
    with caplog.at_level(logging.WARNING, logger="otelkit"):
        assert _sdk_compat.probe_all()[seam] is False
        _sdk_compat.probe_all()
    assert len([r for r in caplog.records if seam in r.getMessage()]) == 1


def test_a_seam_that_passes_again_is_warned_about_when_it_fails_again(
    sdk: SdkRelease, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="otelkit"):
        sdk.rename(PeriodicExportingMetricReader, "_export_lock")
        sdk.restore()
        sdk.rename(PeriodicExportingMetricReader, "_export_lock")
    warned = [r for r in caplog.records if _sdk_compat.EXPORT_LOCK in r.getMessage()]
    assert len(warned) == 2


class ReadDuringProbe(dict[str, bool]):
    """The seam table, read by another thread (``usable()``) whenever ``probe_all()`` changes
    it in place: that thread must find results, never an emptied table to probe again."""

    def __init__(self, table: dict[str, bool], seam: str) -> None:
        super().__init__(table)
        self.seam = seam

    def clear(self) -> None:
        super().clear()
        _sdk_compat.usable(self.seam)

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        _sdk_compat.usable(self.seam)


def test_a_concurrent_usable_never_probes_during_a_probe_run(sdk: SdkRelease) -> None:
    probes: list[str] = []

    def counted() -> bool:
        probes.append("probe")
        return True

    name = "test.counted"
    sdk.patch.setitem(_sdk_compat.SEAMS, name, _sdk_compat.Seam(name, "a test", "none", counted))
    _sdk_compat.probe_all()
    sdk.patch.setattr(_sdk_compat, "_usable", ReadDuringProbe(_sdk_compat._usable, name))
    probes.clear()
    _sdk_compat.probe_all()
    assert probes == ["probe"]
    assert _sdk_compat.usable(name)
    assert probes == ["probe"]
