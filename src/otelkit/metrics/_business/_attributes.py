"""The attributes of one call: static ones, or a function of the call's arguments.

They are resolved into the key of a fast series and the attribute dict once per call. A
function that raises is logged once (``record_internal_error``) and the static attributes are
used: nothing here raises into the caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from otelkit._errors import record_internal_error

if TYPE_CHECKING:
    from otelkit.metrics._business._instruments import Attributes

__all__ = ["CallAttributes"]


class CallAttributes:
    """Static attributes, or a function of the call's arguments; keyed for the fast series."""

    __slots__ = ("_component", "_function", "_key", "_static")

    def __init__(self, attributes: Attributes, component: str) -> None:
        self._component = component
        self._function = attributes if callable(attributes) else None
        self._static = dict(attributes) if isinstance(attributes, Mapping) else {}
        self._key = tuple(sorted(self._static.items()))

    def resolve(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if self._function is None:
            return self._key, self._static
        try:
            computed = dict(self._function(*args, **kwargs))
            return tuple(sorted(computed.items())), computed
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
