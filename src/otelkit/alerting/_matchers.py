"""Attribute matchers of alert rules: ``where``, ``numerator`` and ``denominator``.

A matcher spec maps an attribute to a value, a list of values, or one of ``{not: value(s)}``,
``{regex: pattern}``, ``{not_regex: pattern}``, ``{exists: true/false}``. It is validated and
compiled once, when the rule is made (``compile_matchers``), into one predicate per attribute;
the query runs the predicates on every data point. Values are compared as text (``text_of``),
the way they appear in labels and notifications. ``describe`` renders a spec back in the
PromQL-like form of ``AlertRule.expression()``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from otelkit.config._parse import Invalid

__all__ = [
    "ATTRIBUTE",
    "MATCHER_ACCEPTED",
    "MATCHER_KINDS",
    "Matcher",
    "Predicate",
    "compile_matchers",
    "describe",
    "scalar",
    "text_of",
]

MATCHER_KINDS = ("not", "regex", "not_regex", "exists")
ATTRIBUTE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,254}")
"""The syntax of an attribute (and label) name."""

MATCHER_ACCEPTED = (
    "a mapping of attribute → a value, a list of values, or one of "
    "{not: value(s)}, {regex: pattern}, {not_regex: pattern}, {exists: true/false}"
)


def text_of(value: object) -> str:
    """An attribute value as the matchers and labels see it (``True`` → ``true``, 500.0 → 500)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


Predicate = Callable[[object], bool]


@dataclass(frozen=True)
class Matcher:
    """One attribute condition, compiled; ``test(value)`` gets None when the point lacks it."""

    attribute: str
    test: Predicate


def scalar(value: object) -> bool:
    return isinstance(value, (str, int, float, bool))


def _values(value: object, what: str) -> frozenset[str]:
    if scalar(value):
        return frozenset({text_of(value)})
    if isinstance(value, (list, tuple)) and value and all(scalar(v) for v in value):
        return frozenset(text_of(v) for v in value)
    raise Invalid(f"{what} must be a value or a non-empty list of values")


def _pattern(value: object, attribute: str) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise Invalid(f"the regex of {attribute!r} must be a string")
    try:
        return re.compile(value)
    except re.error as exc:
        raise Invalid(f"the regex of {attribute!r} is not valid ({exc})") from None


def _compile_one(attribute: str, spec: object) -> Predicate:
    if isinstance(spec, Mapping):
        if len(spec) != 1 or next(iter(spec)) not in MATCHER_KINDS:
            keys = ", ".join(map(str, spec)) or "nothing"
            raise Invalid(f"the condition on {attribute!r} has {keys}; it takes exactly one key")
        ((kind, operand),) = spec.items()
        if kind == "not":
            excluded = _values(operand, f"'not' of {attribute!r}")
            return lambda v: v is None or text_of(v) not in excluded
        if kind == "exists":
            if not isinstance(operand, bool):
                raise Invalid(f"'exists' of {attribute!r} must be true or false")
            return (lambda v: v is not None) if operand else (lambda v: v is None)
        pattern = _pattern(operand, attribute)
        if kind == "regex":
            return lambda v: pattern.fullmatch("" if v is None else text_of(v)) is not None
        return lambda v: pattern.fullmatch("" if v is None else text_of(v)) is None
    wanted = _values(spec, f"the value of {attribute!r}")
    if len(wanted) == 1:
        (only,) = wanted
        return lambda v: v is not None and text_of(v) == only
    return lambda v: v is not None and text_of(v) in wanted


def compile_matchers(spec: object) -> tuple[Mapping[str, object], tuple[Matcher, ...]]:
    """Validate a ``where``-style mapping; return it (read-only) and its compiled matchers."""
    if spec is None:
        return MappingProxyType({}), ()
    if not isinstance(spec, Mapping):
        raise Invalid(f"expected a mapping, got {type(spec).__name__}")
    matchers = []
    for attribute, condition in spec.items():
        if not isinstance(attribute, str) or not ATTRIBUTE.fullmatch(attribute):
            raise Invalid(f"{attribute!r} is not an attribute name")
        matchers.append(Matcher(attribute, _compile_one(attribute, condition)))
    return MappingProxyType(dict(spec)), tuple(matchers)


def describe(spec: Mapping[str, object]) -> str:
    parts = []
    for attribute, condition in spec.items():
        if isinstance(condition, Mapping):
            ((kind, operand),) = condition.items()
            symbol = {"not": "!=", "regex": "=~", "not_regex": "!~"}.get(kind)
            if kind == "exists":
                parts.append(attribute if operand else f"!{attribute}")
            else:
                parts.append(f"{attribute}{symbol}{_operand(operand)}")
        else:
            parts.append(f"{attribute}={_operand(condition)}")
    return ", ".join(parts)


def _operand(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return "|".join(text_of(v) for v in value)
    return text_of(value)
