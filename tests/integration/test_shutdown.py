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


def start_child(tmp_path: Path, script: str, endpoint: str, **env: str) -> subprocess.Popen[str]:
    """Start ``script`` in a fresh interpreter that exports to ``endpoint`` over OTLP/HTTP."""
    path = tmp_path / "app.py"
    path.write_text(textwrap.dedent(script))
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    environ.update(
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_METRICS_EXPORTER="otlp",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_METRIC_EXPORT_INTERVAL="600000",
        OTEL_BSP_SCHEDULE_DELAY="600000",
        **env,
    )
    with (tmp_path / "stderr").open("w") as stderr:
        return subprocess.Popen(
            [sys.executable, str(path), str(tmp_path / "marker")],
            cwd=tmp_path,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )


def wait_ready(child: subprocess.Popen[str], tmp_path: Path) -> None:
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    if line != "ready":
        child.kill()
        child.wait()
        pytest.fail(f"the child did not start: {(tmp_path / 'stderr').read_text()}")


def finish(child: subprocess.Popen[str], tmp_path: Path, timeout: float = 30) -> int:
    """Wait for the child to end and return its exit status (it is killed after ``timeout``)."""
    try:
        return child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
        pytest.fail(
            f"the child was still running {timeout:g} s later: {(tmp_path / 'stderr').read_text()}"
        )
    finally:
        assert child.stdout is not None
        child.stdout.close()


def test_sigterm_flushes_then_runs_the_applications_handler(
    otlp_http: OtlpReceiver, tmp_path: Path
) -> None:
    """On SIGTERM everything recorded is exported, then the application's own handler runs."""
    child = start_child(tmp_path, APP_HANDLER + RECORD_AND_WAIT, otlp_http.endpoint)
    wait_ready(child, tmp_path)

    child.send_signal(signal.SIGTERM)

    assert finish(child, tmp_path) == 0
    assert (tmp_path / "marker").read_text() == "app handler ran"
    assert otlp_http.metrics("jobs.done")[-1]["value"] == 3
    assert [s["name"] for s in otlp_http.spans()] == ["job"]


def test_sigterm_without_an_application_handler_still_ends_the_process(
    otlp_http: OtlpReceiver, tmp_path: Path
) -> None:
    """Without a handler of its own, the process exports and then dies of SIGTERM as usual."""
    child = start_child(tmp_path, RECORD_AND_WAIT, otlp_http.endpoint)
    wait_ready(child, tmp_path)

    child.send_signal(signal.SIGTERM)

    assert finish(child, tmp_path) == -signal.SIGTERM
    assert otlp_http.metrics("jobs.done")[-1]["value"] == 3
    assert [s["name"] for s in otlp_http.spans()] == ["job"]


def test_returning_from_main_flushes_at_exit(otlp_http: OtlpReceiver, tmp_path: Path) -> None:
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
    child = start_child(tmp_path, script, otlp_http.endpoint)

    assert finish(child, tmp_path) == 0
    assert otlp_http.metrics("rows.imported")[-1]["value"] == 250
    assert [s["name"] for s in otlp_http.spans()] == ["import"]


def test_an_unresponsive_collector_cannot_hold_the_process(
    silent_endpoint: str, tmp_path: Path
) -> None:
    """OTELKIT_SHUTDOWN_TIMEOUT bounds the flush on SIGTERM even when exports would wait 30 s."""
    child = start_child(
        tmp_path,
        RECORD_AND_WAIT,
        silent_endpoint,
        OTELKIT_SHUTDOWN_TIMEOUT="1",
        OTEL_EXPORTER_OTLP_TIMEOUT="30000",
    )
    wait_ready(child, tmp_path)

    child.send_signal(signal.SIGTERM)

    assert finish(child, tmp_path, timeout=15) == -signal.SIGTERM


def test_shutdown_twice_is_harmless() -> None:
    """A second shutdown() does nothing and succeeds; init_telemetry() may then start afresh."""
    telemetry = init_telemetry(service_name="orders", exporters="memory")
    telemetry.meter.create_counter("orders.placed").add(1)

    assert telemetry.shutdown()
    assert telemetry.shutdown()

    again = init_telemetry(service_name="orders", exporters="memory")
    assert again is not telemetry
    assert again.shutdown()
