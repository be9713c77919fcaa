"""Alert rules on injected metric data with a controlled clock: states, windows, numbers, YAML.

Every test drives ``AlertEngine.evaluate(now, data)`` by hand; nothing sleeps. Expected numbers
are worked out in the test from the bucket counts and totals it injects.
"""

from __future__ import annotations

import contextlib
import logging
import textwrap
from typing import TYPE_CHECKING, ClassVar

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from otelkit import ConfigError
from otelkit.alerting._engine import AlertEngine
from otelkit.alerting._quantile import histogram_quantile
from otelkit.alerting._rules import AlertRule
from otelkit.alerting._rulesfile import load_rules_file, parse_rules
from otelkit.config._alerting import AlertSettings, load_alert_settings
from tests.alerting._data import counter, gauge, histogram, snapshot

if TYPE_CHECKING:
    from pathlib import Path

    from opentelemetry.sdk.metrics.export import MetricsData

    from otelkit.alerting._alert import Alert

CPU = "system.cpu.utilization"
DURATION = "http.server.request.duration"
BOUNDS = (0.1, 0.5, 1.0, 2.5)


def make_engine(*rules: AlertRule, **settings: object) -> AlertEngine:
    """An engine over exactly ``rules``, no channels, started at t = 0."""
    return AlertEngine(AlertSettings(**settings), clock=lambda: 0.0, rules=rules, channels={})  # type: ignore[arg-type]


def load(value: float) -> MetricsData:
    return snapshot(gauge("queue.depth", ({}, value)))


def states(engine: AlertEngine) -> list[str]:
    return [alert.state for alert in engine.alerts()]


def single_value(engine: AlertEngine, now: float, data: MetricsData) -> float | None:
    """Evaluate and return the value of the rule's one alert, whatever its state."""
    engine.evaluate(now, data)
    (alert,) = engine.alerts()
    return alert.value


DEEP_QUEUE = AlertRule("DeepQueue", "queue.depth", 100, for_duration=60)


# -- states ------------------------------------------------------------------------------------


class TestStates:
    def test_a_breach_is_pending_until_it_has_held_for_the_for_duration(self) -> None:
        """inactive → pending (nothing sent) → firing (sent once) at exactly `for`."""
        engine = make_engine(DEEP_QUEUE)
        assert engine.evaluate(0, load(50)) == []
        assert states(engine) == []

        assert engine.evaluate(15, load(150)) == []
        assert states(engine) == ["pending"]
        assert engine.evaluate(74, load(150)) == []  # 59 s: not yet

        (fired,) = engine.evaluate(75, load(160))  # 60 s after it became active
        assert (fired.state, fired.value, fired.active_at, fired.fired_at) == (
            "firing",
            160,
            15,
            75,
        )
        assert dict(fired.labels) == {"alertname": "DeepQueue", "severity": "warning"}
        assert engine.evaluate(90, load(170)) == []  # still firing: nothing new

    def test_a_breach_that_ends_before_for_goes_back_to_inactive_silently(self) -> None:
        engine = make_engine(DEEP_QUEUE)
        engine.evaluate(0, load(150))
        assert engine.evaluate(30, load(20)) == []
        assert states(engine) == []
        # A new breach starts the `for` clock again.
        engine.evaluate(45, load(150))
        assert engine.evaluate(90, load(150)) == []
        (fired,) = engine.evaluate(105, load(150))
        assert fired.active_at == 45

    def test_a_firing_alert_resolves_once_and_stays_listed_for_a_while(self) -> None:
        engine = make_engine(DEEP_QUEUE)
        engine.evaluate(0, load(150))
        engine.evaluate(60, load(150))
        (resolved,) = engine.evaluate(75, load(10))
        assert (resolved.state, resolved.value, resolved.resolved_at) == ("resolved", 10, 75)
        assert engine.evaluate(90, load(10)) == []  # resolved is notified once
        assert states(engine) == ["resolved"]
        engine.evaluate(75 + 900, load(10))  # Prometheus keeps resolved alerts 15 minutes
        assert states(engine) == []

    def test_a_resolved_alert_that_breaches_again_is_pending_again(self) -> None:
        engine = make_engine(DEEP_QUEUE)
        engine.evaluate(0, load(150))
        engine.evaluate(60, load(150))
        engine.evaluate(75, load(10))
        assert engine.evaluate(90, load(150)) == []
        assert states(engine) == ["pending"]
        (fired,) = engine.evaluate(150, load(150))
        assert (fired.state, fired.active_at) == ("firing", 90)

    def test_for_zero_fires_at_the_first_evaluation_that_sees_the_breach(self) -> None:
        engine = make_engine(AlertRule("DeepQueue", "queue.depth", 100))
        (fired,) = engine.evaluate(15, load(101))
        assert (fired.state, fired.active_at, fired.fired_at) == ("firing", 15, 15)

    def test_an_alert_whose_data_disappears_resolves_without_a_value(self) -> None:
        engine = make_engine(AlertRule("DeepQueue", "queue.depth", 100))
        engine.evaluate(0, load(150))
        (resolved,) = engine.evaluate(15, snapshot())
        assert (resolved.state, resolved.value) == ("resolved", None)

    def test_a_failed_collection_changes_nothing(self) -> None:
        engine = make_engine(AlertRule("DeepQueue", "queue.depth", 100))
        engine.evaluate(0, load(150))
        assert engine.evaluate(15, None) == []
        assert states(engine) == ["firing"]


