"""Prometheus rule files in the in-process engine: the PromQL subset, and the generated file.

The expressions are evaluated over hand-made cumulative ``MetricsData`` (``_data``), named as
otelkit's exposition names them, at explicit times: no sleeping. Expected numbers come from
the definitions (a counter growing by a constant amount per second has that rate; a ratio of
two constant rates is their quotient), never from the code under test.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from otelkit._errors import ConfigError
from otelkit.alerting._engine import AlertEngine
from otelkit.alerting._promql._compile import Context, Unsupported, compile_expression
from otelkit.alerting._promql._functions import corrected, extrapolated
from otelkit.alerting._rulesfile import parse_any
from otelkit.config._alerting import AlertSettings
from otelkit.ops.rules._docs import render_all
from tests.alerting._data import counter, gauge, histogram, snapshot

if TYPE_CHECKING:
    from pathlib import Path

BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0)
DURATION = "http.server.request.duration"


def _engine(text: str) -> AlertEngine:
    rules, program = parse_any(text, "test file", ["log", "callback"])
    engine = AlertEngine(
        AlertSettings(service_name="shop", alert_default_rules=()), channels={}, rules=rules
    )
    engine.use_program(program)
    return engine


def _http(ok: int, failed: int, slow: int = 0) -> object:
    """Cumulative HTTP requests: ``ok`` fast 200s, ``failed`` fast 500s, ``slow`` 200s at 0.2 s."""
    fast = [ok] + [0] * len(BOUNDS)
    slow_buckets = [0] * 6 + [slow] + [0] * (len(BOUNDS) - 6)  # (0.1, 0.25]
    return histogram(
        DURATION,
        BOUNDS,
        ({"http.route": "/checkout", "http.response.status_code": 200}, fast),
        (
            {"http.route": "/checkout", "http.response.status_code": 500, "error.type": "500"},
            [failed] + [0] * len(BOUNDS),
        ),
        ({"http.route": "/slow", "http.response.status_code": 200}, slow_buckets),
    )


RULES = """
groups:
  - name: http
    rules:
      - record: job:requests:rate1m
        expr: sum by (job) (rate(http_server_request_duration_seconds_count{job="shop"}[1m]))
      - record: job:errors:rate1m
        expr: >
          sum by (job) (rate(http_server_request_duration_seconds_count{job="shop",
          http_response_status_code=~"5.."}[1m])) or 0 * job:requests:rate1m
      - alert: HighErrorRate
        expr: job:errors:rate1m / job:requests:rate1m > 0.05
        for: 30s
        labels: {severity: critical, team: shop}
        annotations:
          summary: "{{ $labels.job }}: {{ $value | humanizePercentage }} of requests fail"
      - alert: SlowRoute
        expr: >
          histogram_quantile(0.95, sum by (job, http_route, le)
          (rate(http_server_request_duration_seconds_bucket{job="shop"}[1m]))) > 0.1
      - alert: NoTraffic
        expr: job:requests:rate1m == 0
