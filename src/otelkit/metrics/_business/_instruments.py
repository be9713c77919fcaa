"""The instruments of the business API, made in otelkit's fast registry, and their validation.

Decorators validate their arguments when they are applied (at import) and create their
instrument in ``otelkit.metrics._fastpath.REGISTRY`` at once; a bad name, bucket list or
attribute argument, or a name already used by another kind of instrument, raises
``ConfigError`` then, never later in the caller. Duration histograms (unit ``s``) get the
semantic-convention buckets, others the SDK's defaults.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from otelkit._errors import ConfigError
from otelkit._version import __version__
from otelkit.config import _parse
from otelkit.config._core import SEMCONV_DURATION_BUCKETS
from otelkit.metrics._fastpath import REGISTRY, FastHistogram, FastSum, NameCollision

__all__ = [
    "SCOPE",
    "Attributes",
    "check_attributes",
    "check_name",
    "make_histogram",
    "make_sum",
]

SCOPE = InstrumentationScope("otelkit.business", __version__)
# The OpenTelemetry instrument-name syntax.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-/]{0,254}")

Attributes = Mapping[str, Any] | Callable[..., Mapping[str, Any]] | None
"""Static attributes, or a function of the decorated function's arguments that returns them."""


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"{what}({name!r}) is not a valid instrument name. Accepted: a letter, then up to "
            "254 letters, digits, '_', '.', '-' or '/' (the OpenTelemetry name syntax)."
        )
    return name


def _check_buckets(buckets: object, name: str, what: str) -> tuple[float, ...]:
    try:
        return _parse.number_list(buckets)
    except _parse.Invalid as exc:
        raise ConfigError(
            f"{what}({name!r}, buckets={buckets!r}) is not valid: {exc.reason}. Accepted: "
            "non-negative, strictly increasing numbers."
        ) from None


def check_attributes(attributes: object, name: str, what: str) -> Attributes:
    if attributes is None or callable(attributes) or isinstance(attributes, Mapping):
        return attributes
    raise ConfigError(
        f"{what}({name!r}, attributes={attributes!r}) is not valid. Accepted: a mapping, or a "
        "function of the decorated function's arguments that returns one."
    )


def make_histogram(
    name: str, unit: str, description: str, buckets: object, what: str
) -> FastHistogram:
    bounds: tuple[float, ...]
    if buckets is None:
        bounds = SEMCONV_DURATION_BUCKETS if unit == "s" else _DEFAULT_BUCKETS
    else:
        bounds = _check_buckets(buckets, name, what)
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


def _collision(what: str, name: str, exc: NameCollision) -> ConfigError:
    return ConfigError(
        f"{what}({name!r}) is refused: {exc}, and Prometheus would keep only some of their "
        "series. Rename one of them."
    )


# The OpenTelemetry SDK's default explicit boundaries, for histograms of other units.
_DEFAULT_BUCKETS = (
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0,
    7500.0, 10000.0,
)  # fmt: skip