class TestRepeat:
    def test_a_firing_alert_is_not_repeated_before_repeat_interval(self) -> None:
        rule = AlertRule("DeepQueue", "queue.depth", 100, repeat_interval=600)
        engine = make_engine(rule)
        (first,) = engine.evaluate(0, load(150))
        assert not first.repeat
        for now in range(15, 600, 15):
            assert engine.evaluate(now, load(150)) == [], now
        (reminder,) = engine.evaluate(600, load(150))
        assert (reminder.state, reminder.repeat, reminder.fired_at) == ("firing", True, 0)
        for now in range(615, 1200, 15):
            assert engine.evaluate(now, load(150)) == [], now
        assert [a.repeat for a in engine.evaluate(1200, load(150))] == [True]

    def test_the_repeat_interval_defaults_to_the_setting(self) -> None:
        engine = make_engine(
            AlertRule("DeepQueue", "queue.depth", 100), alert_repeat_interval_s=30.0
        )
        engine.evaluate(0, load(150))
        assert engine.evaluate(15, load(150)) == []
        assert len(engine.evaluate(30, load(150))) == 1

    def test_a_new_firing_after_a_resolve_is_not_a_repeat(self) -> None:
        """Suppression is of reminders of one firing; a fresh firing is always notified."""
        engine = make_engine(AlertRule("DeepQueue", "queue.depth", 100, repeat_interval=3600))
        engine.evaluate(0, load(150))
        engine.evaluate(15, load(10))
        (again,) = engine.evaluate(30, load(150))
        assert (again.state, again.repeat) == ("firing", False)


class TestGroupsAndConditions:
    def test_one_alert_per_group_with_the_group_labels(self) -> None:
        rule = AlertRule(
            "DiskFull",
            "system.filesystem.utilization",
            0.8,
            where={"system.filesystem.state": "used"},
            by=("system.filesystem.mountpoint",),
            labels={"team": "infra"},
        )
        data = snapshot(
            gauge(
                "system.filesystem.utilization",
                ({"system.filesystem.mountpoint": "/", "system.filesystem.state": "used"}, 0.9),
                ({"system.filesystem.mountpoint": "/", "system.filesystem.state": "free"}, 0.1),
                ({"system.filesystem.mountpoint": "/d", "system.filesystem.state": "used"}, 0.3),
                ({"system.filesystem.mountpoint": "/d", "system.filesystem.state": "free"}, 0.7),
            )
        )
        (fired,) = make_engine(rule).evaluate(0, data)
        assert fired.value == 0.9
        assert dict(fired.labels) == {
            "alertname": "DiskFull",
            "severity": "warning",
            "team": "infra",
            "system.filesystem.mountpoint": "/",
        }

    def test_values_of_a_group_are_added_up(self) -> None:
        """CPU busy share: every mode but idle, summed (0.5 + 0.3 + 0.05 = 0.85)."""
        rule = AlertRule("Cpu", CPU, 0.8, where={"cpu.mode": {"not": "idle"}})
        data = snapshot(
            gauge(
                CPU,
                ({"cpu.mode": "user"}, 0.5),
                ({"cpu.mode": "system"}, 0.3),
                ({"cpu.mode": "iowait"}, 0.05),
                ({"cpu.mode": "idle"}, 0.15),
            )
        )
        assert single_value(make_engine(rule), 0, data) == pytest.approx(0.85)

    @pytest.mark.parametrize(
        ("operator", "value", "breached"),
        [
            (">", 10, False),
            ("gt", 11, True),
            (">=", 10, True),
            ("lt", 9, True),
            ("<=", 11, False),
            ("==", 10, True),
            ("ne", 10, False),
        ],
    )
    def test_operators_and_their_aliases(self, operator: str, value: float, breached: bool) -> None:
        engine = make_engine(AlertRule("Q", "queue.depth", 10, operator=operator))
        assert bool(engine.evaluate(0, load(value))) is breached

    @pytest.mark.parametrize(
        ("where", "expected"),
        [
            ({"code": 500}, 1.0),  # integers match their text
            ({"code": ["500", 503]}, 3.0),
            ({"code": {"regex": "5.."}}, 3.0),
            ({"code": {"not_regex": "5.."}}, 4.0 + 8.0),  # the point without `code` too
            ({"code": {"exists": False}}, 8.0),
            ({"code": {"not": [200, 500]}}, 2.0 + 8.0),
        ],
    )
    def test_matchers(self, where: dict[str, object], expected: float) -> None:
        data = snapshot(
            gauge(
                "calls",
                ({"code": 200}, 4.0),
                ({"code": 500}, 1.0),
                ({"code": 503}, 2.0),
                ({}, 8.0),
            )
        )
        engine = make_engine(AlertRule("Calls", "calls", -1, where=where))
        assert single_value(engine, 0, data) == expected


