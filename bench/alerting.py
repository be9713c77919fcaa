"""In-process alerting: evaluation cost per rule per cycle, in µs, for the default rules.

The data is what a busy service's engine collects: ``http.server.request.duration`` for 50
routes x 3 statuses (200, 404, 500 with ``error.type``) with the semantic-convention buckets,
the active-requests counter, and the system metrics psutil gives (CPU modes, memory states,
three filesystems, network, process). ``SNAPSHOTS`` cumulative snapshots with growing counts
are made beforehand; each measured cycle evaluates the next one, 15 s after the previous, so
the windows, baselines and histories are those of a long-running engine.

Variants: each default rule alone (the per-cycle index of the data included), and the five
together, reported per rule (their cycle divided by five). Collection itself (the SDK's
``get_metrics_data()``) is not included: ``bench.system`` and ``bench.scrape`` measure it.
"""

from __future__ import annotations

import random

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from bench._harness import Result, Variant, measure
from otelkit.alerting._defaults import default_rules
from otelkit.alerting._engine import AlertEngine
from otelkit.alerting._query import MetricIndex, Query
from otelkit.config._alerting import AlertSettings
from otelkit.config._settings import SEMCONV_DURATION_BUCKETS

ROUTES = 50
STATUSES = (200, 404, 500)
SNAPSHOTS = 40
CYCLES = 40
INTERVAL = 15.0
CUMULATIVE = AggregationTemporality.CUMULATIVE


def _number(attributes: dict[str, object], value: float) -> NumberDataPoint:
    return NumberDataPoint(
        attributes=attributes,  # type: ignore[arg-type]
        start_time_unix_nano=0,
        time_unix_nano=0,
        value=value,
        exemplars=[],
    )


def _http(counts: dict[tuple[int, int], list[int]]) -> Metric:
    points = []
    for (route, status), buckets in counts.items():
        attributes: dict[str, object] = {
            "http.request.method": "GET",
            "http.route": f"/api/v1/resource{route}/{{item_id}}",
            "http.response.status_code": status,
            "url.scheme": "https",
            "network.protocol.version": "1.1",
        }
        if status >= 500:
            attributes["error.type"] = str(status)
        points.append(
            HistogramDataPoint(
                attributes=attributes,  # type: ignore[arg-type]
                start_time_unix_nano=0,
                time_unix_nano=0,
                count=sum(buckets),
                sum=sum(buckets) * 0.05,
                bucket_counts=list(buckets),
                explicit_bounds=list(SEMCONV_DURATION_BUCKETS),
                min=0.001,
                max=3.0,
                exemplars=[],
            )
        )
    return Metric(
        name="http.server.request.duration",
        description="",
        unit="s",
        data=Histogram(data_points=points, aggregation_temporality=CUMULATIVE),
    )


def _system(rng: random.Random) -> list[Metric]:
    busy = rng.uniform(0.2, 0.95)
    modes = {"user": busy * 0.6, "system": busy * 0.3, "iowait": busy * 0.1, "idle": 1 - busy}
    modes.update({"nice": 0.0, "interrupt": 0.0, "steal": 0.0})
    used = rng.uniform(0.5, 0.9)
    filesystems = [("/dev/sda1", "/"), ("/dev/sdb1", "/data"), ("/dev/sdc1", "/var/log")]

    def gauge(name: str, points: list[NumberDataPoint]) -> Metric:
        return Metric(name=name, description="", unit="1", data=Gauge(data_points=points))

    def total(name: str, points: list[NumberDataPoint], monotonic: bool) -> Metric:
        data = Sum(data_points=points, aggregation_temporality=CUMULATIVE, is_monotonic=monotonic)
        return Metric(name=name, description="", unit="By", data=data)

    return [
        gauge(
            "system.cpu.utilization",
            [_number({"cpu.mode": m}, v) for m, v in modes.items()],
        ),
        gauge(
            "system.memory.utilization",
            [
                _number({"system.memory.state": s}, v)
                for s, v in (("used", used), ("free", 1 - used), ("buffers", 0.02), ("cached", 0.2))
            ],
        ),
        gauge(
            "system.filesystem.utilization",
            [
                _number(
                    {
                        "system.device": device,
                        "system.filesystem.mountpoint": mount,
                        "system.filesystem.type": "ext4",
                        "system.filesystem.mode": "rw",
                        "system.filesystem.state": state,
                    },
                    share,
                )
                for device, mount in filesystems
                for state, share in (("used", 0.7), ("free", 0.25), ("reserved", 0.05))
            ],
        ),
        total(
            "system.network.io",
            [
                _number({"network.interface.name": i, "network.io.direction": d}, 1e9)
                for i in ("eth0", "lo")
                for d in ("transmit", "receive")
            ],
            True,
        ),
        total("process.memory.usage", [_number({}, 2e8)], False),
        total("http.server.active_requests", [_number({"http.request.method": "GET"}, 3)], False),
    ]


