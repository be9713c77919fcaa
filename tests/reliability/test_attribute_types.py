"""Every OpenTelemetry attribute type works wherever the business API takes attributes.

A valid value (``str``, ``bool``, ``int``, ``float``, or a homogeneous list or tuple of one of
them) reaches the exported point (a list as a tuple); an invalid one (``dict``, ``None``, a
mixed sequence, any other object, a non-string or empty key) is dropped and counted under the
``attributes`` component of ``internal_error_count``. And whatever the attributes, a decorated
function behaves exactly as the undecorated one: same return value, same exception object.

Dropping an invalid attribute is counted with ``record_internal_error``, which only counts and
logs: the suite's ``raise_internal_errors(True)`` affects ``guarded`` code and failures of
otelkit's own around a call, so a bug of ours still fails these tests instead of being hidden.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import otelkit
from otelkit import _errors, testing

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

_TEXT = st.text(max_size=8) | st.sampled_from(["\udcff", '"', "\\", "\n", ""])
_FLOATS = st.floats(allow_nan=True, allow_infinity=True)
SCALARS = _TEXT | st.booleans() | st.integers() | _FLOATS
VALID = (
    SCALARS
    | st.lists(_TEXT, max_size=3)
    | st.lists(st.booleans(), max_size=3).map(tuple)
    | st.lists(st.integers(), max_size=3)
    | st.lists(_FLOATS, max_size=3).map(tuple)
)
INVALID = st.sampled_from(
    [None, {"a": 1}, [1, "a"], (True, 1), [1, 1.5], [None], [[1]], {1, 2}, object(), b"bytes"]
)
KEYS = _TEXT.filter(lambda k: k not in ("", "error.type"))
VALID_ATTRIBUTES = st.dictionaries(KEYS, VALID, max_size=4)
INVALID_ATTRIBUTES = st.dictionaries(KEYS, INVALID, min_size=1, max_size=2) | st.just({"": "x"})
DECORATORS = st.sampled_from(["timed", "counted", "track_inprogress"])
_names = itertools.count()


class Boom(Exception):
    pass


def exported(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal attributes, NaN equal to NaN."""
    nan = "nan"
    norm = {k: nan if isinstance(v, float) and math.isnan(v) else v for k, v in a.items()}
    return norm == {k: nan if isinstance(v, float) and math.isnan(v) else v for k, v in b.items()}


@pytest.fixture
def telemetry() -> Iterator[otelkit.Telemetry]:
    handle = otelkit.init_telemetry("attributes", exporters="memory", instrument="none")
    yield handle
    handle.shutdown()


def _run(fn: Callable[[], Any]) -> tuple[str, Any]:
    """What a call gives: ("returned", value) or ("raised", the exception object)."""
    try:
        result = fn()
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
    except BaseException as exc:  # comparing whatever the call gives
        return "raised", exc
    return "returned", result


def _function(is_async: bool, raises: bool, result: object, error: BaseException) -> Any:
    if is_async:

        async def afn(x: object) -> object:
            await asyncio.sleep(0)
            if raises:
                raise error
            return result

        return afn

    def fn(x: object) -> object:
        if raises:
            raise error
        return result

    return fn


def _decorate(kind: str, name: str, attributes: Any) -> Any:
    return getattr(otelkit, kind)(name, attributes=attributes)


def _check(telemetry: otelkit.Telemetry, data: st.DataObject, attributes: dict[str, Any]) -> None:
    kind = data.draw(DECORATORS)
    is_async, raises, computed = (
        data.draw(st.booleans()),
        data.draw(st.booleans()),
        data.draw(st.booleans()),
    )
    result, error = object(), Boom("the caller's own")
    name = f"attributes.{kind}.{next(_names)}"
    decorator = _decorate(kind, name, (lambda x: attributes) if computed else attributes)
    plain = _function(is_async, raises, result, error)
    decorated = decorator(_function(is_async, raises, result, error))

    assert _run(lambda: decorated(1)) == _run(lambda: plain(1))

    valid = {k: exported(v) for k, v in attributes.items() if k}
    (point,) = testing.points(telemetry, name)
    if kind == "track_inprogress":
        assert point.value == 0
    elif raises:
        valid["error.type"] = "Boom"
    assert same(dict(point.attributes), valid)


