"""A process that configured otelkit and then forks: each child counts only what it records.

Pre-fork servers (gunicorn ``--preload``, Celery's prefork pool) fork a configured process.
Each test here runs a small program in its own interpreter that does the same with
``os.fork()``, and reads the result where it really goes: a real OTLP/HTTP receiver decoding
the protobuf, or otelkit's Prometheus listener over HTTP. The real servers with their workers
are in tests/e2e/test_prefork.py; these tests pin down the rules one by one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from otelkit._sdk_compat import clear_metric_aggregates
from tests.fixtures.servers import free_port

REPOSITORY = Path(__file__).resolve().parents[2]

if TYPE_CHECKING:
    from tests.fixtures.otlp_receiver import OtlpReceiver

pytestmark = pytest.mark.integration


def run(tmp_path: Path, script: str, env: dict[str, str], *args: str) -> list[Any]:
    """Run ``script`` in a fresh interpreter; it prints JSON lines, returned parsed."""
    (tmp_path / "program.py").write_text(textwrap.dedent(script))
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
    environ.update(env)
    done = subprocess.run(
        [sys.executable, "program.py", *args],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith(("{", "["))]


FORK_AND_EXPORT = """
import json, os, sys
import otelkit

telemetry = otelkit.init_telemetry(service_name="forker")
orders = telemetry.meter.create_counter("orders")  # an SDK instrument
orders.add(5)

@otelkit.counted("jobs.done")  # otelkit's fast path
def job():
    pass

for _ in range(5):
    job()
child = os.fork()
if child == 0:
    orders.add(3)
    for _ in range(3):
        job()
    sys.exit(0)  # a normal exit: otelkit flushes what the child recorded
os.waitpid(child, 0)
print(json.dumps({"parent": os.getpid(), "child": child}))
"""


def test_a_forked_child_exports_its_own_counts_under_its_own_instance_id(
    tmp_path: Path, otlp_http: OtlpReceiver
) -> None:
    (pids,) = run(
        tmp_path,
        FORK_AND_EXPORT,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_http.endpoint,
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRIC_EXPORT_INTERVAL": "600000",  # only the exit flushes export
        },
    )

    def by_process(name: str) -> dict[int, tuple[str, Any]]:
        return {
            p["resource"]["process.pid"]: (p["resource"]["service.instance.id"], p["value"])
            for p in otlp_http.metrics(name)
        }

    otlp_http.wait_for(lambda: len(by_process("orders")) == 2 and len(by_process("jobs.done")))
    for name in ("orders", "jobs.done"):
        values = by_process(name)
        assert values[pids["child"]][1] == 3, f"{name}: the child re-exported the parent's count"
        assert values[pids["parent"]][1] == 5, name
        assert values[pids["child"]][0] != values[pids["parent"]][0]  # service.instance.id


CHANGED_SDK_FORK = """
import json, logging, os, sys
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader
from tests.fixtures.sdk_changes import rename

RENAMED = {  # one internal of each seam, renamed as a new SDK release would
    "metrics.clear_aggregates": (MeterProvider, "_measurement_consumer"),
    "metrics.collect_callback": (MetricReader, "_collect"),
    "resource.update": (MeterProvider, "_update_resource"),
}
for seam in sys.argv[1:]:
    rename(*RENAMED[seam])

warnings = []
class Remember(logging.Handler):
    def emit(self, record):
        warnings.append(record.getMessage())
