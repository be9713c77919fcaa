"""The instruments of the business API, made in otelkit's fast registry, and their validation.

Decorators validate their arguments when they are applied (at import) and create their
instrument in ``otelkit.metrics._fastpath.REGISTRY`` at once; a bad name, unit, description,
bucket list or attribute argument, or a name already declared with another definition
(``_declared``), raises ``ConfigError`` then, never later in the caller. Duration histograms
(unit ``s``) get the semantic-convention buckets, others the SDK's defaults.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otelkit._errors import ConfigError
from otelkit._version import __version__
from otelkit.config import _parse
from otelkit.config._core import SEMCONV_DURATION_BUCKETS
from otelkit.metrics._business._declared import Definition, declare, forget
from otelkit.metrics._fastpath import REGISTRY, FastHistogram, FastSum, NameCollision

__all__ = [
    "SCOPE",
    "Attributes",
    "NameClash",
    "ResultAttributesFn",
    "check_attributes",
    "check_description",
    "check_name",
    "check_result_function",
    "check_unit",
    "created",
    "histogram_bounds",
    "make_histogram",
    "make_sum",
]

SCOPE = InstrumentationScope("otelkit.business", __version__)
# The OpenTelemetry instrument-name syntax.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-/]{0,254}")

Attributes = Mapping[str, Any] | Callable[..., Mapping[str, Any]] | None
"""Static attributes, or a function of the decorated function's arguments that returns them."""
ResultAttributesFn = Callable[[Any], Mapping[str, Any]] | None
"""A function of the value a decorated call returned that returns attributes."""
# The OpenTelemetry API's limits: a unit of at most 63 ASCII characters, a description of
# at most 1023 characters.
_UNIT = re.compile(r"[\x20-\x7e]{0,63}")
_DESCRIPTION_MAX = 1023
T = TypeVar("T")


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"{what}({name!r}) is not a valid instrument name. Accepted: a letter, then up to "
            "254 letters, digits, '_', '.', '-' or '/' (the OpenTelemetry name syntax)."
        )
    return name


def check_unit(unit: object, name: str, what: str) -> str:
    if isinstance(unit, str) and _UNIT.fullmatch(unit):
        return unit
    raise ConfigError(
        f"{what}({name!r}, unit={unit!r}) is not valid. Accepted: a string of at most 63 "
        "printable ASCII characters, a UCUM unit such as 's', 'ms', 'By', '1' or '{item}'."
    )


def check_description(description: object, name: str, what: str) -> str:
    if isinstance(description, str) and len(description) <= _DESCRIPTION_MAX:
        return description
    raise ConfigError(
        f"{what}({name!r}, description={description!r}) is not valid. Accepted: a string of "
        f"at most {_DESCRIPTION_MAX} characters."
    )


def histogram_bounds(unit: str, buckets: object, name: str, what: str) -> tuple[float, ...]:
    """The boundaries of a histogram: ``buckets`` checked, else the defaults for ``unit``."""
    if buckets is None:
        return SEMCONV_DURATION_BUCKETS if unit == "s" else _DEFAULT_BUCKETS
    try:
        return _parse.number_list(buckets)
    except _parse.Invalid as exc:
        raise ConfigError(
            f"{what}({name!r}, buckets={buckets!r}) is not valid: {exc.reason}. Accepted: a "
            "non-empty list of finite, non-negative, strictly increasing numbers."
        ) from None


def check_result_function(function: object, name: str, what: str) -> ResultAttributesFn:
    if function is None or callable(function):
        return function
    raise ConfigError(
        f"{what}({name!r}, attributes_from_result={function!r}) is not valid. Accepted: a "
        "function of the call's result that returns a mapping of attributes, or None."
    )


def created(
    name: str, definition: Definition, what: str, site: str, make: Callable[[], T], **catalog: Any
) -> T:
    """Declare ``name`` (``_declared``, which refuses another definition) and make its
    instrument with ``make()``; the declaration is withdrawn if ``make`` is refused."""
    new = declare(name, definition, what=what, site=site, **catalog)
    try:
        return make()
    except ConfigError:
        if new:
            forget(name)
        raise


def check_attributes(attributes: object, name: str, what: str) -> Attributes:
    if attributes is None or callable(attributes) or isinstance(attributes, Mapping):
        return attributes
    raise ConfigError(
        f"{what}({name!r}, attributes={attributes!r}) is not valid. Accepted: a mapping, or a "
        "function of the decorated function's arguments that returns one."
    )


def make_histogram(
    name: str, unit: str, description: str, bounds: tuple[float, ...], what: str
) -> FastHistogram:
    try:
        return REGISTRY.histogram(
            name, unit=unit, description=description, scope=SCOPE, boundaries=bounds
        )
    except NameCollision as exc:
        raise _collision(what, name, exc) from None
    except ValueError:
        raise ConfigError(
            f"{what}({name!r}): an instrument of that name already exists with another type, "
            "unit or buckets. Use one definition per name."
        ) from None


def make_sum(name: str, unit: str, description: str, monotonic: bool, what: str) -> FastSum:
    try:
        return REGISTRY.sum(
            name, unit=unit, description=description, scope=SCOPE, monotonic=monotonic
        )
    except NameCollision as exc:
        raise _collision(what, name, exc) from None
    except ValueError:
        raise ConfigError(
            f"{what}({name!r}): an instrument of that name already exists with another type. "
            "Use one definition per name."
        ) from None


class NameClash(ConfigError):
    """A name whose Prometheus form another metric already takes (``orders.placed`` and
    ``orders_placed``): a fault of the name's text, which may come from data at run time."""


def _collision(what: str, name: str, exc: NameCollision) -> ConfigError:
    return NameClash(
        f"{what}({name!r}) is refused: {exc}, and Prometheus would keep only some of their "
        "series. Rename one of them."
    )


# The OpenTelemetry SDK's default explicit boundaries, for histograms of other units.
_DEFAULT_BUCKETS = (
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0,
    7500.0, 10000.0,
)  # fmt: skip