"""


def _run(engine: AlertEngine, minutes: float, per_second: tuple[int, int, int]) -> list[object]:
    """Feed a minute-by-second traffic of (ok, failed, slow) per second; return notifications."""
    ok = failed = slow = 0
    sent: list[object] = []
    for second in range(int(minutes * 60) + 1):
        sent.extend(engine.evaluate(1000.0 + second, snapshot(_http(ok, failed, slow))))
        ok, failed, slow = ok + per_second[0], failed + per_second[1], slow + per_second[2]
    return sent


def test_a_ratio_of_rates_fires_after_for_with_the_rules_labels_and_a_filled_summary() -> None:
    """9 ok and 1 failed request per second: the error ratio is 0.1, above 0.05."""
    engine = _engine(RULES)
    sent = _run(engine, 2, (9, 1, 0))
    fired = [a for a in sent if a.name == "HighErrorRate"]
    assert len(fired) == 1
    alert = fired[0]
    assert alert.value == pytest.approx(1 / 10)
    assert alert.severity == "critical"
    assert alert.labels["team"] == "shop"
    assert alert.labels["job"] == "shop"
    assert alert.fired_at - alert.active_at >= 30
    assert "shop: 10% of requests fail" in alert.text
    assert alert.to_dict()["annotations"] == {"summary": "shop: 10% of requests fail"}


def test_histogram_quantile_finds_the_slow_route_as_prometheus_interpolates() -> None:
    """Every /slow request lands in the (0.1, 0.25] bucket: p95 is 95 % of the way through it."""
    engine = _engine(RULES)
    sent = _run(engine, 2, (5, 0, 5))
    slow = [a for a in sent if a.name == "SlowRoute"]
    assert [a.labels["http_route"] for a in slow] == ["/slow"]
    assert slow[0].value == pytest.approx(0.1 + (0.25 - 0.1) * 0.95)


def test_no_traffic_fires_when_the_counters_stop_and_resolves_when_they_move() -> None:
    engine = _engine(RULES)
    assert not [a for a in _run(engine, 1, (3, 0, 0)) if a.name == "NoTraffic"]
    # Same totals for two more minutes: the rate falls to 0 once the window holds no increase.
    totals = snapshot(_http(183, 0, 0))
    fired = [
        alert
        for second in range(61, 200)
        for alert in engine.evaluate(1000.0 + second, totals)
        if alert.name == "NoTraffic"
    ]
    assert [a.state for a in fired] == ["firing"]


@given(
    per_second=st.floats(0.01, 1e6),
    start_value=st.floats(0, 1e4),
    interval=st.sampled_from([1.0, 5.0, 15.0]),
    count=st.integers(2, 40),
)
def test_rate_of_a_steady_counter_sampled_across_the_window_is_its_slope(
    per_second: float, start_value: float, interval: float, count: int
) -> None:
    """Samples from the window's start to its end: nothing to extrapolate, the slope comes out."""
    times = [i * interval for i in range(count + 1)]
    samples = [(t, start_value + per_second * t) for t in times]
    window_start, window_end = times[0], times[-1]
    rate = extrapolated(corrected(samples), window_start, window_end, per_second=True)
    assert rate == pytest.approx(per_second, rel=1e-6)


def test_a_counter_reset_is_an_increase_from_zero() -> None:
    samples = [(0.0, 10.0), (10.0, 20.0), (20.0, 5.0), (30.0, 15.0)]
    # 10 before the reset, 5 from zero to the first sample after it, 10 after: 25 in 30 s.
    assert extrapolated(corrected(samples), 0.0, 30.0, per_second=False) == pytest.approx(25.0)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ('up{job="shop"} == 0', "written by the Prometheus server"),
        ('absent(up{job="shop"})', "absent() is not in the in-process subset"),
        ("rate(x[5m] offset 1h)", "offset and @"),
        ("rate(x[5m:1m])", "subquer"),
        ("topk(3, x)", "aggregation topk()"),
        ("a / on(job) group_left b", "group_left"),
        ("rate(x[1d])", "longer than the 6h"),
        ("x[5m]", "only inside rate() or increase()"),
    ],
)
def test_expressions_outside_the_subset_are_refused_with_the_reason(
    expression: str, reason: str
) -> None:
    with pytest.raises(Unsupported, match=reason.replace("(", r"\(").replace(")", r"\)")):
        compile_expression(expression)


def test_comparisons_filter_and_keep_the_left_value_and_bool_gives_zero_or_one() -> None:
    series = {"m": [((("__name__", "m"), ("k", "a")), 1.0), ((("__name__", "m"), ("k", "b")), 3.0)]}
    context = Context(0.0, series)
    assert compile_expression("m > 2").vector(context) == {(("__name__", "m"), ("k", "b")): 3.0}
    assert compile_expression("m > bool 2").vector(context) == {
        (("k", "a"),): 0.0,
        (("k", "b"),): 1.0,
    }
    assert compile_expression("sum(m) / count(m)").vector(context) == {(): 2.0}


