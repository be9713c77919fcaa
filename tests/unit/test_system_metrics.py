"""System and process metrics: semconv names, values psutil agrees with, one read per collection."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

import psutil
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import Gauge, InMemoryMetricReader, Sum
from opentelemetry.semconv._incubating.attributes.cpu_attributes import CPU_MODE
from opentelemetry.semconv._incubating.attributes.network_attributes import (
    NETWORK_INTERFACE_NAME,
    NETWORK_IO_DIRECTION,
)
from opentelemetry.semconv._incubating.attributes.system_attributes import (
    SYSTEM_DEVICE,
    SYSTEM_FILESYSTEM_MODE,
    SYSTEM_FILESYSTEM_MOUNTPOINT,
    SYSTEM_FILESYSTEM_STATE,
    SYSTEM_FILESYSTEM_TYPE,
    SYSTEM_MEMORY_STATE,
)
from opentelemetry.semconv._incubating.metrics.process_metrics import (
    PROCESS_CPU_UTILIZATION,
    PROCESS_MEMORY_USAGE,
    PROCESS_MEMORY_VIRTUAL,
    PROCESS_THREAD_COUNT,
    PROCESS_UNIX_FILE_DESCRIPTOR_COUNT,
    PROCESS_UPTIME,
)
from opentelemetry.semconv._incubating.metrics.system_metrics import (
    SYSTEM_CPU_TIME,
    SYSTEM_CPU_UTILIZATION,
    SYSTEM_FILESYSTEM_USAGE,
    SYSTEM_FILESYSTEM_UTILIZATION,
    SYSTEM_MEMORY_USAGE,
    SYSTEM_MEMORY_UTILIZATION,
    SYSTEM_NETWORK_ERRORS,
    SYSTEM_NETWORK_IO,
    SYSTEM_NETWORK_PACKET_COUNT,
    SYSTEM_PROCESS_COUNT,
)

import otelkit
import otelkit.testing
from otelkit import _errors
from otelkit._version import __version__
from otelkit.instrumentation import system

if TYPE_CHECKING:
    from collections.abc import Iterator

LOAD_AVERAGE_1M = "system.cpu.load_average.1m"
MiB = 1 << 20

# name → (data type, monotonic for sums, unit), as the semantic conventions define them.
EXPECTED: dict[str, tuple[type[Any], bool | None, str]] = {
    SYSTEM_CPU_UTILIZATION: (Gauge, None, "1"),
    SYSTEM_MEMORY_USAGE: (Sum, False, "By"),
    SYSTEM_MEMORY_UTILIZATION: (Gauge, None, "1"),
    SYSTEM_FILESYSTEM_USAGE: (Sum, False, "By"),
    SYSTEM_FILESYSTEM_UTILIZATION: (Gauge, None, "1"),
    SYSTEM_NETWORK_IO: (Sum, True, "By"),
    SYSTEM_PROCESS_COUNT: (Sum, False, "{process}"),
    LOAD_AVERAGE_1M: (Gauge, None, "{thread}"),
    PROCESS_CPU_UTILIZATION: (Gauge, None, "1"),
    PROCESS_MEMORY_USAGE: (Sum, False, "By"),
    PROCESS_MEMORY_VIRTUAL: (Sum, False, "By"),
    PROCESS_THREAD_COUNT: (Sum, False, "{thread}"),
    PROCESS_UNIX_FILE_DESCRIPTOR_COUNT: (Sum, False, "{file_descriptor}"),
    PROCESS_UPTIME: (Gauge, None, "s"),
}
SYSTEM_CPU_MODES = {"user", "nice", "system", "idle", "iowait", "interrupt", "steal"}
LINUX = sys.platform.startswith("linux")


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[otelkit.Telemetry]:
    for name in ("OTEL_SDK_DISABLED", "OTELKIT_SYSTEM_METRICS", "OTELKIT_INSTRUMENT"):
        monkeypatch.delenv(name, raising=False)
    telemetry = otelkit.init_telemetry("system-test", exporters="memory", instrument="system")
    yield telemetry
    telemetry.shutdown()


@pytest.fixture
def provider() -> Iterator[tuple[MeterProvider, InMemoryMetricReader]]:
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    yield meter_provider, reader
    meter_provider.shutdown()


def collect(telemetry: otelkit.Telemetry) -> dict[str, Any]:
    """One collection: the metrics of the ``otelkit.system`` scope by name."""
    return _system_scope(otelkit.testing.metrics(telemetry))


def _system_scope(data: Any) -> dict[str, Any]:
    return {
        metric.name: metric
        for resource_metrics in (data.resource_metrics if data is not None else ())
        for scope_metrics in resource_metrics.scope_metrics
        if scope_metrics.scope.name == "otelkit.system"
        for metric in scope_metrics.metrics
    }


def value(metrics: dict[str, Any], name: str) -> float:
    """The value of a metric without attributes."""
    (point,) = metrics[name].data.data_points
    assert dict(point.attributes or {}) == {}
    return float(point.value)


def by(metrics: dict[str, Any], name: str, attribute: str) -> dict[str, float]:
    return {
        str(point.attributes[attribute]): float(point.value)
        for point in metrics[name].data.data_points
    }


def burn_cpu(seconds: float) -> None:
    """Spend ``seconds`` of CPU time in this thread."""
    end = time.process_time() + seconds
    total = 0
    while time.process_time() < end:
        total += sum(range(1000))


def test_names_units_and_instrument_types_follow_the_conventions(
    telemetry: otelkit.Telemetry,
) -> None:
    """Every metric is there under its semconv name, unit and type, in scope otelkit.system."""
    data = otelkit.testing.metrics(telemetry)
    assert data is not None
    scopes = {
        (s.scope.name, s.scope.version) for r in data.resource_metrics for s in r.scope_metrics
    }
    assert ("otelkit.system", __version__) in scopes
    metrics = _system_scope(data)
    expected = dict(EXPECTED)
    if not hasattr(os, "getloadavg"):
        del expected[LOAD_AVERAGE_1M]
    if not hasattr(psutil.Process, "num_fds"):
        del expected[PROCESS_UNIX_FILE_DESCRIPTOR_COUNT]
    assert set(metrics) == set(expected)
    for name, (kind, monotonic, unit) in expected.items():
        metric = metrics[name]
        assert isinstance(metric.data, kind), name
        assert metric.unit == unit, name
        if monotonic is not None:
            assert metric.data.is_monotonic is monotonic, name
        assert metric.data.data_points, name


def test_process_values_match_psutil(telemetry: otelkit.Telemetry) -> None:
    """RSS, VMS, threads, file descriptors and uptime agree with psutil read around them."""
    process = psutil.Process()
    before = process.memory_info(), process.num_threads(), process.num_fds()
    metrics = collect(telemetry)
    after = process.memory_info(), process.num_threads(), process.num_fds()

    rss, vms = value(metrics, PROCESS_MEMORY_USAGE), value(metrics, PROCESS_MEMORY_VIRTUAL)
    assert min(before[0].rss, after[0].rss) - 8 * MiB <= rss <= max(before[0].rss, after[0].rss)
    assert abs(vms - after[0].vms) <= 64 * MiB
    assert value(metrics, PROCESS_THREAD_COUNT) in {before[1], after[1]}
    assert abs(value(metrics, PROCESS_UNIX_FILE_DESCRIPTOR_COUNT) - after[2]) <= 2
    assert value(metrics, PROCESS_UPTIME) == pytest.approx(
        time.time() - process.create_time(), abs=1.0
    )


def test_system_memory_matches_psutil(telemetry: otelkit.Telemetry) -> None:
    """Memory by system.memory.state is psutil's, and utilization is usage over the total."""
    metrics = collect(telemetry)
    memory = psutil.virtual_memory()
    usage = by(metrics, SYSTEM_MEMORY_USAGE, SYSTEM_MEMORY_STATE)
    expected_states = {"used", "free", "buffers", "cached"} if LINUX else {"used", "free"}
    assert expected_states <= set(usage) <= {"used", "free", "buffers", "cached"}
    for state, used in usage.items():
        assert used == pytest.approx(getattr(memory, state), abs=0.02 * memory.total), state
    utilization = by(metrics, SYSTEM_MEMORY_UTILIZATION, SYSTEM_MEMORY_STATE)
    assert set(utilization) == set(usage)
    for state, fraction in utilization.items():
        assert fraction == pytest.approx(usage[state] / memory.total, rel=1e-9), state


