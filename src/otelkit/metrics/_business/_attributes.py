"""The attributes of one call: static ones, a function of the call's arguments, and a
function of its result.

They are cleaned and resolved into the key of a fast series and the attribute dict: static
ones once, when the decorator is applied, computed ones on every call. Cleaning keeps what
OpenTelemetry accepts as an attribute (a non-empty ``str`` key; a ``str``, ``bool``, ``int`` or
``float`` value, or a homogeneous list or tuple of one of them, kept as a tuple) and drops the
rest (``dict``, ``None``, mixed sequences, other objects), each drop counted and logged once
per kind (``record_internal_error("attributes", InvalidAttribute(...))``). A function that
raises (or returns no mapping) is logged once and counted (``otelkit.internal.errors``), and
the attributes known without it are used: nothing here raises into the caller.

The series key tells ``1``, ``1.0`` and ``True`` apart (they are equal in Python), and a NaN
from another (``nan != nan``), so each value gets its own series and a NaN one series.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from otelkit._errors import record_internal_error
from otelkit.metrics._fastpath import dropped

if TYPE_CHECKING:
    from collections.abc import Callable

    from otelkit.metrics._business._instruments import Attributes

__all__ = ["CallAttributes", "InvalidAttribute", "ResultAttributes", "clean"]

_SCALARS = (bool, str, int, float)  # bool before int: True is an int too
_EXACT = frozenset(_SCALARS)


class InvalidAttribute(ValueError):
    """An attribute OpenTelemetry does not accept; it is dropped, never raised to the caller."""


def _scalar_type(value: object) -> type | None:
    for kind in _SCALARS:
        if isinstance(value, kind):
            return kind
    return None


def _valid_value(value: object) -> Any:
    """``value`` as an attribute value (sequences become tuples), or ``None`` if invalid."""
    if _scalar_type(value) is not None:
        return value
    if isinstance(value, (list, tuple)):
        kinds = {_scalar_type(item) for item in value}
        if len(kinds) <= 1 and None not in kinds:
            return tuple(value)
    return None


def clean(attributes: Mapping[Any, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The series key and the attribute dict of ``attributes``, invalid ones dropped."""
    try:  # the usual case first: string keys and values, nothing to convert or drop
        key = tuple(sorted(attributes.items()))
    except Exception:  # keys that do not compare (mixed types)
        return _clean(attributes)
    for name, value in key:
        if type(value) is not str or type(name) is not str or not name:
            return _clean(attributes)
    return key, attributes if type(attributes) is dict else dict(attributes)


def _clean(attributes: Mapping[Any, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    key: list[tuple[Any, ...]] = []
    kept: dict[str, Any] = {}
    for name, value in attributes.items():
        kind = type(value)
        if kind is str and type(name) is str and name:
            key.append((name, value))
            kept[name] = value
            continue
        valid = value if kind in _EXACT else _valid_value(value)
        if valid is None or not isinstance(name, str) or not name:
            _drop(name, value)
            continue
        value = valid
        # The type and repr keep 1, 1.0 and True apart, and every NaN in one series.
        key.append((name, type(value).__name__, repr(value)))
        kept[name] = value
    key.sort(key=_first)
    return tuple(key), kept


def _first(item: tuple[Any, ...]) -> str:
    return str(item[0])


def _drop(name: object, value: object) -> None:
    dropped("metrics", "invalid_attribute")
    record_internal_error(
        "attributes",
        InvalidAttribute(
            f"an attribute of key type {type(name).__name__} and value type "
            f"{type(value).__name__} was dropped: OpenTelemetry takes a non-empty str key and a "
            "str, bool, int or float value, or a homogeneous list of one of them"
        ),
    )


class CallAttributes:
    """Static attributes, or a function of the call's arguments; keyed for the fast series."""

    __slots__ = ("_component", "_function", "_key", "_static")

    def __init__(self, attributes: Attributes, component: str) -> None:
        self._component = component
        self._function = attributes if callable(attributes) else None
        static = attributes if isinstance(attributes, Mapping) else {}
        self._key, self._static = clean(static)

    def resolve(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if self._function is None:
            return self._key, self._static
        try:
            computed = self._function(*args, **kwargs)
            return clean(computed if isinstance(computed, Mapping) else dict(computed))
        except Exception as exc:
            record_internal_error(self._component, exc)
            return self._key, self._static

    @staticmethod
    def with_error(
        key: tuple[Any, ...], attributes: dict[str, Any], error: str | None
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if error is None:
            return key, attributes
        return (*key, (ERROR_TYPE, error)), {**attributes, ERROR_TYPE: error}


class ResultAttributes:
    """Attributes from a function of the call's result, added to (and overriding) the others."""

    __slots__ = ("_component", "_function")

    def __init__(self, function: Callable[[Any], Mapping[str, Any]], component: str) -> None:
        self._component = component
        self._function = function

    def merge(
        self, key: tuple[Any, ...], attributes: dict[str, Any], result: Any
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        try:
            computed: Any = self._function(result)  # users' functions are not type-checked
            if not isinstance(computed, Mapping):
                computed = dict(computed)
        except Exception as exc:
            record_internal_error(self._component, exc)
            return key, attributes
        if not computed:
            return key, attributes
        return clean({**attributes, **computed})
