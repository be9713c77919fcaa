"""The readings of the ``telemetry`` fixture, in this process: how keywords name attributes,
what each kind of metric adds up, and the errors that point at the right call."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from hypothesis import given
from hypothesis import strategies as st

import otelkit
from otelkit.testing._match import resolve

if TYPE_CHECKING:
    from otelkit.testing import CapturedTelemetry


def test_keywords_name_dotted_attributes_unless_one_is_spelt_like_them(
    telemetry: CapturedTelemetry,
) -> None:
    """``http_route`` is ``http.route``; ``card_type``, recorded so, stays ``card_type``."""
    otelkit.count("payments", card_type="visa", **{"http.route": "/pay"})
    otelkit.count("payments", card_type="amex", **{"http.route": "/pay"})
    payments = telemetry.counter("payments")
    assert payments.value(http_route="/pay") == 2
    assert payments.value(card_type="visa") == 1
    assert payments.value({"http.route": "/pay"}, card_type="amex") == 1
    assert payments.value(http_route="/elsewhere") == 0


@given(st.dictionaries(st.from_regex(r"[a-z]{1,5}(_[a-z]{1,5}){0,3}", fullmatch=True), st.text()))
def test_a_keyword_without_a_recorded_twin_is_read_with_dots(keywords: dict[str, str]) -> None:
    wanted = resolve(None, keywords, known=())
    assert wanted == {key.replace("_", "."): value for key, value in keywords.items()}
    assert resolve(None, keywords, known=keywords) == keywords


def test_histograms_add_counts_and_sums_over_the_matching_series(
    telemetry: CapturedTelemetry,
) -> None:
    for value, tier in ((0.2, "gold"), (0.3, "gold"), (1.0, "silver")):
        otelkit.record("checkout.seconds", value, unit="s", tier=tier)
    checkout = telemetry.histogram("checkout.seconds")
    assert checkout.count(tier="gold") == 2
    assert checkout.sum(tier="gold") == pytest.approx(0.5)
    assert checkout.count() == 3
    assert checkout.unit == "s"


def test_a_gauge_read_over_several_series_says_to_name_more(telemetry: CapturedTelemetry) -> None:
    otelkit.set_gauge("queue.depth", 3, queue="mail")
    otelkit.set_gauge("queue.depth", 5, queue="sms")
    depth = telemetry.gauge("queue.depth")
    assert depth.value(queue="sms") == 5
    assert depth.value(queue="fax") is None
    with pytest.raises(AssertionError, match=r"2 series of the gauge 'queue\.depth' match"):
        depth.value()


def test_asking_for_the_wrong_kind_names_the_right_one(telemetry: CapturedTelemetry) -> None:
    otelkit.count("orders.returned")
    with pytest.raises(AssertionError, match=r"is a counter, not a histogram: .*counter\("):
        telemetry.histogram("orders.returned")
    assert telemetry.metric("orders.returned").kind == "counter"


def test_spans_and_logs_are_filtered_by_name_body_level_and_attributes(
    telemetry: CapturedTelemetry,
) -> None:
    import logging

    with telemetry.tracer.start_as_current_span("checkout", attributes={"order.tier": "gold"}):
        pass
    with telemetry.tracer.start_as_current_span("refund"):
        pass
    logging.getLogger("shop").warning("order %s placed", 7)
    logging.getLogger("shop").error("card declined")

    assert [s.name for s in telemetry.spans(order_tier="gold")] == ["checkout"]
    assert [s.name for s in telemetry.spans(name="refund")] == ["refund"]
    assert len(telemetry.spans()) == 2
    assert [r.log_record.body for r in telemetry.logs(level="error")] == ["card declined"]
    assert [r.log_record.body for r in telemetry.logs("placed")] == ["order 7 placed"]


def test_an_empty_secret_is_refused(telemetry: CapturedTelemetry) -> None:
    with pytest.raises(ValueError, match="non-empty"):
        telemetry.assert_no_secret("")