def test_root_filesystem_matches_psutil(telemetry: otelkit.Telemetry) -> None:
    """`/` is reported with device, mountpoint, type, mode, and used + free + reserved = size."""
    metrics = collect(telemetry)
    usage = psutil.disk_usage("/")
    points = [
        p
        for p in metrics[SYSTEM_FILESYSTEM_USAGE].data.data_points
        if p.attributes[SYSTEM_FILESYSTEM_MOUNTPOINT] == "/"
    ]
    root = next(p for p in psutil.disk_partitions(all=True) if p.mountpoint == "/")
    states = {}
    for point in points:
        attributes = dict(point.attributes)
        assert attributes.pop(SYSTEM_DEVICE) == root.device
        assert attributes.pop(SYSTEM_FILESYSTEM_TYPE) == root.fstype
        assert attributes.pop(SYSTEM_FILESYSTEM_MODE) in {"rw", "ro"}
        assert attributes.pop(SYSTEM_FILESYSTEM_MOUNTPOINT) == "/"
        states[attributes.pop(SYSTEM_FILESYSTEM_STATE)] = point.value
        assert attributes == {}
    assert set(states) == {"used", "free", "reserved"}
    tolerance = max(0.01 * usage.total, 64 * MiB)
    assert states["used"] == pytest.approx(usage.used, abs=tolerance)
    assert states["free"] == pytest.approx(usage.free, abs=tolerance)
    assert sum(states.values()) == usage.total

    fractions = {
        p.attributes[SYSTEM_FILESYSTEM_STATE]: p.value
        for p in metrics[SYSTEM_FILESYSTEM_UTILIZATION].data.data_points
        if p.attributes[SYSTEM_FILESYSTEM_MOUNTPOINT] == "/"
    }
    assert fractions == {s: pytest.approx(v / usage.total) for s, v in states.items()}


