"""Each business metric gets one panel, drawn as its instrument reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hypothesis import given, settings
from hypothesis import strategies as st

from otelkit.metrics._spec import INSTRUMENTS, own
from otelkit.ops.catalog import MetricSpec
from otelkit.ops.dashboard import generate
from tests.ops.dashboard.helpers import catalog_of, rows

if TYPE_CHECKING:
    from collections.abc import Sequence

BUSINESS = "Business metrics"
names = st.from_regex(r"app\.[a-z][a-z0-9_]{0,8}(\.[a-z][a-z0-9_]{0,8}){0,2}", fullmatch=True)
attribute_sets = st.lists(st.sampled_from(["channel", "tier", "region.name"]), unique=True)


def business(
    name: str, instrument: str, unit: str = "", attributes: Sequence[str] = ()
) -> MetricSpec:
    return MetricSpec(
        name,
        instrument,  # type: ignore[arg-type]
        unit,
        "declared by the test",
        tuple(own(a) for a in attributes),
        "business",
    )


def business_panels(*specs: MetricSpec) -> list[dict[str, object]]:
    return rows(generate(catalog_of({"http"}, *specs), slos=()))[BUSINESS]


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(names, st.tuples(st.sampled_from(INSTRUMENTS), attribute_sets), min_size=1))
def test_one_panel_per_business_metric_chosen_by_instrument(
    declared: dict[str, tuple[str, list[str]]],
) -> None:
    specs = [business(name, kind, "s", attrs) for name, (kind, attrs) in declared.items()]
    shown = business_panels(*specs)
    assert len(shown) == len(specs)
    for spec, panel in zip(specs, shown, strict=True):
        assert str(panel["title"]).startswith(spec.name)
        targets = panel["targets"]
        assert isinstance(targets, list)
        grouping = ", ".join(spec.prometheus_labels())
        if spec.instrument == "histogram":
            assert panel["type"] == "timeseries"
            assert [t["legendFormat"].split()[0] for t in targets] == ["p50", "p95", "p99"]
            bucket = spec.prometheus_series()[0]
            for target in targets:
                assert target["expr"].startswith("histogram_quantile(")
                assert f"{bucket}{{" in target["expr"]
                assert f"by (le{', ' if grouping else ''}{grouping})" in target["expr"]
        elif spec.instrument in ("counter", "observable_counter"):
            assert panel["type"] == "timeseries"
            (target,) = targets
            assert target["expr"].startswith("sum")
            assert f"rate({spec.prometheus_series()[0]}{{" in target["expr"]
        else:
            assert panel["type"] == "stat"
            (target,) = targets
            how = "max" if spec.instrument.endswith("gauge") else "sum"
            assert target["expr"].startswith(f"{how} by ({grouping})" if grouping else f"{how}(")
            assert "rate(" not in target["expr"]


def test_units_follow_the_metric() -> None:
    panels = business_panels(
        business("app.checkout", "histogram", "s"),
        business("app.payload", "histogram", "By"),
        business("app.orders", "counter", "{order}"),
        business("app.sent", "counter", "By"),
        business("app.fill", "gauge", "1"),
    )
    units = [p["fieldConfig"]["defaults"]["unit"] for p in panels]  # type: ignore[index]
    assert units == ["s", "bytes", "ops", "Bps", "percentunit"]


def test_no_business_metric_no_business_row() -> None:
    assert BUSINESS not in rows(generate(catalog_of({"http"}), slos=()))
