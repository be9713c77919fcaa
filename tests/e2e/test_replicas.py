"""Many replicas of one service, scraped by one Prometheus and still told apart.

Three replicas of tests/e2e/apps/shop_fastapi.py run side by side, as a deployment would run
them: each is its own uvicorn process with one worker, with its own otelkit ``/metrics``
listener on its own loopback port (``OTEL_EXPORTER_PROMETHEUS_PORT``), and all three share one
``OTEL_SERVICE_NAME``. The session's Prometheus (tests/fixtures/prometheus.py) finds them through
file-based service discovery: the test writes their addresses to a JSON targets file, as a
deployment tool or a sidecar would, and Prometheus scrapes them all under one job.

Each replica gets a known number of requests per route, different for every replica and route.
PromQL must add them up exactly, per route template across the replicas and per replica (the
``instance`` label); the ``+Inf`` bucket of the duration histogram must agree with its count.
``target_info`` carries the ``service.instance.id`` otelkit makes up for each process, so the
three series of the one service stay apart, and joining on it attributes every count to the
process that served it. A fourth replica written into the targets file later is scraped
without Prometheus reloading its configuration.

The replicas and their scrape job live for the whole module (Prometheus takes about 5 s to pick
up a job or a new target). Each test expects what the module has sent so far to the replicas
in the targets file, so the tests hold in any order.
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
import requests

from tests.e2e.test_http_servers import ServerProcess, by_labels
from tests.fixtures.prometheus import write_targets

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

    from tests.fixtures.prometheus import PrometheusServer

pytestmark = pytest.mark.integration

APP = "uvicorn-fastapi"
"""shop_fastapi:app under uvicorn --workers 1 (see APPS in test_http_servers.py)."""
SERVICE = "e2e-replicas"
JOB = "e2e-replicas"
DURATION = "http_server_request_duration_seconds"
ITEM, STATUS = "/items/{item_id}", "/status/{code}"
ROUTED = f'job="{JOB}",http_route!="/healthz"'
"""The requests of the test: /healthz also counts the readiness probes, however many it took."""


def items(count: int) -> list[str]:
    """``count`` distinct item paths, all under the one route template."""
    return [f"/items/{i}" for i in range(count)]


TRAFFIC: Mapping[str, Mapping[str, list[str]]] = {
    "a": {ITEM: items(7), STATUS: ["/status/404"] * 3},
    "b": {ITEM: items(11), STATUS: ["/status/404"] * 2 + ["/status/503"] * 4},
    "c": {ITEM: items(5), STATUS: ["/status/503"] * 6},
    "d": {ITEM: items(9), STATUS: ["/status/404"] * 1},
}
"""The requests each replica gets, by route template; "d" joins the targets file later."""
FIRST = ("a", "b", "c")


class Replica(ServerProcess):
    """One replica: the shop app in its own uvicorn process, with the service name of all."""

    def __init__(self, replica: str, workdir: Path) -> None:
        replica_dir = workdir / f"replica-{replica}"
        replica_dir.mkdir()
        super().__init__(APP, replica_dir, {"OTEL_SERVICE_NAME": SERVICE})

    @property
    def pid(self) -> int:
        return self._process.pid

    def instance_id(self) -> str:
        """The ``service.instance.id`` this replica reports on its own ``/metrics``."""
        text = requests.get(f"http://{self.metrics_target}/metrics", timeout=10).text
        (target_info,) = [line for line in text.splitlines() if line.startswith("target_info{")]
        found = re.search(r'service_instance_id="([^"]+)"', target_info)
        assert found is not None, target_info
        return found.group(1)


class Replicas:
    """The module's replicas, the targets file that lists them, and the requests they got."""

    def __init__(self, workdir: Path) -> None:
        self.targets_file = workdir / "targets.json"
        self.running: dict[str, Replica] = {}
        self.listed: list[str] = []
        """The replicas in the targets file, in the order they were added."""
        self.sent: dict[str, dict[str, int]] = {}
        """Requests sent so far: replica -> route template -> count."""
        with ThreadPoolExecutor(len(TRAFFIC)) as pool:  # one start-up time, not four
            futures = {name: pool.submit(Replica, name, workdir) for name in TRAFFIC}
        errors = []
        for name, future in futures.items():
            try:
                self.running[name] = future.result()
            except Exception as exc:
                errors.append(exc)
        if errors:
            self.stop()
            raise errors[0]

    def add_to_file(self, *names: str) -> None:
        """Add replicas to the targets file (rewritten whole, as a deployment tool would)."""
        self.listed += [name for name in names if name not in self.listed]
        write_targets(self.targets_file, self.addresses())

    def addresses(self) -> list[str]:
        return [self.running[name].metrics_target for name in self.listed]

    def send(self, name: str) -> None:
        """Send replica ``name`` its TRAFFIC, checking every response's status code."""
        replica = self.running[name]
        with requests.Session() as session:
            for route, paths in TRAFFIC[name].items():
                statuses = [session.get(replica.url + p, timeout=10).status_code for p in paths]
                assert statuses == [expected_status(p) for p in paths], (name, route)
                routes = self.sent.setdefault(name, {})
                routes[route] = routes.get(route, 0) + len(paths)

    def by_route(self, names: tuple[str, ...] | None = None) -> dict[tuple[str, ...], int]:
        """The requests sent to ``names`` (the listed replicas), summed per route template."""
        totals: dict[tuple[str, ...], int] = {}
        for name in self.listed if names is None else names:
            for route, count in self.sent.get(name, {}).items():
                totals[(route,)] = totals.get((route,), 0) + count
        return totals

    def by_instance(self) -> dict[tuple[str, ...], int]:
        """The requests per listed replica and route; the replica named by its address."""
        return {
            (self.running[name].metrics_target, route): count
            for name in self.listed
            for route, count in self.sent.get(name, {}).items()
        }

    def report_section(self) -> tuple[str, str]:
        """For tests/e2e/conftest.py: the output of every replica, shown with a failure."""
        parts = []
        for name, replica in self.running.items():
            title, output = replica.report_section()
            parts.append(f"--- replica {name} {replica.metrics_target}: {title}\n{output}")
        return "output of the replicas", "\n".join(parts)

    def stop(self) -> None:
        for replica in self.running.values():
            replica.stop()