def test_only_local_disk_filesystems_are_reported(telemetry: otelkit.Telemetry) -> None:
    """No proc, sysfs, tmpfs, cgroup or network filesystem, and each device once."""
    metrics = collect(telemetry)
    points = metrics[SYSTEM_FILESYSTEM_USAGE].data.data_points
    types = {p.attributes[SYSTEM_FILESYSTEM_TYPE] for p in points}
    assert not types & {"proc", "sysfs", "tmpfs", "devtmpfs", "cgroup", "cgroup2", "nfs", "nfs4"}
    devices = [
        p.attributes[SYSTEM_DEVICE]
        for p in points
        if p.attributes[SYSTEM_FILESYSTEM_STATE] == "used"
        and str(p.attributes[SYSTEM_DEVICE]).startswith("/dev/")
    ]
    assert len(devices) == len(set(devices))


def test_network_io_is_monotonic_and_bracketed_by_psutil(telemetry: otelkit.Telemetry) -> None:
    """Bytes per interface and direction lie between psutil's reads before and after."""
    before = psutil.net_io_counters(pernic=True)
    first = collect(telemetry)
    after = psutil.net_io_counters(pernic=True)
    points = first[SYSTEM_NETWORK_IO].data.data_points
    seen = set()
    for point in points:
        assert set(point.attributes) == {NETWORK_INTERFACE_NAME, NETWORK_IO_DIRECTION}
        name = point.attributes[NETWORK_INTERFACE_NAME]
        direction = point.attributes[NETWORK_IO_DIRECTION]
        field = {"transmit": "bytes_sent", "receive": "bytes_recv"}[str(direction)]
        if name in before and name in after:
            low, high = getattr(before[name], field), getattr(after[name], field)
            assert low <= point.value <= high, (name, direction)
        seen.add((name, direction))
    assert {n for n, _ in seen} >= set(before) & set(after)

    second = collect(telemetry)
    earlier = {
        (p.attributes[NETWORK_INTERFACE_NAME], p.attributes[NETWORK_IO_DIRECTION]): p.value
        for p in points
    }
    for point in second[SYSTEM_NETWORK_IO].data.data_points:
        key = (point.attributes[NETWORK_INTERFACE_NAME], point.attributes[NETWORK_IO_DIRECTION])
        if key in earlier:
            assert point.value >= earlier[key], key