# -- numbers -----------------------------------------------------------------------------------


class TestQuantiles:
    # Buckets (0, 0.1] (0.1, 0.5] (0.5, 1] (1, 2.5] (2.5, +Inf): 10, 30, 40, 15, 5 = 100.
    COUNTS = (10, 30, 40, 15, 5)

    @pytest.mark.parametrize(
        ("q", "expected"),
        [
            # rank 50: 40 below (0.5, 1], 10 of its 40 → 0.5 + 0.5 * 10/40
            (0.50, 0.5 + 0.5 * 10 / 40),
            # rank 90: 80 below (1, 2.5], 10 of its 15 → 1 + 1.5 * 10/15
            (0.90, 1.0 + 1.5 * 10 / 15),
            # rank 95: the top of (1, 2.5]
            (0.95, 2.5),
            # rank 99: in the +Inf bucket → the last finite boundary
            (0.99, 2.5),
            # rank 5: in the first bucket, whose lower edge is 0 → 0.1 * 5/10
            (0.05, 0.1 * 5 / 10),
        ],
    )
    def test_histogram_quantile_interpolates_within_the_bucket(
        self, q: float, expected: float
    ) -> None:
        assert histogram_quantile(q, BOUNDS, self.COUNTS) == pytest.approx(expected)

    def test_no_observations_or_no_boundaries_is_no_value(self) -> None:
        assert histogram_quantile(0.5, BOUNDS, (0, 0, 0, 0, 0)) is None
        assert histogram_quantile(0.5, (), (7,)) is None

    def test_a_non_positive_first_boundary_is_the_answer_in_the_first_bucket(self) -> None:
        assert histogram_quantile(0.5, (0.0, 1.0), (10, 0, 0)) == 0.0

    def test_p95_over_the_window_uses_only_the_requests_in_the_window(self) -> None:
        """Two routes added up; the baseline is the collection one window ago."""
        engine = make_engine(AlertRule("Slow", DURATION, 1.0, aggregation="p95", window=300))
        before = snapshot(
            histogram(
                DURATION,
                BOUNDS,
                ({"http.route": "/a"}, (100, 0, 0, 0, 0)),
                ({"http.route": "/b"}, (50, 50, 0, 0, 0)),
            )
        )
        after = snapshot(
            histogram(
                DURATION,
                BOUNDS,
                ({"http.route": "/a"}, (100, 10, 30, 10, 0)),  # +0 +10 +30 +10 +0
                ({"http.route": "/b"}, (50, 60, 20, 20, 0)),  # +0 +10 +20 +20 +0
            )
        )
        engine.evaluate(10, before)
        # Window increase: 0, 20, 50, 30, 0 (100). rank 95: 70 below (1, 2.5], 25 of its 30.
        expected = 1.0 + 1.5 * 25 / 30
        (fired,) = engine.evaluate(310, after)
        assert fired.value == pytest.approx(expected)

    def test_a_quantile_of_a_gauge_has_no_data_and_says_why_once(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        engine = make_engine(AlertRule("Slow", "queue.depth", 1.0, aggregation="p95"))
        with caplog.at_level(logging.WARNING, logger="otelkit"):
            assert engine.evaluate(0, load(5)) == []
            engine.evaluate(15, load(5))
        (record,) = [r for r in caplog.records if "Slow" in r.getMessage()]
        assert "is a gauge; aggregation 'p95' needs a histogram" in record.getMessage()


class TestWindows:
    ERRORS: ClassVar[dict[str, object]] = {"error.type": {"exists": True}}

    def requests(self, ok: int, failed: int) -> MetricsData:
        """Cumulative request counts of two routes: `ok` 200s on /a, `failed` 500s on /b."""
        return snapshot(
            histogram(
                DURATION,
                BOUNDS,
                ({"http.route": "/a", "http.response.status_code": 200}, (ok, 0, 0, 0, 0)),
                (
                    {"http.route": "/b", "http.response.status_code": 500, "error.type": "500"},
                    (failed, 0, 0, 0, 0),
                ),
            )
        )

    def test_ratio_of_failed_requests_over_the_window(self) -> None:
        rule = AlertRule(
            "Errors", DURATION, 0.05, aggregation="ratio", numerator=self.ERRORS, window=300
        )
        engine = make_engine(rule)
        # Since the engine started (t = 0): 2 failed of 102 → 0.0196.
        assert engine.evaluate(15, self.requests(100, 2)) == []
        assert engine.alerts() == []
        # At 315 the window starts at 15: 10 failed of (190 - 100) + (12 - 2) = 100 → 0.1.
        (fired,) = engine.evaluate(315, self.requests(190, 12))
        assert fired.value == pytest.approx(10 / 100)
        # At 615 the window starts at 315: no new failure of 100 new requests → resolved.
        (resolved,) = engine.evaluate(615, self.requests(290, 12))
        assert (resolved.state, resolved.value) == ("resolved", 0.0)

    def test_ratio_with_a_denominator_condition(self) -> None:
        """5xx among the requests of route /b only: 10 of 10 → 1.0."""
        rule = AlertRule(
            "RouteB",
            DURATION,
            0.5,
            aggregation="ratio",
            numerator={"http.response.status_code": {"regex": "5.."}},
            denominator={"http.route": "/b"},
        )
        assert single_value(make_engine(rule), 15, self.requests(100, 10)) == 1.0

    def test_ratio_without_requests_in_the_window_has_no_value(self) -> None:
        rule = AlertRule(
            "Errors", DURATION, 0.05, aggregation="ratio", numerator=self.ERRORS, window=60
        )
        engine = make_engine(rule)
        engine.evaluate(15, self.requests(100, 50))
        assert states(engine) == ["firing"]
        engine.evaluate(75, self.requests(100, 50))  # window [15, 75]: nothing happened
        assert engine.evaluate(90, self.requests(100, 50)) == []
        assert states(engine) == ["resolved"]

    def test_rate_is_the_increase_per_second_over_the_window(self) -> None:
        rule = AlertRule("Busy", "jobs", 1.5, aggregation="rate", window=60)
        engine = make_engine(rule)
        # 30 jobs in the first 15 s → 2/s.
        assert single_value(engine, 15, snapshot(counter("jobs", ({}, 30)))) == 2.0
        # At 75 the baseline is the sample at 15: (150 - 30) / 60 = 2.
        assert single_value(engine, 75, snapshot(counter("jobs", ({}, 150)))) == 2.0
        # At 135 the baseline is the sample at 75: (180 - 150) / 60 = 0.5.
        assert single_value(engine, 135, snapshot(counter("jobs", ({}, 180)))) == 0.5

    def test_a_counter_that_goes_down_is_counted_from_zero(self) -> None:
        rule = AlertRule("Busy", "jobs", -1, aggregation="rate", window=60)
        engine = make_engine(rule)
        engine.evaluate(15, snapshot(counter("jobs", ({}, 600))))
        # Reset: 90 since the baseline at 15, over 60 s.
        assert single_value(engine, 75, snapshot(counter("jobs", ({}, 90)))) == 1.5

    def test_a_series_that_appears_later_counts_from_zero(self) -> None:
        rule = AlertRule("Busy", "jobs", -1, aggregation="rate", window=60)
        engine = make_engine(rule)
        engine.evaluate(15, snapshot(counter("jobs", ({"q": "a"}, 60))))
        data = snapshot(counter("jobs", ({"q": "a"}, 120), ({"q": "b"}, 60)))
        # (120 + 60) - 60 over the 60 s since the sample at 15.
        assert single_value(engine, 75, data) == 2.0

    def test_mean_is_sum_over_count_in_the_window(self) -> None:
        rule = AlertRule("SlowMean", DURATION, 0.5, aggregation="mean", window=60)
        engine = make_engine(rule)
        engine.evaluate(15, snapshot(histogram(DURATION, BOUNDS, ({}, (10, 0, 0, 0, 0), 1.0))))
        data = snapshot(histogram(DURATION, BOUNDS, ({}, (10, 10, 10, 0, 0), 16.0)))
        # (16 - 1) seconds over (30 - 10) requests.
        assert single_value(engine, 75, data) == pytest.approx(15 / 20)

    def test_a_gauge_ratio_uses_current_values(self) -> None:
        rule = AlertRule(
            "PoolExhausted",
            "db.client.connection.count",
            0.9,
            aggregation="ratio",
            numerator={"db.client.connection.state": "used"},
        )
        data = snapshot(
            counter(
                "db.client.connection.count",
                ({"db.client.connection.state": "used"}, 19),
                ({"db.client.connection.state": "idle"}, 1),
                monotonic=False,
            )
        )
        (fired,) = make_engine(rule).evaluate(0, data)
        assert fired.value == pytest.approx(19 / 20)


# -- health ------------------------------------------------------------------------------------


def test_health_status_follows_the_worst_firing_severity() -> None:
    warning = AlertRule("Deep", "queue.depth", 100)
    critical = AlertRule("VeryDeep", "queue.depth", 1000, severity="critical")
    info = AlertRule("Shallow", "queue.depth", -1, severity="info")
    engine = make_engine(warning, critical, info)
    engine.evaluate(0, load(50))
    assert engine.status() == "healthy"  # an info alert fires, and does not count
    engine.evaluate(15, load(500))
    assert engine.status() == "degraded"
    engine.evaluate(30, load(5000))
    assert engine.status() == "unhealthy"
    engine.evaluate(45, load(50))
    assert engine.status() == "healthy"


# -- rules and settings ------------------------------------------------------------------------


class TestAlertRule:
    def test_fields_are_normalized(self) -> None:
        rule = AlertRule(
            " Disk ",
            "system.filesystem.utilization",
            0.9,
            operator="GTE",
            severity="Critical",
            channels=("email", "log", "slack", "log"),
            labels={"page": True},
        )
        assert (rule.name, rule.operator, rule.severity) == ("Disk", ">=", "critical")
        assert rule.channels == ("smtp", "log", "webhook")
        assert dict(rule.labels) == {"page": "true"}

    @pytest.mark.parametrize(
        ("arguments", "field", "accepted"),
        [
            ({"operator": "above"}, "operator", ">, >=, <"),
            ({"severity": "page"}, "severity", "info, warning, critical"),
            ({"aggregation": "p42"}, "aggregation", "value, rate, ratio, mean, p50"),
            ({"for_duration": "5 minutes"}, "for", "`5m`"),
            ({"channels": ("pager",)}, "channels", "log, callback, webhook, smtp"),
            ({"where": {"code": {"regex": "("}}}, "where", "regex"),
            ({"aggregation": "ratio"}, "numerator", "required there"),
            ({"numerator": {"a": 1}}, "numerator", "aggregation `ratio` only"),
            ({"threshold": float("nan")}, "threshold", "a number"),
        ],
    )
    def test_a_bad_field_raises_config_error_naming_it_and_what_is_accepted(
        self, arguments: dict[str, object], field: str, accepted: str
    ) -> None:
        fields: dict[str, object] = {"name": "R", "metric": "m", "threshold": 1, **arguments}
        with pytest.raises(ConfigError) as caught:
            AlertRule(**fields)  # type: ignore[arg-type]
        message = str(caught.value)
        assert f"alert rule 'R', field {field!r}" in message
        assert accepted in message

    def test_the_expression_reads_like_promql(self) -> None:
        rule = AlertRule(
            "Errors",
            DURATION,
            0.05,
            aggregation="ratio",
            numerator={"error.type": {"exists": True}},
            by=("http.route",),
        )
        assert rule.expression(300) == (
            "ratio(http.server.request.duration: error.type)[5m] by (http.route) > 0.05"
        )


class TestSettings:
    def test_defaults(self) -> None:
        settings = load_alert_settings()
        assert settings.alerts is False
        assert settings.alert_interval_s == 15.0
        assert settings.alert_cpu_threshold == 0.8
        assert settings.alert_error_rate_threshold == 0.05
        assert settings.alert_response_time_threshold_s == 1.0
        assert settings.alert_default_rules == (
            "cpu",
            "memory",
            "disk",
            "error_rate",
            "response_time",
        )
        names = [rule.name for rule in make_engine_from(settings).rules]
        assert names == [
            "HighCpuUsage",
            "HighMemoryUsage",
            "HighDiskUsage",
            "HighErrorRate",
            "HighLatency",
        ]

    def test_environment_values(self) -> None:
        settings = load_alert_settings(
            environ={
                "OTELKIT_ALERT_CPU_THRESHOLD": "90%",
                "OTELKIT_ALERT_CPU_FOR": "1h30m",
                "OTELKIT_ALERT_RESPONSE_TIME_THRESHOLD": "250ms",
                "OTELKIT_ALERT_DEFAULT_RULES": "cpu, response_time",
                "OTELKIT_ALERT_SMTP_PORT": "587",
            }
        )
        assert settings.alert_cpu_threshold == 0.9
        assert settings.alert_cpu_for_s == 5400.0
        assert settings.alert_response_time_threshold_s == 0.25
        assert settings.alert_smtp_tls == "starttls"
        rules = make_engine_from(settings).rules
        assert [(r.name, r.threshold, r.for_duration) for r in rules] == [
            ("HighCpuUsage", 0.9, 5400.0),
            ("HighLatency", 0.25, 300.0),
        ]

    def test_configuring_a_channel_turns_alerting_on(self) -> None:
        settings = load_alert_settings(
            environ={"OTELKIT_ALERT_WEBHOOK_URL": "https://hooks.example.com/T0/B0/secret"}
        )
        assert settings.alerts is True
        off = load_alert_settings(
            environ={
                "OTELKIT_ALERT_WEBHOOK_URL": "https://hooks.example.com/T0/B0/secret",
                "OTELKIT_ALERTS": "off",
            }
        )
        assert off.alerts is False

    @pytest.mark.parametrize(
        ("variable", "value", "message"),
        [
            ("OTELKIT_ALERT_CPU_THRESHOLD", "80", "80 is outside [0, 1] (write 0.8 or 80%)"),
            ("OTELKIT_ALERT_INTERVAL", "0", "must be greater than 0"),
            ("OTELKIT_ALERT_ERROR_RATE_FOR", "soon", "not a duration"),
            ("OTELKIT_ALERT_DEFAULT_RULES", "cpu,gpu", "unknown default rule 'gpu'"),
            ("OTELKIT_ALERT_SMTP_TLS", "tls", "`starttls`, `ssl`, `off`"),
            ("OTELKIT_ALERT_SMTP_TO", "ops", "'ops' is not an e-mail address"),
        ],
    )
    def test_bad_values_name_the_variable_and_what_is_accepted(
        self, variable: str, value: str, message: str
    ) -> None:
        with pytest.raises(ConfigError, match=variable) as caught:
            load_alert_settings(environ={variable: value})
        assert message in str(caught.value)
        assert "Accepted:" in str(caught.value)

    def test_the_webhook_url_never_appears_in_an_error(self) -> None:
        secret = "ftp://hooks.example.com/T0/B0/s3cr3t"
        with pytest.raises(ConfigError) as caught:
            load_alert_settings(environ={"OTELKIT_ALERT_WEBHOOK_URL": secret})
        assert "s3cr3t" not in str(caught.value)
        assert "OTELKIT_ALERT_WEBHOOK_URL='***'" in str(caught.value)

    @pytest.mark.parametrize(
        ("environ", "message"),
        [
            ({"OTELKIT_ALERT_SMTP_HOST": "mail.example.com"}, "OTELKIT_ALERT_SMTP_TO is not set"),
            (
                {
                    "OTELKIT_ALERT_SMTP_HOST": "mail.example.com",
                    "OTELKIT_ALERT_SMTP_TO": "ops@example.com",
                    "OTELKIT_ALERT_SMTP_USER": "alerts",
                },
                "OTELKIT_ALERT_SMTP_USER is set but OTELKIT_ALERT_SMTP_PASSWORD is not",
            ),
            (
                {
                    "OTELKIT_ALERT_SMTP_HOST": "mail.example.com",
                    "OTELKIT_ALERT_SMTP_TO": "ops@example.com",
                    "OTELKIT_ALERT_SMTP_USER": "alerts",
                    "OTELKIT_ALERT_SMTP_PASSWORD": "hunter2",
                },
                "would send OTELKIT_ALERT_SMTP_PASSWORD in clear to 'mail.example.com'",
            ),
        ],
    )
    def test_an_incomplete_or_unsafe_smtp_configuration_is_refused_at_init(
        self, environ: dict[str, str], message: str
    ) -> None:
        with pytest.raises(ConfigError, match=message) as caught:
            make_engine_from(load_alert_settings(environ=environ))
        assert "hunter2" not in str(caught.value)


def make_engine_from(settings: AlertSettings) -> AlertEngine:
    return AlertEngine(settings, clock=lambda: 0.0)


# -- YAML rules --------------------------------------------------------------------------------

CHANNELS = ("log", "callback")


def parse(text: str, channels: tuple[str, ...] = CHANNELS) -> list[AlertRule]:
    return parse_rules(textwrap.dedent(text), "OTELKIT_ALERT_RULES_FILE='rules.yaml'", channels)


def yaml_error(text: str, channels: tuple[str, ...] = CHANNELS) -> str:
    with pytest.raises(ConfigError) as caught:
        parse(text, channels)
    return str(caught.value)


class TestRulesFile:
    def test_a_valid_file(self) -> None:
        (errors, queue) = parse(
            """
            rules:
              - name: CheckoutErrors
                metric: http.server.request.duration
                where: {http.route: /checkout}
                aggregation: ratio
                numerator:
                  http.response.status_code: {regex: "5.."}
                operator: ">="
                threshold: 0.02
                for: 2m
                window: 10m
                severity: critical
                channels: [log]
                labels: {team: payments}
                summary: Checkout is failing
                repeat_interval: 1h
              - name: QueueDepth
                metric: jobs.queue.depth
                threshold: 1000
              - name: Disabled
                metric: jobs.queue.depth
                threshold: 1
                enabled: false
            """
        )
        assert errors == AlertRule(
            "CheckoutErrors",
            DURATION,
            0.02,
            aggregation="ratio",
            where={"http.route": "/checkout"},
            numerator={"http.response.status_code": {"regex": "5.."}},
            operator=">=",
            for_duration=120,
            window=600,
            severity="critical",
            channels=("log",),
            labels={"team": "payments"},
            summary="Checkout is failing",
            repeat_interval=3600,
        )
        assert (queue.name, queue.operator, queue.for_duration, queue.channels) == (
            "QueueDepth",
            ">",
            0.0,
            None,
        )

    def test_an_empty_file_has_no_rules(self) -> None:
        assert parse("") == []
        assert parse("rules:\n") == []

    def test_a_bad_value_names_the_line_the_field_and_what_is_accepted(self) -> None:
        message = yaml_error(
            """
            rules:
              - name: A
                metric: m
                threshold: 1
                operator: above
            """
        )
        assert message == (
            "OTELKIT_ALERT_RULES_FILE='rules.yaml', line 6: rule 'A', field 'operator': "
            "'above' is not an operator. Accepted: >, >=, <, <=, ==, !=, gt, ge, gte, lt, le, "
            "lte, eq, ne."
        )

    def test_an_unquoted_operator_gets_a_hint(self) -> None:
        message = yaml_error(
            """
            rules:
              - name: A
                metric: m
                operator: >
                threshold: 1
            """
        )
        assert "line 5: rule 'A', field 'operator': is empty (in YAML, quote it" in message

    def test_an_unknown_field_suggests_the_closest(self) -> None:
        message = yaml_error(
            """
            rules:
              - name: A
                metric: m
                treshold: 1
            """
        )
        assert "line 5: rule 'A': unknown field 'treshold' (did you mean 'threshold'?)" in message
        assert "Accepted fields: name, metric, threshold, aggregation" in message

    def test_a_missing_field_points_at_the_rule(self) -> None:
        message = yaml_error(
            """
            rules:
              - name: A
                metric: m
              - name: B
            """
        )
        assert "line 3: rule 'A', field 'threshold': missing. Accepted: a number." in message

    def test_a_nested_problem_points_at_its_field(self) -> None:
        message = yaml_error(
            """
            rules:
              - name: A
                metric: m
                threshold: 1
                where:
                  code: {regex: "5(("}
            """
        )
        assert "line 6: rule 'A', field 'where': the regex of 'code' is not valid" in message

    def test_a_channel_that_is_not_configured(self) -> None:
        message = yaml_error(
            """
            rules:
              - name: A
                metric: m
                threshold: 1
                channels: [log, webhook]
            """
        )
        assert (
            "line 6: rule 'A', field 'channels': channel 'webhook' is not configured "
            "(set OTELKIT_ALERT_WEBHOOK_URL). Accepted: log, callback." in message
        )

    def test_two_rules_with_one_name(self) -> None:
        message = yaml_error(
            """
            rules:
              - {name: A, metric: m, threshold: 1}
              - {name: A, metric: n, threshold: 2}
            """
        )
        assert "line 4: rule 'A', field 'name': the name is already used by the rule at line 3" in (
            message
        )

    def test_a_field_given_twice(self) -> None:
        message = yaml_error(
            """
            rules:
              - name: A
                metric: m
                threshold: 1
                threshold: 2
            """
        )
        assert "line 6: rule 'A', field 'threshold': given twice (first at line 5)" in message

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("rules: [\n  {name: A\n", "line 3: not valid YAML"),
            ("- name: A\n", "line 1: the file must be a mapping with a `rules` list"),
            ("alerts: []\n", "line 1: the top level: unknown field 'alerts'"),
            ("rules: {name: A}\n", "line 1: `rules` must be a list of rules"),
            ("rules:\n  - just text\n", "line 2: rule #1 must be a mapping of fields"),
        ],
    )
    def test_structure_errors(self, text: str, message: str) -> None:
        assert message in yaml_error(text)

    def test_a_missing_file(self, tmp_path: Path) -> None:
        path = tmp_path / "nope.yaml"
        with pytest.raises(ConfigError, match="the file cannot be read"):
            load_rules_file(str(path), CHANNELS)

    def test_a_file_rule_replaces_the_built_in_of_the_same_name(self, tmp_path: Path) -> None:
        path = tmp_path / "rules.yaml"
        path.write_text(
            "rules:\n"
            "  - {name: HighCpuUsage, metric: process.cpu.utilization, threshold: 0.5}\n"
            "  - {name: Mine, metric: jobs.queue.depth, threshold: 10}\n"
        )
        settings = load_alert_settings(environ={"OTELKIT_ALERT_RULES_FILE": str(path)})
        rules = {rule.name: rule for rule in make_engine_from(settings).rules}
        assert rules["HighCpuUsage"].metric == "process.cpu.utilization"
        assert "Mine" in rules
        assert len(rules) == 6