def snapshots() -> list[MetricsData]:
    """Cumulative snapshots, each 15 s of traffic after the one before."""
    rng = random.Random(7)
    counts = {
        (route, status): [0] * (len(SEMCONV_DURATION_BUCKETS) + 1)
        for route in range(ROUTES)
        for status in STATUSES
    }
    resource = Resource.create({"service.name": "bench"})
    scope = InstrumentationScope("bench")
    made = []
    for _ in range(SNAPSHOTS):
        for buckets in counts.values():
            for _ in range(rng.randint(0, 6)):
                buckets[min(int(rng.expovariate(1.0) * 4), len(buckets) - 1)] += 1
        metrics = [_http(counts), *_system(rng)]
        made.append(
            MetricsData(
                resource_metrics=[
                    ResourceMetrics(
                        resource=resource,
                        scope_metrics=[ScopeMetrics(scope=scope, metrics=metrics, schema_url="")],
                        schema_url="",
                    )
                ]
            )
        )
    return made


def _variant(name: str, rules_of: list[str], data: list[MetricsData]) -> Variant:
    settings = AlertSettings(alert_default_rules=tuple(rules_of), alert_window_s=300.0)
    engine = AlertEngine(settings, clock=lambda: 0.0, rules=default_rules(settings), channels={})
    clock = [0.0]
    position = [0]

    def run() -> None:
        for _ in range(CYCLES):
            clock[0] += INTERVAL
            engine.evaluate(clock[0], data[position[0] % len(data)])
            position[0] += 1

    return Variant(name, run, per_call=CYCLES * len(rules_of))


RULE_NAMES = {
    "cpu": "HighCpuUsage",
    "memory": "HighMemoryUsage",
    "disk": "HighDiskUsage",
    "error_rate": "HighErrorRate",
    "response_time": "HighLatency",
}


def run(rounds: int) -> list[Result]:
    data = snapshots()
    everything = "all 5 default rules, per rule"
    variants = [_variant(everything, list(RULE_NAMES), data)]
    variants += [_variant(f"{RULE_NAMES[r]} ({r}) alone", [r], data) for r in RULE_NAMES]
    result = measure(
        "alerting: evaluation per rule per cycle (150 HTTP series + system metrics)",
        variants,
        rounds=rounds,
        baseline=everything,
        unit="us",
    )
    result.notes.append(
        f"one cycle of all 5 rules: {result.medians[everything] * len(RULE_NAMES):.1f} us "
        f"over {ROUTES * len(STATUSES)} HTTP series and {_system_points(data[0])} other points"
    )
    # Sanity: every rule computes a value from this data (a rule without data costs nothing).
    for rule in default_rules(AlertSettings()):
        query = Query(rule, 300.0, 0.0)
        query.evaluate(15.0, MetricIndex(data[0]))
        if not query.evaluate(30.0, MetricIndex(data[1])):
            result.notes.append(f"PROBLEM: rule {rule.name} has no value on the bench data")
            result.ok = False
    return [result]


def _system_points(data: MetricsData) -> int:
    return sum(
        len(metric.data.data_points)
        for resource_metrics in data.resource_metrics
        for scope_metrics in resource_metrics.scope_metrics
        for metric in scope_metrics.metrics
        if metric.name != "http.server.request.duration"
    )
