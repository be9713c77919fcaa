"""Which recorded items a test asks for: attributes given as keywords, dots written as ``_``.

Attribute names have dots (``http.route``), which keywords cannot; so a keyword names the
attribute spelt exactly like it when the recorded items have one, and otherwise the attribute
with each ``_`` read as ``.`` (``http_route`` -> ``http.route``, ``tier`` -> ``tier``). A name
that is ambiguous either way can be given in a mapping instead: ``value({"http.route": "/"})``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

__all__ = ["describe", "matches", "resolve"]


def resolve(
    given: Mapping[str, Any] | None, keywords: Mapping[str, Any], known: Iterable[str]
) -> dict[str, Any]:
    """The attributes asked for, by their recorded names (``known``: names the items have)."""
    names = set(known)
    wanted = dict(given or {})
    for key, value in keywords.items():
        wanted[key if key in names else key.replace("_", ".")] = value
    return wanted


def matches(attributes: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> bool:
    """Whether every attribute asked for is recorded with that value (others may be there)."""
    attributes = attributes or {}
    return all(key in attributes and attributes[key] == value for key, value in wanted.items())


def describe(attributes: Mapping[str, Any] | None) -> str:
    """``{http.route="/items", tier="gold"}``: how a failure message shows a series."""
    if not attributes:
        return "{}"
    return "{" + ", ".join(f"{k}={v!r}" for k, v in sorted(attributes.items())) + "}"