def test_notification_text_names_the_alert_the_value_and_the_condition() -> None:
    rule = AlertRule("DeepQueue", "queue.depth", 100, summary="Jobs pile up")
    engine = AlertEngine(
        AlertSettings(service_name="orders"), clock=lambda: 0.0, rules=[rule], channels={}
    )
    fired: Alert
    (fired,) = engine.evaluate(0, load(150))
    assert fired.text == (
        "[FIRING] DeepQueue (warning) - orders: queue.depth > 100 (value 150) - Jobs pile up"
    )
    (resolved,) = engine.evaluate(15, load(20))
    assert resolved.text.startswith(
        "[RESOLVED] DeepQueue (warning) - orders: resolved, value now 20"
    )


# -- robustness --------------------------------------------------------------------------------

RULE_FIELDS = [
    "name",
    "metric",
    "threshold",
    "aggregation",
    "operator",
    "for",
    "window",
    "severity",
    "where",
    "numerator",
    "denominator",
    "by",
    "channels",
    "labels",
    "summary",
    "repeat_interval",
    "enabled",
    "bogus",
]
yaml_scalars = st.sampled_from(
    ["", "x", "1", "-1", "0.5", "5m", "1h30m", "nan", ".inf", "true", "null", "~", "2001-13-45",
     ">", '">"', "[]", "{}", "[log, webhook]", "{a: {regex: '('}}", "{a: {not: [1, 2]}}",
     "{a: {exists: 1}}", "p95", "ratio", "!!binary aGk=", "!!python/name:os.system", "*x",
     "&x 1"]
)  # fmt: skip