def expected_status(path: str) -> int:
    return int(path.rsplit("/", 1)[1]) if path.startswith("/status/") else 200


@pytest.fixture(scope="module")
def replicas(
    prometheus: PrometheusServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Replicas]:
    """Replicas a, b and c in the targets file and scraped, each sent its TRAFFIC; d running."""
    group = Replicas(tmp_path_factory.mktemp("replicas"))
    try:
        group.add_to_file(*FIRST)
        prometheus.scrape_files(JOB, group.targets_file, refresh="1s")
        for name in FIRST:
            group.send(name)
        yield group
    finally:
        try:
            group.stop()
        finally:
            prometheus.remove(JOB)


@pytest.fixture(autouse=True)
def _prometheus_jobs_removed() -> None:
    """Overrides the suite's per-test removal of scrape jobs: here the job outlives a test.

    The ``replicas`` fixture removes it when the module is done.
    """


def wait_for_split(
    prometheus: PrometheusServer,
    promql: str,
    labels: tuple[str, ...],
    expected: Mapping[tuple[str, ...], float],
    timeout: float = 30,
) -> None:
    """Poll ``promql`` until its values keyed by ``labels`` are exactly ``expected``."""
    deadline = time.monotonic() + timeout
    while True:
        result = by_labels(prometheus.query(promql), *labels)
        if result == expected:
            return
        if time.monotonic() > deadline:
            assert result == expected, f"{promql}, after {timeout:.0f} s"
        time.sleep(0.2)


def test_every_request_is_counted_once_per_route_and_per_replica(
    replicas: Replicas, prometheus: PrometheusServer
) -> None:
    """a, b and c got 7/11/5 items and 3/6/6 statuses: the sums are 23 and 15, split alike."""
    assert replicas.by_route(FIRST) == {(ITEM,): 23, (STATUS,): 15}  # the bookkeeping
    wait_for_split(
        prometheus,
        f"sum by (http_route) ({DURATION}_count{{{ROUTED}}})",
        ("http_route",),
        replicas.by_route(),
    )
    wait_for_split(
        prometheus,
        f"sum by (instance, http_route) ({DURATION}_count{{{ROUTED}}})",
        ("instance", "http_route"),
        replicas.by_instance(),
    )


