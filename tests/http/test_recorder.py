"""The per-configuration recorder every instrumentation derives from (HTTP, Celery, SQLAlchemy)."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

import otelkit
from otelkit.instrumentation._recorder import CurrentRecorder, Recorder
from otelkit.instrumentation.celery._recorder import CeleryRecorder
from otelkit.instrumentation.http._common import HttpRecorder, current_recorder
from otelkit.instrumentation.sqlalchemy._recorder import SqlAlchemyRecorder
from otelkit.metrics._fastpath import REGISTRY

if TYPE_CHECKING:
    from collections.abc import Iterator

SCOPE = InstrumentationScope("otelkit.test.recorder", "0")


class _Probe(Recorder):
    def __init__(self, telemetry: otelkit.Telemetry, label: str = "") -> None:
        super().__init__(telemetry, SCOPE)
        self.label = label
        self.calls = self.sum(
            "otelkit.test.recorder.calls", unit="{call}", description="Calls.", monotonic=True
        )


def _init() -> otelkit.Telemetry:
    return otelkit.init_telemetry("recorder-test", exporters="memory", instrument="none")


@pytest.fixture
def configured() -> Iterator[otelkit.Telemetry]:
    handle = _init()
    yield handle
    handle.shutdown()


def test_no_recorder_without_a_running_configuration() -> None:
    assert _Probe.current(None) is None
    assert CurrentRecorder(_Probe).get() is None
    handle = _init()
    recorder = _Probe.current(None)
    handle.shutdown()
    assert recorder is not None
    assert _Probe.current(recorder) is None  # the cached one is not handed out after shutdown


def test_no_recorder_when_the_configuration_is_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    handle = _init()
    try:
        assert not handle.enabled
        assert _Probe.current(None) is None
        assert CurrentRecorder(_Probe).get() is None
    finally:
        handle.shutdown()


def test_a_cached_recorder_is_reused_while_its_configuration_runs(
    configured: otelkit.Telemetry,
) -> None:
    recorder = _Probe.current(None, "first")
    assert recorder is not None
    assert recorder.owner is configured
    assert recorder.label == "first"  # built with the arguments given
    assert _Probe.current(recorder, "second") is recorder


def test_a_new_configuration_gets_a_new_recorder() -> None:
    first_handle = _init()
    first = _Probe.current(None)
    first_handle.shutdown()
    second_handle = _init()
    try:
        second = _Probe.current(first)
        assert second is not None
        assert second is not first
        assert second.owner is second_handle
    finally:
        second_handle.shutdown()


def test_the_process_wide_recorder_is_built_once_per_configuration() -> None:
    built: list[_Probe] = []
    renewed: list[tuple[_Probe, Any]] = []

    def build(telemetry: otelkit.Telemetry) -> _Probe:
        recorder = _Probe(telemetry)
        built.append(recorder)
        return recorder

    current = CurrentRecorder(build, renewed=lambda r, caller: renewed.append((r, caller)))
    first_handle = _init()
    first = current.get("caller")
    assert first is not None
    assert first.owner is first_handle
    assert current.get() is first
    assert current.get("another caller") is first
    assert built == [first]
    assert renewed == [(first, "caller")]  # once, with whoever asked first
    first_handle.shutdown()
    assert current.get() is None
    assert current.recorder is first  # kept, but not handed out

    second_handle = _init()
    try:
        second = current.get()
        assert second is not None
        assert second is not first
        assert second.owner is second_handle
        assert current.get() is second
        assert built == [first, second]
        assert renewed == [(first, "caller"), (second, None)]
        current.clear()  # a new pool process: built afresh, for the same configuration
        third = current.get()
        assert third is not None
        assert third is not second
        assert third.owner is second_handle
    finally:
        second_handle.shutdown()


def test_concurrent_first_uses_build_one_recorder(configured: otelkit.Telemetry) -> None:
    builds = 0

    def build(telemetry: otelkit.Telemetry) -> _Probe:
        nonlocal builds
        builds += 1
        time.sleep(0.01)  # a slow build: every thread arrives while it runs
        return _Probe(telemetry)

    current = CurrentRecorder(build)
    start = threading.Barrier(8)
    seen: list[_Probe | None] = []

    def use() -> None:
        start.wait()
        seen.append(current.get())

    threads = [threading.Thread(target=use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == 1
    assert len(seen) == 8
    assert all(recorder is seen[0] is not None for recorder in seen)


def test_instruments_are_the_registrys_under_the_recorders_scope(
    configured: otelkit.Telemetry,
) -> None:
    recorder = _Probe(configured)
    assert recorder.calls is REGISTRY.sum(
        "otelkit.test.recorder.calls",
        unit="{call}",
        description="Calls.",
        scope=SCOPE,
        monotonic=True,
    )
    histogram = recorder.histogram(
        "otelkit.test.recorder.seconds", unit="s", description="Seconds.", boundaries=(1.0,)
    )
    assert histogram is REGISTRY.histogram(
        "otelkit.test.recorder.seconds",
        unit="s",
        description="Seconds.",
        scope=SCOPE,
        boundaries=(1.0,),
    )


def test_spans_follow_the_configuration_and_the_option(configured: otelkit.Telemetry) -> None:
    assert configured.tracing
    assert _Probe(configured).spans is not None
    assert Recorder(configured, SCOPE, spans=False).spans is None


@pytest.mark.parametrize(
    ("recorder_class", "arguments"),
    [(HttpRecorder, (None,)), (CeleryRecorder, ()), (SqlAlchemyRecorder, ())],
)
def test_every_instrumentation_derives_its_recorder_from_the_base(
    configured: otelkit.Telemetry, recorder_class: type[Recorder], arguments: tuple[Any, ...]
) -> None:
    assert issubclass(recorder_class, Recorder)
    recorder = recorder_class.current(None, *arguments)
    assert recorder is not None
    assert recorder.owner is configured
    assert recorder.spans is not None
    assert recorder_class.current(recorder, *arguments) is recorder


def test_http_spans_false_leaves_spans_out(configured: otelkit.Telemetry) -> None:
    with_spans = current_recorder(None, True)
    without = current_recorder(None, False)
    assert with_spans is not None
    assert with_spans.spans is not None
    assert without is not None
    assert without.spans is None