@hyp_settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(RULE_FIELDS), yaml_scalars, max_size=8))
def test_any_rule_in_a_file_gives_a_rule_or_config_error(fields: dict[str, str]) -> None:
    """The YAML reader never fails with anything but ConfigError, whatever the fields hold."""
    body = "".join(f"    {key}: {value}\n" for key, value in fields.items())
    with contextlib.suppress(ConfigError):
        parse("rules:\n  -\n" + body)


@hyp_settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gives_rules_or_config_error(text: str) -> None:
    with contextlib.suppress(ConfigError):
        parse_rules(text, "OTELKIT_ALERT_RULES_FILE='x.yaml'", CHANNELS)


def test_the_alerting_page_documents_every_variable() -> None:
    from pathlib import Path

    from otelkit.config._alerting import alert_settings

    page = (Path(__file__).resolve().parents[2] / "docs" / "alerting.md").read_text()
    missing = [s.env for s in alert_settings() if f"`{s.env}`" not in page]
    assert missing == []


def test_alert_settings_has_a_field_per_declaration() -> None:
    """``AlertSettings`` mirrors the declarations (and ``_config.Settings`` gets the same)."""
    from dataclasses import fields

    from otelkit.config._alerting import alert_settings

    declared = [s.key for s in alert_settings()]
    assert [f.name for f in fields(AlertSettings)] == [*declared, "service_name"]


def test_the_disk_rule_reads_the_share_df_shows_not_the_share_of_the_whole_size() -> None:
    """78 GB used, 12 GB available, 10 GB reserved for root: df says 87 % (78 / 90), the
    utilization 78 % (78 / 100). The built-in rule fires on df's figure."""
    from otelkit.alerting._defaults import default_rules

    settings = load_alert_settings(environ={"OTELKIT_ALERT_DISK_FOR": "0"})
    (disk,) = [rule for rule in default_rules(settings) if rule.name == "HighDiskUsage"]
    engine = AlertEngine(settings, clock=lambda: 0.0, rules=[disk], channels={})
    where = {"system.device": "/dev/sda1", "system.filesystem.mountpoint": "/"}
    usage = counter(
        "system.filesystem.usage",
        ({**where, "system.filesystem.state": "used"}, 78e9),
        ({**where, "system.filesystem.state": "free"}, 12e9),
        ({**where, "system.filesystem.state": "reserved"}, 10e9),
        monotonic=False,
    )
    (fired,) = engine.evaluate(0, snapshot(usage))
    assert fired.value == pytest.approx(78 / 90)
    assert fired.labels["system.filesystem.mountpoint"] == "/"
