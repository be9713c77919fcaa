"""Value parsers for settings: each takes the raw value (an env string or a keyword's value).

A parser returns the typed value or raises ``InvalidValue`` with a short reason; the caller turns
that into a ``ConfigError`` naming the variable and the accepted values. Parsers never raise
anything else, whatever the input (the hypothesis fuzz test holds them to it). The error and
the parsers plugins need are public in ``otelkit.exporters``; ``Invalid`` is the internal name.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TypeVar
from urllib.parse import unquote, urlsplit

T = TypeVar("T")
Parser = Callable[[object], T]

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class InvalidValue(Exception):
    """A value was rejected; ``reason`` says why in a few words (public: otelkit.exporters)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Invalid = InvalidValue


class Secret:
    """A value that must never appear in a log, an error or a repr (tokens, auth headers)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)


def secret(value: object) -> Secret | None:
    raw = text(value)
    return Secret(raw) if raw else None


def text(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid(f"expected a string, got {type(value).__name__}")
    return value.strip()


def non_empty(value: object) -> str:
    result = text(value)
    if not result:
        raise Invalid("must not be empty")
    if any(ord(c) < 32 for c in result):
        raise Invalid("must not contain control characters")
    return result


def optional_text(value: object) -> str | None:
    return text(value) or None


def boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    lowered = text(value).lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise Invalid("not a boolean")


def integer(low: int, high: int) -> Parser[int]:
    def parse(value: object) -> int:
        if isinstance(value, bool):
            raise Invalid("expected an integer, got a boolean")
        if isinstance(value, int):
            number = value
        else:
            raw = text(value)
            if not re.fullmatch(r"[+-]?\d{1,19}", raw):
                raise Invalid("not an integer")
            number = int(raw)
        if not low <= number <= high:
            raise Invalid(f"{number} is out of range")
        return number

    return parse


def _to_float(value: object) -> float:
    if isinstance(value, bool):
        raise Invalid("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        raw = text(value)
        try:
            number = float(raw)
        except ValueError:
            raise Invalid("not a number") from None
    if not math.isfinite(number):
        raise Invalid("not a finite number")
    return number


def positive_number(value: object) -> float:
    number = _to_float(value)
    if number <= 0:
        raise Invalid("must be greater than 0")
    return number


_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+")
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def duration(unit: str, *, positive: bool) -> Parser[float]:
    """A parser of durations, one syntax for every duration variable.

    A plain number keeps the variable's documented ``unit`` (``"s"`` or ``"ms"``: the OpenTelemetry
    variables count milliseconds, otelkit's count seconds); a number with units (``500ms``,
    ``5s``, ``1m30s``, ``2h``, ``1d``) means what it says. The result is in ``unit``.
    """
    scale = _DURATION_UNITS[unit]

    def parse(value: object) -> float:
        if isinstance(value, bool):
            raise Invalid("expected a duration, got a boolean")
        if isinstance(value, (int, float)):
            amount = float(value)
        else:
            raw = text(value).lower()
            if _PLAIN_NUMBER.fullmatch(raw):
                amount = float(raw)
            elif _DURATION.fullmatch(raw):
                seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in _DURATION_PART.findall(raw))
                amount = seconds / scale
            else:
                raise Invalid("not a duration")
        if not math.isfinite(amount):
            raise Invalid("not a finite duration")
        if amount < 0:
            raise Invalid("must not be negative")
        if positive and amount <= 0:
            raise Invalid("must be greater than 0")
        return amount

    return parse


def duration_accepted(unit: str, *, positive: bool = True) -> str:
    """The words of the docs and errors for ``duration(unit)``."""
    plain = "seconds" if unit == "s" else "milliseconds"
    examples = "`500ms`, `15s`, `5m`, `1h30m`" if unit == "s" else "`500ms`, `10s`, `1m`"
    bound = "greater than 0" if positive else "0 or more"
    return f"{plain} as a number, or a duration such as {examples}, {bound}"


def unit_interval(value: object) -> float:
    number = _to_float(value)
    if not 0.0 <= number <= 1.0:
        raise Invalid(f"{number} is outside [0, 1]")
    return number


def choice(*accepted: str) -> Parser[str]:
    def parse(value: object) -> str:
        lowered = text(value).lower()
        if lowered not in accepted:
            raise Invalid("not one of the accepted values")
        return lowered

    return parse


def name_list(value: object) -> tuple[str, ...]:
    """A comma-separated list (or an iterable of strings); blanks dropped, order and case kept."""
    if isinstance(value, str):
        items: Iterable[object] = value.split(",")
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        items = value
    else:
        raise Invalid(f"expected a comma-separated string or a list, got {type(value).__name__}")
    names: list[str] = []
    for item in items:
        name = text(item).lower()
        if name and name not in names:
            names.append(name)
    return tuple(names)


def number_list(value: object) -> tuple[float, ...]:
    """Histogram boundaries: a comma list of finite, non-negative, strictly increasing numbers."""
    raw: Iterable[object] = text(value).split(",") if isinstance(value, str) else iterable(value)
    bounds = []
    for item in raw:
        if isinstance(item, str) and not item.strip():
            raise Invalid("has an empty entry")
        bound = _to_float(item)
        if bound < 0:
            raise Invalid(f"{bound:g} is negative")
        bounds.append(bound)
    if not bounds:
        raise Invalid("is empty")
    for lower, upper in itertools.pairwise(bounds):
        if upper <= lower:
            raise Invalid(f"not strictly increasing ({lower:g} then {upper:g})")
    return tuple(bounds)


def iterable(value: object) -> Iterable[object]:
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        return value
    raise Invalid(f"expected a comma-separated string or a list, got {type(value).__name__}")


_KEY = re.compile(r"[A-Za-z0-9_.\-/:@]+")


def key_value_list(value: object) -> Mapping[str, str]:
    """``k=v,k2=v2`` as in OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS.

    Values are percent-decoded (W3C Baggage octets), keys are kept as written. A mapping is
    accepted from keyword arguments.
    """
    pairs: dict[str, str] = {}
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str) or not _KEY.fullmatch(key):
                raise Invalid(f"key {key!r} is not a valid name")
            if not isinstance(item, (str, int, float, bool)):
                raise Invalid(f"value of {key!r} must be a string")
            pairs[key] = str(item)
        return MappingProxyType(pairs)
    for index, item in enumerate(text(value).split(",")):
        item = item.strip()
        if not item:
            continue
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise Invalid(f"entry {index + 1} ({_clip(item)!r}) is not key=value")
        if not _KEY.fullmatch(key):
            raise Invalid(f"entry {index + 1} has an invalid key {_clip(key)!r}")
        try:
            decoded = unquote(raw.strip(), errors="strict")
        except UnicodeDecodeError:
            raise Invalid(f"entry {index + 1} has a badly percent-encoded value") from None
        pairs[key] = decoded
    return MappingProxyType(pairs)


def url(value: object) -> str:
    raw = text(value)
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise Invalid(f"not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("expected an http:// or https:// URL with a host")
    del port
    return raw


def _clip(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "…"