def test_system_cpu_utilization_by_mode(telemetry: otelkit.Telemetry) -> None:
    """One point per cpu.mode the conventions list, each in [0, 1], adding up to 1."""
    collect(telemetry)
    burn_cpu(0.05)
    metrics = collect(telemetry)
    modes = by(metrics, SYSTEM_CPU_UTILIZATION, CPU_MODE)
    if LINUX:
        assert set(modes) == SYSTEM_CPU_MODES
    assert set(modes) <= SYSTEM_CPU_MODES
    assert all(0.0 <= v <= 1.0 for v in modes.values())
    assert sum(modes.values()) == pytest.approx(1.0)


def test_process_cpu_utilization_after_burning_cpu(telemetry: otelkit.Telemetry) -> None:
    """User + system utilization is in [0, 1] and agrees with psutil over the same window."""
    process = psutil.Process()
    collect(telemetry)
    start_cpu, start = process.cpu_times(), time.monotonic()
    burn_cpu(0.3)
    end_cpu, end = process.cpu_times(), time.monotonic()
    metrics = collect(telemetry)

    modes = by(metrics, PROCESS_CPU_UTILIZATION, CPU_MODE)
    assert set(modes) == {"user", "system"}
    assert all(0.0 <= v <= 1.0 for v in modes.values())
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    spent = (end_cpu.user - start_cpu.user) + (end_cpu.system - start_cpu.system)
    expected = spent / ((end - start) * (cpus or 1))
    assert sum(modes.values()) == pytest.approx(expected, abs=0.15)
    assert sum(modes.values()) > 0.1 / (cpus or 1)


@pytest.mark.skipif(not hasattr(os, "getloadavg"), reason="no load average on this platform")
def test_load_average_is_the_one_minute_load(telemetry: otelkit.Telemetry) -> None:
    before = os.getloadavg()[0]
    metrics = collect(telemetry)
    after = os.getloadavg()[0]
    assert value(metrics, LOAD_AVERAGE_1M) in {before, after}


class _CountedProcessClass:
    """Stands for ``psutil.Process``: its instances count their method calls."""

    def __init__(self, calls: collections.Counter[str]) -> None:
        self._calls = calls

    def __getattr__(self, name: str) -> Any:
        return getattr(psutil.Process, name)

    def __call__(self, pid: int) -> Any:
        self._calls["Process"] += 1
        return _Counted(psutil.Process(pid), self._calls, "Process.")


class _Counted:
    """A module or object whose callable attributes count their calls in ``calls``."""

    def __init__(self, target: Any, calls: collections.Counter[str], prefix: str = "") -> None:
        self._target, self._calls, self._prefix = target, calls, prefix

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._target, name)
        if name == "Process" and self._prefix == "":
            return _CountedProcessClass(self._calls)
        if not callable(found) or isinstance(found, type):
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._calls[self._prefix + name] += 1
            return found(*args, **kwargs)

        return counted