logging.getLogger("otelkit").addHandler(Remember(logging.WARNING))
""" + FORK_AND_EXPORT.replace(
    "    sys.exit(0)",
    "    print(json.dumps({'child warnings': warnings}), flush=True)\n    sys.exit(0)",
)


@pytest.mark.parametrize(
    ("renamed", "child_exports"),
    [
        (["metrics.clear_aggregates"], {"jobs.done": 3}),
        (["resource.update"], {"jobs.done": 3}),
        (["metrics.collect_callback"], {"orders": 3, "jobs.done": 3}),
        (["metrics.collect_callback", "metrics.clear_aggregates"], {}),
    ],
    ids=["no aggregates seam", "no resource seam", "no reader seam", "neither"],
)
def test_without_an_sdk_seam_a_child_never_re_exports_its_parents_counts(
    tmp_path: Path, otlp_http: OtlpReceiver, renamed: list[str], child_exports: dict[str, int]
) -> None:
    """What the child still exports is its own, under its own service.instance.id; what it
    cannot reset it does not export at all. The parent's counts stay exact."""
    child_said, pids = run(
        tmp_path,
        CHANGED_SDK_FORK,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_http.endpoint,
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRIC_EXPORT_INTERVAL": "600000",
            "PYTHONPATH": str(REPOSITORY),
        },
        *renamed,
    )

    def by_process(name: str) -> dict[int, tuple[str, Any]]:
        return {
            p["resource"]["process.pid"]: (p["resource"]["service.instance.id"], p["value"])
            for p in otlp_http.metrics(name)
        }

    otlp_http.wait_for(lambda: pids["parent"] in by_process("orders"))
    otlp_http.wait_for(lambda: pids["parent"] in by_process("jobs.done"))
    for name in ("orders", "jobs.done"):
        exported = by_process(name)
        parent_id, parent_value = exported.pop(pids["parent"])
        assert parent_value == 5, name
        if name not in child_exports:
            assert exported == {}, f"{name}: the child exported what it could not reset"
            continue
        ((pid, (instance_id, value)),) = exported.items()
        assert (pid, value) == (pids["child"], child_exports[name])
        assert instance_id != parent_id
    stopped = any("exports no OpenTelemetry SDK metrics" in w for w in child_said["child warnings"])
    assert stopped == ("orders" not in child_exports)


EXPORT_THEN_FORK = """
import json, os, sys
import otelkit

telemetry = otelkit.init_telemetry(service_name="forker")
orders = telemetry.meter.create_counter("orders")
orders.add(1)
telemetry.force_flush()  # the parent's exporter now keeps a connection to the receiver open
child = os.fork()
if child == 0:
    orders.add(2)
    telemetry.force_flush()
    os._exit(0)
os.waitpid(child, 0)
orders.add(4)
print(json.dumps({"parent": os.getpid(), "child": child}))
"""


def test_a_forked_child_exports_over_its_own_connection(
    tmp_path: Path, otlp_http: OtlpReceiver
) -> None:
    """The parent's kept-alive HTTP connection is not the child's: sharing one socket, two
    processes would interleave their requests on it."""
    (pids,) = run(
        tmp_path,
        EXPORT_THEN_FORK,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_http.endpoint,
            "OTEL_METRICS_EXPORTER": "otlp",
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRIC_EXPORT_INTERVAL": "600000",
        },
    )
    otlp_http.wait_for(lambda: len(otlp_http.requests_for("metrics")) >= 3)
    peers: dict[int, set[str]] = {}
    for request in otlp_http.requests_for("metrics"):
        for resource_metrics in request.message.resource_metrics:
            attributes = {a.key: a.value for a in resource_metrics.resource.attributes}
            peers.setdefault(attributes["process.pid"].int_value, set()).add(request.peer)
    assert set(peers) == {pids["parent"], pids["child"]}
    assert not peers[pids["parent"]] & peers[pids["child"]]
    assert [p["value"] for p in otlp_http.metrics("orders")] == [1, 2, 5]


PROMETHEUS_FAMILY = """
import json, os, signal, sys, time
import otelkit
from otelkit.exporters.prometheus import _endpoint

otelkit.init_telemetry(service_name="family", prometheus_port=int(sys.argv[1]))

@otelkit.counted("jobs.done")
@otelkit.timed("jobs.duration")
def job():
    pass

@otelkit.track_inprogress("jobs.active")
def hold(reader):
    os.read(reader, 1)  # until the parent writes (or the process is killed)

for _ in range(5):
    job()

children = []
for index in range(3):
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    child = os.fork()
    if child == 0:
        for _ in range(10 * (index + 1)):
            job()
        if index == 2:  # reports what a scrape from a child sees, then stays busy
            os.write(ready_w, _endpoint._current.scrape())
            os.close(ready_w)
            hold(go_r)
        else:
            os.close(ready_w)
            os.read(go_r, 1)
        sys.exit(0)
    os.close(ready_w)
    body = b""
    while chunk := os.read(ready_r, 65536):
        body += chunk
    children.append({"pid": child, "go": go_w, "scrape": body.decode()})

print(json.dumps({"phase": "all running", "children": [c["pid"] for c in children],
                  "child scrape": children[2]["scrape"]}), flush=True)
input()  # the test scrapes
os.write(children[0]["go"], b"x")  # child 0 exits normally
os.kill(children[1]["pid"], signal.SIGKILL)  # child 1 is killed: no exit handler runs
for child in children[:2]:
    os.waitpid(child["pid"], 0)
print(json.dumps({"phase": "two ended"}), flush=True)
input()
os.kill(children[2]["pid"], signal.SIGKILL)  # killed while a job is in progress
os.waitpid(children[2]["pid"], 0)
print(json.dumps({"phase": "all ended"}), flush=True)
input()
"""


