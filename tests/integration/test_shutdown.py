"""What a process recorded is exported when it ends: on SIGTERM, at exit, and never with a hang.

Each test runs a small application in a child process against a real OTLP/HTTP receiver. The
metric export interval and the span batch delay are ten minutes, so only the flush at the end
of the process can deliver anything.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from otelkit import init_telemetry

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from tests.fixtures.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration

RECORD_AND_WAIT = """
import time

import otelkit

telemetry = otelkit.init_telemetry(service_name="worker")
telemetry.meter.create_counter("jobs.done").add(3)
with telemetry.tracer.start_as_current_span("job"):
    pass
print("ready", flush=True)
time.sleep(60)  # until SIGTERM
"""

APP_HANDLER = """
import os
import signal
import sys
from pathlib import Path


def on_sigterm(signum, frame):
    Path(sys.argv[1]).write_text("app handler ran")
    os._exit(0)  # skips atexit: only otelkit's flush before this handler can have exported


signal.signal(signal.SIGTERM, on_sigterm)  # installed before init_telemetry()
"""


class App:
    """A small application running in a child process, exporting to one OTLP/HTTP endpoint."""

    def __init__(self, directory: Path, script: str, endpoint: str, env: dict[str, str]) -> None:
        (directory / "app.py").write_text(textwrap.dedent(script))
        self.marker = directory / "marker"
        self._stderr = directory / "stderr"
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
        environ.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_METRICS_EXPORTER="otlp",
            OTEL_TRACES_EXPORTER="otlp",
            OTEL_METRIC_EXPORT_INTERVAL="600000",
            OTEL_BSP_SCHEDULE_DELAY="600000",
            **env,
        )
        with self._stderr.open("w") as stderr:
            self._process = subprocess.Popen(
                [sys.executable, "app.py", str(self.marker)],
                cwd=directory,
                env=environ,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )

    def wait_until_ready(self) -> None:
        """Block until the app has printed ``ready`` (it has recorded everything by then)."""
        assert self._process.stdout is not None
        if self._process.stdout.readline().strip() != "ready":
            self.stop()
            pytest.fail(f"the app did not start: {self._stderr.read_text()}")

    def send_sigterm(self) -> None:
        self._process.send_signal(signal.SIGTERM)

    def exit_status(self, timeout: float = 30) -> int:
        """Wait for the app to end; fail (and kill it) if it is still running after ``timeout``."""
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            pytest.fail(f"still running {timeout:g} s later: {self._stderr.read_text()}")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


@pytest.fixture
def start_app(tmp_path: Path) -> Iterator[Callable[..., App]]:
    """``start_app(script, endpoint, **env)`` runs an app; it is stopped after the test."""
    apps: list[App] = []

    def start(script: str, endpoint: str, **env: str) -> App:
        apps.append(App(tmp_path, script, endpoint, env))
        return apps[-1]

    yield start
    for app in apps:
        app.stop()


def test_sigterm_flushes_then_runs_the_applications_handler(
    otlp_http: OtlpReceiver, start_app: Callable[..., App]
) -> None:
    """On SIGTERM everything recorded is exported, then the application's own handler runs."""
    app = start_app(APP_HANDLER + RECORD_AND_WAIT, otlp_http.endpoint)
    app.wait_until_ready()

    app.send_sigterm()

    assert app.exit_status() == 0
    assert app.marker.read_text() == "app handler ran"
    assert otlp_http.metrics("jobs.done")[-1]["value"] == 3
    assert [s["name"] for s in otlp_http.spans()] == ["job"]


def test_sigterm_without_an_application_handler_still_ends_the_process(
    otlp_http: OtlpReceiver, start_app: Callable[..., App]
) -> None:
    """Without a handler of its own, the process exports and then dies of SIGTERM as usual."""
    app = start_app(RECORD_AND_WAIT, otlp_http.endpoint)
    app.wait_until_ready()

    app.send_sigterm()

    assert app.exit_status() == -signal.SIGTERM
    assert otlp_http.metrics("jobs.done")[-1]["value"] == 3
    assert [s["name"] for s in otlp_http.spans()] == ["job"]


def test_returning_from_main_flushes_at_exit(
    otlp_http: OtlpReceiver, start_app: Callable[..., App]
) -> None:
    """A program that simply ends exports what it recorded (atexit)."""
    script = """
        import otelkit

        def main():
            telemetry = otelkit.init_telemetry(service_name="batch")
            telemetry.meter.create_counter("rows.imported").add(250)
            with telemetry.tracer.start_as_current_span("import"):
                pass

        if __name__ == "__main__":
            main()
    """
    app = start_app(script, otlp_http.endpoint)

    assert app.exit_status() == 0
    assert otlp_http.metrics("rows.imported")[-1]["value"] == 250
    assert [s["name"] for s in otlp_http.spans()] == ["import"]


def test_an_unresponsive_collector_cannot_hold_the_process(
    silent_endpoint: str, start_app: Callable[..., App]
) -> None:
    """OTELKIT_SHUTDOWN_TIMEOUT bounds the flush on SIGTERM even when exports would wait 30 s."""
    app = start_app(
        RECORD_AND_WAIT,
        silent_endpoint,
        OTELKIT_SHUTDOWN_TIMEOUT="1",
        OTEL_EXPORTER_OTLP_TIMEOUT="30000",
    )
    app.wait_until_ready()

    app.send_sigterm()

    assert app.exit_status(timeout=15) == -signal.SIGTERM  # bounded: no hang, not a benchmark


def test_shutdown_twice_is_harmless() -> None:
    """A second shutdown() does nothing and succeeds; init_telemetry() may then start afresh."""
    telemetry = init_telemetry(service_name="orders", exporters="memory")
    telemetry.meter.create_counter("orders.placed").add(1)

    assert telemetry.shutdown()
    assert telemetry.shutdown()

    again = init_telemetry(service_name="orders", exporters="memory")
    assert again is not telemetry
    assert again.shutdown()