def test_one_psutil_read_per_collection(
    provider: tuple[MeterProvider, InMemoryMetricReader],
) -> None:
    """Every callback of a collection shares one sample; each psutil function runs once in it."""
    meter_provider, reader = provider
    calls: collections.Counter[str] = collections.Counter()
    samples = []
    psutil_reader = system.PsutilReader(_Counted(psutil, calls))

    def read() -> system.Sample:
        sample = psutil_reader.read()
        samples.append(sample)
        return sample

    installed = system.SystemMetrics(meter_provider, read)
    assert len(installed.names) >= 11
    for collection in range(3):
        calls.clear()
        metrics = _system_scope(reader.get_metrics_data())
        assert len(samples) == collection + 1
        assert set(metrics) == set(installed.names)
        filesystems = {
            p.attributes[SYSTEM_FILESYSTEM_MOUNTPOINT]
            for p in metrics[SYSTEM_FILESYSTEM_USAGE].data.data_points
        }
        assert calls.pop("disk_usage") == len(filesystems)
        if collection == 0:
            assert calls.pop("Process") == 1
        assert calls, "psutil was not read"
        assert set(calls.values()) == {1}, calls


def test_each_reader_collection_takes_its_own_sample(
    provider: tuple[MeterProvider, InMemoryMetricReader],
) -> None:
    """Two readers collecting in turn: one sample per collection, never one per callback."""
    meter_provider, first = provider
    second = InMemoryMetricReader()
    other = MeterProvider(metric_readers=[second], shutdown_on_exit=False)
    reads: list[int] = []
    psutil_reader = system.PsutilReader(psutil)

    def read() -> system.Sample:
        reads.append(1)
        return psutil_reader.read()

    system.SystemMetrics(meter_provider, read)
    system.SystemMetrics(other, read)
    for reader in (first, second, first, first, second):
        reader.get_metrics_data()
    assert len(reads) == 5
    other.shutdown()


def test_two_readers_on_one_provider_share_nothing_but_the_reading_code() -> None:
    """Each reader of one provider triggers exactly one sample per collection."""
    readers = [InMemoryMetricReader(), InMemoryMetricReader()]
    meter_provider = MeterProvider(metric_readers=readers, shutdown_on_exit=False)
    reads: list[int] = []
    psutil_reader = system.PsutilReader(psutil)

    def read() -> system.Sample:
        reads.append(1)
        return psutil_reader.read()

    system.SystemMetrics(meter_provider, read)
    for index in (0, 1, 1, 0):
        assert _system_scope(readers[index].get_metrics_data())
    assert len(reads) == 4
    meter_provider.shutdown()


@pytest.fixture
def errors_logged() -> Iterator[None]:
    """Production behaviour for one test: internal errors are counted and logged, not raised."""
    _errors.raise_internal_errors(False)
    yield
    _errors.raise_internal_errors(True)


@pytest.mark.usefixtures("errors_logged")
def test_a_failing_read_never_reaches_the_sdk(
    provider: tuple[MeterProvider, InMemoryMetricReader], caplog: pytest.LogCaptureFixture
) -> None:
    """A sample that cannot be taken is counted as an internal error; nothing is reported."""
    meter_provider, reader = provider
    reads: list[int] = []

    def read() -> system.Sample:
        reads.append(1)
        raise RuntimeError("psutil broke")

    before = _errors.internal_error_count("system")
    system.SystemMetrics(meter_provider, read)
    assert _system_scope(reader.get_metrics_data()) == {}
    assert _system_scope(reader.get_metrics_data()) == {}
    assert reads == [1, 1]  # one attempt per collection, not one per callback
    assert _errors.internal_error_count("system") == before + 2
    assert not [r for r in caplog.records if r.name.startswith("opentelemetry")]


class _NoNetwork:
    def __init__(self) -> None:
        self._real = psutil

    def __getattr__(self, name: str) -> Any:
        if name == "net_io_counters":
            raise OSError("no /proc/net/dev here")
        return getattr(self._real, name)


@pytest.mark.usefixtures("errors_logged")
def test_a_failing_part_leaves_the_others(
    provider: tuple[MeterProvider, InMemoryMetricReader],
) -> None:
    """When one psutil call fails, only its metrics are missing from the collection."""
    meter_provider, reader = provider
    before = _errors.internal_error_count("system")
    installed = system.SystemMetrics(meter_provider, system.PsutilReader(_NoNetwork()).read)
    metrics = _system_scope(reader.get_metrics_data())
    assert set(metrics) == set(installed.names) - {SYSTEM_NETWORK_IO}
    assert _errors.internal_error_count("system") == before + 1


