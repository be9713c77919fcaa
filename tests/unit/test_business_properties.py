"""Whatever the arguments, the business API raises only ``ConfigError``, only for a bad
definition, only at the first call of it, and never from a call the user's code makes after."""

from __future__ import annotations

import itertools
import math
import os
import re
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import otelkit
from otelkit import ConfigError, testing

if TYPE_CHECKING:
    from collections.abc import Iterator

_serial = itertools.count()
NUMBERS = st.one_of(
    st.integers(-5, 1000),
    st.floats(allow_nan=True, allow_infinity=True),
)
BUCKETS = st.one_of(
    st.lists(NUMBERS, max_size=6),
    st.lists(st.one_of(NUMBERS, st.text(max_size=3), st.none(), st.booleans()), max_size=4),
)
OTEL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-/]{0,254}")
ANYTHING = st.one_of(
    st.none(),
    st.integers(),
    st.floats(),
    st.text(max_size=5),
    st.binary(max_size=3),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.one_of(st.integers(), st.none()), max_size=2),
    st.just(object()),
)
PROPERTIES = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def unique(prefix: str) -> str:
    return f"{prefix}.p{next(_serial)}"


def acceptable(buckets: list[Any]) -> bool:
    """The rule the docs give: non-empty, finite, non-negative, strictly increasing numbers."""
    if not buckets or any(isinstance(b, bool) or not isinstance(b, (int, float)) for b in buckets):
        return False
    if any(not math.isfinite(b) or b < 0 for b in buckets):
        return False
    return all(low < high for low, high in itertools.pairwise(buckets))


@pytest.fixture
def telemetry(monkeypatch: pytest.MonkeyPatch) -> Iterator[otelkit.Telemetry]:
    """One configuration for all the examples of a test."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "OTELKIT_")) and name != "OTELKIT_REQUIRE_SERVERS":
            monkeypatch.delenv(name)
    handle = otelkit.init_telemetry("shop", exporters="memory", instrument="none")
    yield handle
    handle.shutdown()


@PROPERTIES
@given(buckets=BUCKETS)
def test_buckets_are_refused_exactly_when_they_break_the_rule(
    telemetry: otelkit.Telemetry, buckets: list[Any]
) -> None:
    name = unique("score")
    if acceptable(buckets):
        otelkit.record(name, 0.5, buckets=buckets)
        (point,) = testing.points(telemetry, name)
        assert list(point.explicit_bounds) == [float(b) for b in buckets]
    else:
        with pytest.raises(ConfigError, match=r"buckets=.*Accepted: a non-empty list"):
            otelkit.record(name, 0.5, buckets=buckets)
    otelkit.record(name, 0.5, buckets=buckets)  # a later call of the same line never raises


@PROPERTIES
@given(unit=st.text(max_size=70))
def test_units_are_refused_exactly_when_opentelemetry_would_refuse_them(
    telemetry: otelkit.Telemetry, unit: str
) -> None:
    valid = len(unit) <= 63 and all(" " <= c <= "~" for c in unit)
    for call in (otelkit.count, otelkit.set_gauge):
        name = unique("items")
        if valid:
            call(name, 1, unit=unit)
        else:
            with pytest.raises(ConfigError, match="unit="):
                call(name, 1, unit=unit)
        call(name, 1, unit=unit)


@PROPERTIES
@given(name=st.text(max_size=12), value=ANYTHING)
def test_names_and_values_from_data_never_raise(
    telemetry: otelkit.Telemetry, name: str, value: Any
) -> None:
    """Names may be built from data: whatever their text, and whatever the value, no raise."""
    name = f"{name}{next(_serial)}"  # a new name each time, valid or not
    otelkit.record(name, value)
    otelkit.count(name + "c", value)
    otelkit.set_gauge(name + "g", value)
    if OTEL_NAME.fullmatch(name) and isinstance(value, int) and value >= 0:
        assert [p.value for p in testing.points(telemetry, name + "c")] == [value]


@PROPERTIES
@given(returned=ANYTHING, raises=st.sampled_from([None, ValueError, KeyError, TypeError]))
def test_attribute_functions_never_break_the_call(
    telemetry: otelkit.Telemetry, returned: Any, raises: type[Exception] | None
) -> None:
    def attributes(*args: Any, **kwargs: Any) -> Any:
        if raises is not None:
            raise raises("from the user's function")
        return returned

    name = unique("calls")

    @otelkit.timed(f"{name}.duration", attributes=attributes, attributes_from_result=attributes)
    @otelkit.counted(name, attributes=attributes, attributes_from_result=attributes)
    def call(x: int) -> int:
        return x * 2

    assert call(21) == 42
    (point,) = testing.points(telemetry, name)
    assert point.value == 1  # counted, with whatever attributes survived the cleaning