def test_the_generated_rule_file_is_evaluated_or_each_rule_reported_with_a_reason() -> None:
    """Every alerting rule of the file ``otelkit rules`` generates is one or the other."""
    text = render_all()["docs/generated/prometheus-rules.yaml"]
    import yaml

    alerts = [
        (group["name"], rule["alert"])
        for group in yaml.safe_load(text)["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    engine = _engine(text)
    evaluated = {(r.group, r.name) for r in engine.prometheus_rules}
    reported = {(s.group, s.name): s.reason for s in engine.unsupported if s.kind == "alert"}
    assert set(alerts) == evaluated | set(reported)
    assert not evaluated & set(reported)
    assert all(reported.values())
    names = {name for _, name in evaluated}
    assert {"HighErrorRate", "HighLatency", "NoTraffic", "HighCpuUsage"} <= names
    # And it runs over data without raising (nothing happens at evaluation that load missed).
    for second in range(0, 120, 15):
        engine.evaluate(5000.0 + second, snapshot(_http(second, 0), gauge("x", ({}, 1.0))))


def test_unsupported_rules_are_logged_once_when_the_file_loads(
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = 'groups: [{name: g, rules: [{alert: Gone, expr: "absent(x)"}]}]'
    with caplog.at_level("WARNING", logger="otelkit"):
        engine = _engine(text)
        engine.evaluate(1.0, snapshot(counter("x", ({}, 1.0))))
    lines = [r.getMessage() for r in caplog.records if "Gone" in r.getMessage()]
    assert len(lines) == 1
    assert "absent() is not in the in-process subset" in lines[0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('groups: [{name: g, rules: [{alert: A, expr: "sum("}]}]', "line 1: group 'g', alert"),
        ("groups: [{name: g, rules: [{alert: A}]}]", "`expr` is missing"),
        ("groups: [{name: g, rules: [{alert: A, expr: x, for: soon}]}]", "'soon' is not a"),
        ("groups: [{name: g, rules: [{alert: A, expr: x, sevrity: 1}]}]", "unknown field"),
        ("groups: [{rules: []}]", "a group needs a `name`"),
    ],
)
def test_a_broken_prometheus_file_is_a_config_error_naming_the_place(
    text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_any(text, "OTELKIT_ALERT_RULES_FILE='rules.yaml'", ["log"])


def test_the_otelkit_format_still_loads_beside_the_new_one(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {name: Busy, metric: system.cpu.utilization, threshold: 0.9}\n")
    rules, program = parse_any(path.read_text(), str(path), ["log"])
    assert [r.name for r in rules] == ["Busy"]
    assert program is None
    assert math.isfinite(rules[0].threshold)


def test_a_prometheus_rule_replaces_the_built_in_rule_of_its_name(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    engine = AlertEngine(AlertSettings(service_name="shop", alert_rules_file=str(path)))
    built_in = {rule.name for rule in engine.rules}
    assert "HighErrorRate" not in built_in
    assert {"HighCpuUsage", "HighLatency"} <= built_in
    assert "HighErrorRate" in {rule.name for rule in engine.prometheus_rules}


def test_otelkit_alerts_check_lists_evaluated_and_unsupported_rules(tmp_path: Path) -> None:
    from otelkit.cli._alerts import check_file

    path = tmp_path / "prometheus-rules.yaml"
    path.write_text(render_all()["docs/generated/prometheus-rules.yaml"])
    report = check_file(path)
    assert report["valid"]
    assert "HighErrorRate" in {rule["name"] for rule in report["rules"]}
    reasons = {item["rule"]: item["reason"] for item in report["unsupported"]}
    assert "written by the Prometheus server" in reasons["ServiceDown"]


GENERATED = render_all()["docs/generated/prometheus-rules.yaml"]


@settings(deadline=None, max_examples=40)  # a cycle of the whole file: tens of ms
@given(
    st.lists(
        st.tuples(
            st.integers(0, 10_000),  # requests so far (may go down: a reset)
            st.integers(0, 100),  # failed so far
            st.floats(allow_nan=True, allow_infinity=True),  # a gauge, any float
            st.floats(0.1, 120),  # seconds since the previous evaluation
        ),
        min_size=1,
        max_size=8,
    )
)
def test_whatever_the_data_evaluation_never_raises(
    steps: list[tuple[int, int, float, float]],
) -> None:
    """Load-time checks are the only failures: odd data gives NaN or nothing, never an error
    (the suite turns an internal error of the guarded evaluation into a failure)."""
    engine = _engine(GENERATED)
    now = 10_000.0
    for requests, failed, level, step in steps:
        now += step
        data = snapshot(
            _http(requests, failed, requests // 7),
            gauge("system.memory.utilization", ({"system.memory.state": "used"}, level)),
            counter("otelkit.dropped", ({"component": "x", "reason": "y"}, abs(level) % 1e9)),
        )
        for alert in engine.evaluate(now, data):
            assert alert.state in ("firing", "resolved")