def _samples(body: str, name: str) -> dict[str, float]:
    found = {}
    for line in body.splitlines():
        match = re.match(rf"({name}(?:{{.*}})?) (\S+)$", line)
        if match:
            found[match.group(1)] = float(match.group(2))
    return found


def _total(body: str, name: str) -> float:
    return sum(_samples(body, name).values())


class Family:
    """The PROMETHEUS_FAMILY program, driven phase by phase through stdin."""

    def __init__(self, tmp_path: Path, port: int, env: dict[str, str] | None = None) -> None:
        (tmp_path / "family.py").write_text(textwrap.dedent(PROMETHEUS_FAMILY))
        environ = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "OTELKIT_"))}
        environ.update(env or {})
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "family.py", str(port)],
            cwd=tmp_path,
            env=environ,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def next_phase(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the program ended: exit {self.process.wait()}"
        phase: dict[str, Any] = json.loads(line)
        return phase

    def advance(self) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write("\n")
        self.process.stdin.flush()
        return self.next_phase()

    def scrape(self) -> str:
        response = requests.get(f"http://127.0.0.1:{self.port}/metrics", timeout=10)
        response.raise_for_status()
        return response.text

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def family(tmp_path: Path) -> Any:
    running = Family(tmp_path, free_port())
    yield running
    running.stop()


def test_one_scrape_sums_the_parent_and_every_child_even_killed_ones(family: Family) -> None:
    recorded = 5 + 10 + 20 + 30
    first = family.next_phase()
    assert first["phase"] == "all running"
    body = family.scrape()
    assert _total(body, "jobs_done_total") == recorded
    assert _total(body, "jobs_duration_seconds_count") == recorded
    assert _total(body, "jobs_active") == 1  # child 2 is inside hold()
    # A child's scrape (before child 2 started its job) gives the total too.
    assert _total(first["child scrape"], "jobs_done_total") == recorded
    # One target for the whole family: no process.pid, the group's instance id.
    (target_info,) = _samples(body, "target_info")
    assert "process_pid" not in target_info
    assert "service_instance_id" in target_info

    assert family.advance()["phase"] == "two ended"
    body = family.scrape()
    assert _total(body, "jobs_done_total") == recorded  # the SIGKILLed child's count stays
    assert _total(body, "jobs_duration_seconds_count") == recorded
    assert _total(body, "jobs_active") == 1

    assert family.advance()["phase"] == "all ended"
    body = family.scrape()
    assert _total(body, "jobs_done_total") == recorded
    assert _total(body, "jobs_active") == 0  # a dead process has nothing in progress
    buckets = _samples(body, "jobs_duration_seconds_bucket")
    (infinite,) = [v for k, v in buckets.items() if 'le="+Inf"' in k]
    assert infinite == recorded


def test_per_process_gauges_carry_the_pid_and_end_with_the_process(family: Family) -> None:
    children = family.next_phase()["children"]
    body = family.scrape()
    pids = {
        int(m)
        for line in body.splitlines()
        if line.startswith(("otelkit_health_status", "process_"))
        for m in re.findall(r'process_pid="(\d+)"', line)
    }
    assert pids == {family.process.pid, *children}
    family.advance()
    family.advance()
    body = family.scrape()
    assert not set(map(int, re.findall(r'process_pid="(\d+)"', body))) & set(children)


def test_the_sdk_state_otelkit_clears_in_a_child_has_the_expected_shape() -> None:
    """Guards the private SDK seam otelkit._sdk_compat.clear_metric_aggregates (pinned < 2)."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    counter = provider.get_meter("test").create_counter("things")
    counter.add(4, {"kind": "a"})
    clear_metric_aggregates(provider)
    counter.add(1, {"kind": "a"})
    data = reader.get_metrics_data()
    assert data is not None
    (point,) = data.resource_metrics[0].scope_metrics[0].metrics[0].data.data_points
    assert point.value == 1
    provider.shutdown()


RESTART = """
import sys
import otelkit

otelkit.init_telemetry(service_name="restarts", prometheus_port=int(sys.argv[1]))

@otelkit.counted("jobs.done")
def job():
    pass

for _ in range(int(sys.argv[2])):
    job()
import requests
body = requests.get(f"http://127.0.0.1:{sys.argv[1]}/metrics").text
total = sum(float(l.rsplit(" ", 1)[1]) for l in body.splitlines() if l.startswith("jobs_done"))
print('{"total": %d}' % total)
"""


def test_a_configured_directory_keeps_counting_across_processes(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    env = {"OTELKIT_PROMETHEUS_MULTIPROCESS_DIR": str(shared)}
    (first,) = run(tmp_path, RESTART, env, str(free_port()), "4")
    (second,) = run(tmp_path, RESTART, env, str(free_port()), "6")
    assert first == {"total": 4}
    assert second == {"total": 10}  # never backwards: the ended process's count stays
    assert len(list(shared.glob("*.otelkit"))) == 2


def test_an_unusable_directory_is_a_config_error_naming_the_variable(tmp_path: Path) -> None:
    from otelkit import ConfigError, init_telemetry

    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OTELKIT_PROMETHEUS_MULTIPROCESS_DIR", str(not_a_directory / "sub"))
        with pytest.raises(ConfigError, match="OTELKIT_PROMETHEUS_MULTIPROCESS_DIR=") as error:
            init_telemetry(service_name="bad", exporters="prometheus", prometheus_port=0)
    assert "writable directory" in str(error.value)
    with pytest.raises(ConfigError, match="prometheus_multiprocess_dir="):
        init_telemetry(
            service_name="bad",
            exporters="prometheus",
            prometheus_port=0,
            prometheus_multiprocess_dir=str(not_a_directory / "sub"),
        )


RECYCLING = """
import json, os, sys
from pathlib import Path
import otelkit
from otelkit.exporters.prometheus import _endpoint

directory = Path(sys.argv[1])
otelkit.init_telemetry(service_name="recycler", prometheus_port=0,
                       prometheus_multiprocess_dir=str(directory))

@otelkit.counted("jobs.done")
def job():
    pass

def total():
    body = _endpoint._current.scrape().decode()
    return sum(float(l.rsplit(" ", 1)[1]) for l in body.splitlines() if l.startswith("jobs_done"))

totals, files = [], []
for generation in range(20):  # a worker is forked, counts, and ends: as under max_requests
    child = os.fork()
    if child == 0:
        for _ in range(7):
            job()
        os._exit(0)  # as Celery's pool processes leave
    os.waitpid(child, 0)
    totals.append(total())
    files.append(len(list(directory.glob("*.otelkit"))))
print(json.dumps({"totals": totals, "files": files}))
"""


def test_files_of_ended_workers_are_merged_and_no_count_is_lost(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (result,) = run(tmp_path, RECYCLING, {}, str(shared))
    assert result["totals"] == [7.0 * n for n in range(1, 21)]  # exact, never backwards
    # The parent's file, an archive and fewer than COMPACT_AFTER files of ended workers.
    assert max(result["files"][10:]) <= 2 + 8
    assert len(list(shared.glob("archive-*.otelkit"))) == 1


REINIT_AFTER_FORK = """
import json, os, signal, sys, urllib.request
import otelkit

otelkit.init_telemetry(service_name="first", prometheus_port=0).shutdown()
child = os.fork()
if child == 0:
    signal.alarm(10)  # a lock inherited in the held state would hang the scrape
    otelkit.init_telemetry(service_name="second", prometheus_port=int(sys.argv[1]))
    # Served by the listener's thread, not the thread that forked (which owns what it held).
    body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics").read().decode()
    info = [line for line in body.splitlines() if line.startswith("target_info")]
    print(json.dumps({"target_info": info}))
    sys.stdout.flush()
    os._exit(0)
_, status = os.waitpid(child, 0)
print(json.dumps({"child exit": os.waitstatus_to_exitcode(status)}))
"""


def test_a_child_of_a_shut_down_configuration_configures_itself(tmp_path: Path) -> None:
    scraped, exited = run(tmp_path, REINIT_AFTER_FORK, {}, str(free_port()))
    assert exited == {"child exit": 0}
    (target_info,) = scraped["target_info"]
    assert 'service_name="second"' in target_info
