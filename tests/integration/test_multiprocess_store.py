"""The shared directory of pre-fork servers, file by file: what a scrape adds up and when.

Other processes are real ones (``os.fork()`` children that record and end); the scrape is
``DirectoryReader.totals()``, what the Prometheus endpoint of any process calls.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

import otelkit
from otelkit import _errors
from otelkit.exporters.prometheus import _multiprocess as multiprocess
from otelkit.exporters.prometheus._multiprocess import DirectoryReader, ProcessFile
from otelkit.exporters.prometheus._multiprocess._reading import _alive
from otelkit.metrics._fastpath import FastSum

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

SCOPE = InstrumentationScope("test")


def counter(name: str = "jobs.done") -> FastSum:
    return FastSum(name, "{job}", "", SCOPE, monotonic=True)


def ended_process(directory: Path, amount: int) -> None:
    """A child that counts ``amount`` into its own file in ``directory`` and ends."""
    child = os.fork()
    if child == 0:
        try:
            jobs = counter()
            jobs.store = ProcessFile(directory)
            jobs.add("k", {"queue": "default"}, amount)
        finally:
            os._exit(0)
    os.waitpid(child, 0)


def total(reader: DirectoryReader, own: ProcessFile) -> float:
    values = reader.totals(own).values
    return sum(v[0] for (name, _), v in values.items() if name == "jobs.done")


@pytest.fixture
def own(tmp_path: Path) -> Iterator[ProcessFile]:
    file = ProcessFile(tmp_path)
    yield file
    file.release()


def test_an_interrupted_compaction_never_counts_a_file_twice(
    tmp_path: Path, own: ProcessFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    for amount in range(1, multiprocess.COMPACT_AFTER + 1):
        ended_process(tmp_path, amount)
    expected = sum(range(1, multiprocess.COMPACT_AFTER + 1))

    # The compacting process dies after publishing its archive, before deleting the files.
    unlink = Path.unlink

    def dies(self: Path, missing_ok: bool = False) -> None:
        if self.suffix == ".otelkit":
            raise KeyboardInterrupt
        unlink(self, missing_ok)

    monkeypatch.setattr(Path, "unlink", dies)
    with pytest.raises(KeyboardInterrupt):
        DirectoryReader(tmp_path).totals(own)
    monkeypatch.undo()

    archives = list(tmp_path.glob("archive-*.otelkit"))
    assert len(archives) == 1
    assert len(list(tmp_path.glob("*.otelkit"))) == 2 + multiprocess.COMPACT_AFTER  # all left
    assert total(DirectoryReader(tmp_path), own) == expected  # the archive, not the leftovers
    # The next compaction removes the leftovers; the total stays.
    ended_process(tmp_path, 100)
    reader = DirectoryReader(tmp_path)
    for _ in range(multiprocess.COMPACT_AFTER):
        ended_process(tmp_path, 0)
    assert total(reader, own) == expected + 100
    assert total(reader, own) == expected + 100
    assert len(list(tmp_path.glob("archive-*.otelkit"))) == 1


def test_values_opentelemetry_does_not_take_are_dropped_and_the_call_still_counted(
    tmp_path: Path,
) -> None:
    """A UUID is no OpenTelemetry attribute value: as the SDK does, the attribute is dropped (and
    counted), and the measurement lands in the shared store without it."""
    telemetry = otelkit.init_telemetry(
        service_name="store",
        exporters="prometheus",
        prometheus_port=0,
        prometheus_multiprocess_dir=str(tmp_path),
    )
    try:

        @otelkit.counted("tenant.calls", attributes=lambda tenant: {"tenant": tenant})
        def call(tenant: Any) -> str:
            return "ok"

        dropped = _errors.internal_error_count("attributes")
        tenant = uuid.uuid4()
        assert call(tenant) == "ok"
        assert call(tenant) == "ok"
        body = otelkit.metrics_wsgi()({}, lambda *_: None)
        text = b"".join(body).decode()
        assert "tenant=" not in text
        assert 'tenant_calls_total{otel_scope_name="otelkit.business"' in text
        assert (
            text.split('tenant_calls_total{otel_scope_name="otelkit.business"')[1]
            .split("\n")[0]
            .endswith("} 2")
        )
        assert _errors.internal_error_count("attributes") == dropped + 2
    finally:
        telemetry.shutdown()


def test_shutdown_lets_go_of_the_file(tmp_path: Path) -> None:
    opened = len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        telemetry = otelkit.init_telemetry(
            service_name="store",
            exporters="prometheus",
            prometheus_port=0,
            prometheus_multiprocess_dir=str(tmp_path),
        )
        telemetry.shutdown()
    files = list(tmp_path.glob("*.otelkit"))
    assert len(files) == 3
    # Unlocked: other processes count these files as an ended process's (no live gauges).
    assert not any(_alive(path) for path in files)
    assert len(os.listdir("/proc/self/fd")) <= opened + 1


def test_scrapes_during_shutdown_answer_or_are_refused_but_never_fail(tmp_path: Path) -> None:
    """A recycled worker shuts down while scrapes arrive: each gets the totals or no answer."""
    import threading
    import time

    import requests

    from tests.fixtures.servers import free_port

    statuses: list[int] = []
    for _ in range(5):
        port = free_port()
        telemetry = otelkit.init_telemetry(
            service_name="store",
            exporters="prometheus",
            prometheus_port=port,
            prometheus_multiprocess_dir=str(tmp_path),
        )
        otelkit.record("jobs.size", 1)
        stop = threading.Event()

        def hammer(port: int = port, stop: threading.Event = stop) -> None:
            while not stop.is_set():
                try:
                    response = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
                except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                    continue  # the listener closed: refused or cut, as by a dead worker
                statuses.append(response.status_code)

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        while len(statuses) < 20:
            time.sleep(0.01)
        telemetry.shutdown()
        stop.set()
        for thread in threads:
            thread.join()
    assert set(statuses) == {200}