def test_valid_attributes_of_every_type_reach_the_points_and_calls_are_unchanged(
    telemetry: otelkit.Telemetry,
) -> None:
    @settings(max_examples=150, deadline=None)
    @given(st.data(), VALID_ATTRIBUTES)
    def check(data: st.DataObject, attributes: dict[str, Any]) -> None:
        before = _errors.internal_error_count()
        _check(telemetry, data, attributes)
        assert _errors.internal_error_count() == before  # nothing dropped

    check()


def test_invalid_attributes_are_dropped_counted_and_never_reach_the_caller(
    telemetry: otelkit.Telemetry,
) -> None:
    @settings(max_examples=150, deadline=None)
    @given(st.data(), VALID_ATTRIBUTES, INVALID_ATTRIBUTES)
    def check(data: st.DataObject, valid: dict[str, Any], invalid: dict[str, Any]) -> None:
        before = _errors.internal_error_count("attributes")
        mixed = {**valid, **invalid}
        expected = {k: v for k, v in mixed.items() if k not in invalid}
        # _check compares the points with the valid part only
        kind_points = _check_dropping(telemetry, data, mixed, expected)
        assert kind_points
        assert _errors.internal_error_count("attributes") > before

    check()


def _check_dropping(
    telemetry: otelkit.Telemetry, data: st.DataObject, mixed: dict[str, Any], valid: dict[str, Any]
) -> bool:
    kind = data.draw(DECORATORS)
    is_async, raises, computed = (
        data.draw(st.booleans()),
        data.draw(st.booleans()),
        data.draw(st.booleans()),
    )
    result, error = object(), Boom("the caller's own")
    name = f"attributes.{kind}.{next(_names)}"
    decorator = _decorate(kind, name, (lambda x: mixed) if computed else mixed)
    plain = _function(is_async, raises, result, error)
    decorated = decorator(_function(is_async, raises, result, error))
    outcome = _run(lambda: decorated(1))
    assert outcome == _run(lambda: plain(1))
    if raises:
        assert outcome[1] is error
    expected = {k: exported(v) for k, v in valid.items()}
    if raises and kind != "track_inprogress":
        expected["error.type"] = "Boom"
    (point,) = testing.points(telemetry, name)
    assert same(dict(point.attributes), expected)
    return True


def test_record_takes_any_attribute_and_never_raises(telemetry: otelkit.Telemetry) -> None:
    # "attributes" is record()'s mapping of further attributes, not a keyword attribute.
    keys = KEYS.filter(lambda k: k != "attributes")

    @settings(max_examples=100, deadline=None)
    @given(st.dictionaries(keys, VALID, max_size=4), st.dictionaries(keys, INVALID, max_size=2))
    def check(valid: dict[str, Any], invalid: dict[str, Any]) -> None:
        name = f"attributes.record.{next(_names)}"
        otelkit.record(name, 1.0, **{**valid, **invalid})
        (point,) = testing.points(telemetry, name)
        expected = {k: exported(v) for k, v in valid.items() if k not in invalid}
        assert same(dict(point.attributes), expected)

    check()


def test_gauges_keep_sequences_and_drop_what_is_not_an_attribute(
    telemetry: otelkit.Telemetry,
) -> None:
    before = _errors.internal_error_count("attributes")
    otelkit.gauge(
        "attributes.gauge.queues",
        lambda: {(("queues", ("high", "low")), ("owner", object())): 2.0},
    )
    (point,) = testing.points(telemetry, "attributes.gauge.queues")
    assert dict(point.attributes) == {"queues": ("high", "low")}
    assert _errors.internal_error_count("attributes") > before


def test_a_list_attribute_on_a_raising_function_keeps_the_callers_exception(
    telemetry: otelkit.Telemetry,
) -> None:
    """The report: ``TypeError: unhashable type: 'list'`` replaced the function's exception."""
    error = Boom("payment declined")

    @otelkit.timed("attributes.checkout.duration", attributes={"items": ["a", "b"]})
    def checkout() -> None:
        raise error

    with pytest.raises(Boom) as raised:
        checkout()
    assert raised.value is error
    (point,) = testing.points(telemetry, "attributes.checkout.duration")
    assert dict(point.attributes) == {"items": ("a", "b"), "error.type": "Boom"}


def test_one_and_true_and_one_point_zero_are_three_series(telemetry: otelkit.Telemetry) -> None:
    for value in (1, True, 1.0, 1):
        otelkit.record("attributes.kinds", 1.0, flag=value)
    counts = sorted(
        (type(p.attributes["flag"]).__name__, p.count)
        for p in testing.points(telemetry, "attributes.kinds")
    )
    assert counts == [("bool", 1), ("float", 1), ("int", 2)]
