"""SLOs as code and as flags, and the rules they become."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otelkit import ConfigError
from otelkit.ops.catalog import load_catalog
from otelkit.ops.catalog._catalog import everything
from otelkit.ops.rules import (
    SLO,
    Thresholds,
    clear_slos,
    generate,
    parse_slo_flag,
    register_slo,
    registered_slos,
)

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture(autouse=True)
def _empty_registry() -> Iterator[None]:
    clear_slos()
    yield
    clear_slos()


def _group(slo: SLO, suffix: str = "") -> list[dict]:  # type: ignore[type-arg]
    """The rules of ``slo`` over otelkit's metrics and those this process declared (as --app)."""
    rules = generate(everything(), service="shop", slos=[slo], thresholds=Thresholds())
    [group] = [g for g in rules["groups"] if g["name"] == f"otelkit-slo-{slo.name}{suffix}"]
    return group["rules"]  # type: ignore[no-any-return]


def test_flags_give_availability_and_latency_objectives() -> None:
    assert parse_slo_flag("availability=99.9") == [SLO("service-availability", 99.9)]
    assert parse_slo_flag("latency=0.5s@99") == [SLO("service-latency", 99, latency=0.5)]
    assert parse_slo_flag("route=/checkout,availability=99.9,latency=250ms@95") == [
        SLO("checkout-availability", 99.9, route="/checkout"),
        SLO("checkout-latency", 95, latency=0.25, route="/checkout"),
    ]
    assert parse_slo_flag("function=shop.pay.duration,availability=99.5,name=pay,period=28d") == [
        SLO("pay", 99.5, function="shop.pay.duration", period="28d")
    ]


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("availability", "is not understood"),
        ("avail=99", "is not understood"),
        ("route=/x", "give availability="),
        ("availability=99.9,availability=99", "given twice"),
        ("availability=abc", "is not a percentage"),
        ("availability=0.999", "a percentage from 50"),
        ("latency=0.5s", "<time>@<percent>"),
        ("latency=fast@99", "latency 'fast' is not valid"),
        ("route=/a,function=f,availability=99", "not both"),
        ("availability=99,period=30", "period='30'"),
    ],
)
def test_a_bad_flag_says_what_is_accepted(flag: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_slo_flag(flag)


@given(st.floats(allow_nan=True) | st.integers(-1000, 1000))
def test_objectives_are_percentages_below_100(objective: float) -> None:
    """Only 50 <= objective < 100 is accepted: 0.999 (a share) or 100 (no budget) are refused."""
    if isinstance(objective, float) and objective != objective:  # NaN
        expected_ok = False
    else:
        expected_ok = 50 <= objective < 100
    if expected_ok:
        assert SLO("x", objective).error_budget == pytest.approx(1 - objective / 100)
    else:
        with pytest.raises(ConfigError, match="objective"):
            SLO("x", objective)


def test_the_registry_is_what_an_application_fills_at_import() -> None:
    register_slo(SLO("a", 99), SLO("b", 99.9))
    register_slo(SLO("a", 99.5))  # declared again: replaced
    assert registered_slos() == (SLO("a", 99.5), SLO("b", 99.9))
    with pytest.raises(ConfigError, match="takes SLO values"):
        register_slo("a")  # type: ignore[arg-type]


def test_an_slo_becomes_slis_over_the_standard_windows_burn_alerts_and_a_budget() -> None:
    slo = SLO("checkout", 99.9, route="/checkout")
    rules, budget = _group(slo), _group(slo, "-budget")
    recorded = [r["record"] for r in rules if "record" in r]
    assert recorded == [
        f"otelkit_slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    ]
    assert [r["record"] for r in budget] == [
        "otelkit_slo:sli_error:ratio_rate30d",
        "otelkit_slo:objective:ratio",
        "otelkit_slo:error_budget_remaining:ratio",
    ]
    assert all(r["labels"]["slo"] == "checkout" for r in rules + budget)
    page, ticket = (r for r in rules if "alert" in r)
    assert page["labels"]["severity"] == "critical"
    assert 'ratio_rate1h{slo="checkout"} > 0.0144 and' in page["expr"]
    assert 'ratio_rate6h{slo="checkout"} > 0.006 and' in page["expr"]
    assert ticket["labels"]["severity"] == "warning"
    assert 'ratio_rate1d{slo="checkout"} > 0.003 and' in ticket["expr"]
    assert 'ratio_rate3d{slo="checkout"} > 0.001 and' in ticket["expr"]


def test_a_latency_objective_counts_the_bucket_of_its_threshold() -> None:
    sli = _group(SLO("fast", 99, latency=0.25))[0]["expr"]
    assert 'le="0.25"' in sli
    with pytest.raises(ConfigError, match=r"not a bucket boundary.*0\.25, 0\.5"):
        _group(SLO("odd", 99, latency=0.3))


def test_a_function_objective_needs_a_declared_metric() -> None:
    with pytest.raises(ConfigError, match="function='nope' is not a metric"):
        _group(SLO("f", 99, function="nope"))


def test_two_slos_may_not_share_a_name() -> None:
    with pytest.raises(ConfigError, match="used twice"):
        generate(load_catalog(None), slos=[SLO("a", 99), SLO("a", 99.9)], thresholds=Thresholds())


def test_a_decorated_function_gets_availability_and_latency_slis() -> None:
    """A @timed function: failures are calls with error.type, slow calls those above the bucket."""
    import otelkit

    @otelkit.timed("tests.rules.payment.duration")
    def pay() -> None: ...

    availability = _group(SLO("pay", 99.5, function="tests.rules.payment.duration"))[0]["expr"]
    assert availability == (
        '(sum by (job) (rate(tests_rules_payment_duration_seconds_count{job="shop", '
        'error_type!=""}[5m])) or 0 * sum by (job) '
        '(rate(tests_rules_payment_duration_seconds_count{job="shop"}[5m]))) / sum by (job) '
        '(rate(tests_rules_payment_duration_seconds_count{job="shop"}[5m]))'
    )
    latency = _group(SLO("pay-fast", 99, latency=1, function="tests.rules.payment.duration"))
    assert 'tests_rules_payment_duration_seconds_bucket{job="shop", le="1.0"}' in latency[0]["expr"]


@pytest.mark.parametrize("route", ['/a"b', "/a\\b", "/a\nb", ""])
def test_a_route_that_would_break_the_query_is_refused(route: str) -> None:
    with pytest.raises(ConfigError, match="route="):
        SLO("r", 99, route=route)


def test_a_service_that_would_break_the_query_is_refused() -> None:
    with pytest.raises(ConfigError, match="service="):
        generate(load_catalog(None), service='shop"} or vector(1) #', thresholds=Thresholds())