def test_target_info_tells_the_replicas_of_one_service_apart(
    replicas: Replicas, prometheus: PrometheusServer
) -> None:
    """One target_info per replica: one service name, a distinct service.instance.id each.

    Each replica's id in Prometheus is the one the process reports itself, and joining the
    request counts on target_info attributes each count to the process that served it.
    """
    count = len(replicas.listed)  # three, unless the test adding "d" ran first
    prometheus.wait_for(f'count(target_info{{job="{JOB}"}})', count)
    series = prometheus.query(f'target_info{{job="{JOB}"}}')
    assert len(series) == count
    assert {s.labels["service_name"] for s in series} == {SERVICE}
    (distinct,) = prometheus.query(
        f'count(count by (service_instance_id) (target_info{{job="{JOB}"}}))'
    )
    assert distinct.value == count

    by_address = {s.labels["instance"]: s.labels for s in series}
    assert sorted(by_address) == sorted(replicas.addresses())
    ids = {}
    for name in replicas.listed:
        replica = replicas.running[name]
        labels = by_address[replica.metrics_target]
        assert labels["service_instance_id"] == replica.instance_id()
        assert labels["process_pid"] == str(replica.pid)  # --workers 1: the app is in that process
        ids[name] = labels["service_instance_id"]
    assert len(set(ids.values())) == count

    wait_for_split(
        prometheus,
        f"sum by (service_instance_id, http_route) ({DURATION}_count{{{ROUTED}}}"
        f' * on (instance) group_left (service_instance_id) target_info{{job="{JOB}"}})',
        ("service_instance_id", "http_route"),
        {
            (ids[name], route): n
            for name in replicas.listed
            for route, n in replicas.sent.get(name, {}).items()
        },
    )


def test_the_inf_bucket_of_each_route_equals_its_count(
    replicas: Replicas, prometheus: PrometheusServer
) -> None:
    """Per replica and route, the le="+Inf" bucket is the count, and both are the requests."""
    keys = ("instance", "http_route")
    wait_for_split(
        prometheus,
        f"sum by (instance, http_route) ({DURATION}_count{{{ROUTED}}})",
        keys,
        replicas.by_instance(),
    )
    inf = by_labels(
        prometheus.query(
            f'sum by (instance, http_route) ({DURATION}_bucket{{{ROUTED},le="+Inf"}})'
        ),
        *keys,
    )
    counts = by_labels(
        prometheus.query(f"sum by (instance, http_route) ({DURATION}_count{{{ROUTED}}})"), *keys
    )
    assert inf == counts == replicas.by_instance()
    per_route_inf = prometheus.query(
        f'sum by (http_route) ({DURATION}_bucket{{{ROUTED},le="+Inf"}})'
    )
    assert by_labels(per_route_inf, "http_route") == replicas.by_route()


def test_a_replica_added_to_the_targets_file_is_scraped_without_a_reload(
    replicas: Replicas, prometheus: PrometheusServer
) -> None:
    """d written into the file: Prometheus scrapes it, its 10 requests join the sums."""
    configured = prometheus.last_config_time()
    before = replicas.by_route()
    replicas.add_to_file("d")
    replicas.send("d")
    prometheus.wait_for_targets(JOB, replicas.addresses())
    prometheus.wait_for(f'count(target_info{{job="{JOB}"}})', len(replicas.listed))
    assert replicas.by_route() == {
        (ITEM,): before[(ITEM,)] + 9,
        (STATUS,): before[(STATUS,)] + 1,
    }
    wait_for_split(
        prometheus,
        f"sum by (http_route) ({DURATION}_count{{{ROUTED}}})",
        ("http_route",),
        replicas.by_route(),
    )
    wait_for_split(
        prometheus,
        f"sum by (instance, http_route) ({DURATION}_count{{{ROUTED}}})",
        ("instance", "http_route"),
        replicas.by_instance(),
    )
    assert prometheus.last_config_time() == configured