def test_install_twice_on_one_provider_registers_once(
    provider: tuple[MeterProvider, InMemoryMetricReader],
) -> None:
    meter_provider, reader = provider
    assert system.install(meter_provider) is not None
    assert system.install(meter_provider) is None
    metrics = _system_scope(reader.get_metrics_data())
    assert len(metrics[PROCESS_MEMORY_USAGE].data.data_points) == 1


def test_off_means_no_system_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTELKIT_SYSTEM_METRICS=off installs nothing."""
    monkeypatch.setenv("OTELKIT_SYSTEM_METRICS", "off")
    telemetry = otelkit.init_telemetry("system-off", exporters="memory", instrument="system")
    assert collect(telemetry) == {}
    telemetry.shutdown()


def _python(code: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.splitlines()[-1])


def test_psutil_is_imported_only_by_install() -> None:
    """Importing otelkit or this module loads no psutil (the SDK's resources module may)."""
    loaded = _python(
        "import sys, json, otelkit, otelkit.instrumentation.system; "
        "print(json.dumps('psutil' in sys.modules))"
    )
    assert loaded is False


def test_without_psutil_install_warns_once_or_names_the_extra() -> None:
    """Missing psutil: one warning with the pip command; ConfigError when asked for by name."""
    result = _python(
        "import sys, json, logging\n"
        "sys.modules['psutil'] = None  # what an uninstalled package looks like to import\n"
        "records = []\n"
        "class Keep(logging.Handler):\n"
        "    def emit(self, record): records.append(record.getMessage())\n"
        "logging.getLogger('otelkit').addHandler(Keep())\n"
        "from opentelemetry.sdk.metrics import MeterProvider\n"
        "from otelkit import ConfigError\n"
        "from otelkit.instrumentation import system\n"
        "provider = MeterProvider(shutdown_on_exit=False)\n"
        "results = [system.install(provider), system.install(provider)]\n"
        "try:\n"
        "    system.install(provider, required=True)\n"
        "    error = None\n"
        "except ConfigError as exc:\n"
        "    error = str(exc)\n"
        "print(json.dumps({'results': results, 'records': records, 'error': error}))\n"
    )
    assert result["results"] == [None, None]
    assert len(result["records"]) == 1
    assert "pip install 'otelkit[system]'" in result["records"][0]
    assert "pip install 'otelkit[system]'" in result["error"]
    assert "OTELKIT_INSTRUMENT" in result["error"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_reports_itself() -> None:
    """After a fork the child measures its own pid, and its CPU window starts at its birth."""
    result = _python(
        "import json, os, psutil\n"
        "from opentelemetry.sdk.metrics import MeterProvider\n"
        "from opentelemetry.sdk.metrics.export import InMemoryMetricReader\n"
        "from otelkit.instrumentation import system\n"
        "reader = InMemoryMetricReader()\n"
        "provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)\n"
        "pids = []\n"
        "psutil_reader = system.PsutilReader(psutil)\n"
        "def read():\n"
        "    sample = psutil_reader.read()\n"
        "    pids.append(sample.process.pid)\n"
        "    return sample\n"
        "system.SystemMetrics(provider, read)\n"
        "reader.get_metrics_data()\n"
        "out, into = os.pipe()\n"
        "child = os.fork()\n"
        "if child == 0:\n"
        "    data = reader.get_metrics_data()\n"
        "    uptime = [m.data.data_points[0].value for r in data.resource_metrics\n"
        "              for s in r.scope_metrics for m in s.metrics if m.name == 'process.uptime']\n"
        "    os.write(into, json.dumps([pids[-1] == os.getpid(), uptime[0]]).encode())\n"
        "    os._exit(0)\n"
        "os.close(into)\n"
        "answer = json.loads(os.read(out, 200))\n"
        "os.waitpid(child, 0)\n"
        "print(json.dumps({'child': answer, 'parent': pids == [os.getpid()]}))\n"
    )
    child_is_itself, child_uptime = result["child"]
    assert child_is_itself
    assert child_uptime < 5
    assert result["parent"]


# -- OTELKIT_SYSTEM_METRICS_DETAIL ----------------------------------------------------------

DETAIL = {SYSTEM_CPU_TIME, SYSTEM_NETWORK_PACKET_COUNT, SYSTEM_NETWORK_ERRORS}


def test_the_process_count_is_the_hosts_number_of_processes(telemetry: otelkit.Telemetry) -> None:
    """Without the detail option: one series, the total, between two psutil readings."""
    low = len(psutil.pids())
    total = value(collect(telemetry), SYSTEM_PROCESS_COUNT)
    high = len(psutil.pids())
    assert min(low, high) - 5 <= total <= max(low, high) + 5
    assert DETAIL.isdisjoint(collect(telemetry))  # the detail instruments are off


@pytest.fixture
def detailed(monkeypatch: pytest.MonkeyPatch) -> Iterator[otelkit.Telemetry]:
    for name in ("OTEL_SDK_DISABLED", "OTELKIT_SYSTEM_METRICS", "OTELKIT_INSTRUMENT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTELKIT_SYSTEM_METRICS_DETAIL", "on")
    telemetry = otelkit.init_telemetry("system-detail", exporters="memory", instrument="system")
    yield telemetry
    telemetry.shutdown()


def test_detail_adds_cpu_time_per_logical_cpu(detailed: otelkit.Telemetry) -> None:
    """``system.cpu.time`` by cpu.mode and cpu.logical_number, as psutil counts each CPU; the
    utilization stays one series per mode."""
    before = psutil.cpu_times(percpu=True)
    metrics = collect(detailed)
    after = psutil.cpu_times(percpu=True)

    cpu_time = metrics[SYSTEM_CPU_TIME]
    assert (cpu_time.unit, cpu_time.data.is_monotonic) == ("s", True)
    numbers = {p.attributes["cpu.logical_number"] for p in cpu_time.data.data_points}
    assert numbers == set(range(len(before)))
    for point in cpu_time.data.data_points:
        if point.attributes["cpu.mode"] == "user":
            number = point.attributes["cpu.logical_number"]
            assert before[number].user <= point.value <= after[number].user
    utilization = metrics[SYSTEM_CPU_UTILIZATION].data.data_points
    assert all(set(p.attributes) == {CPU_MODE} for p in utilization)


def test_detail_adds_network_packets_and_errors(detailed: otelkit.Telemetry) -> None:
    before = psutil.net_io_counters(pernic=True)
    metrics = collect(detailed)
    after = psutil.net_io_counters(pernic=True)

    fields = {
        SYSTEM_NETWORK_PACKET_COUNT: ("{packet}", "packets_sent", "packets_recv"),
        SYSTEM_NETWORK_ERRORS: ("{error}", "errout", "errin"),
    }
    for name, (unit, transmit, receive) in fields.items():
        assert metrics[name].unit == unit
        for point in metrics[name].data.data_points:
            interface = point.attributes[NETWORK_INTERFACE_NAME]
            field = transmit if point.attributes[NETWORK_IO_DIRECTION] == "transmit" else receive
            low, high = getattr(before[interface], field), getattr(after[interface], field)
            assert low <= point.value <= high, (name, interface, field)
        interfaces = {p.attributes[NETWORK_INTERFACE_NAME] for p in metrics[name].data.data_points}
        assert interfaces == set(before)


def test_detail_counts_processes_by_state(detailed: otelkit.Telemetry) -> None:
    total = len(psutil.pids())
    states = by(collect(detailed), SYSTEM_PROCESS_COUNT, "process.state")
    assert set(states) <= {"running", "sleeping", "stopped", "defunct"}
    assert states.get("running", 0) >= 1  # this process, collecting
    assert abs(sum(states.values()) - total) <= 5
