"""The business metrics declared so far in this process: one definition per name, and the
metric catalog.

Each decorator declares its metric when it is applied (at import of the user's module), and
``record()``, ``count()``, ``set_gauge()`` and ``gauge()`` at their first call, so that
importing an application is enough for ``otelkit metrics --app`` (and the rules and dashboards
generated from the catalog) to know its metrics. Static attributes are known at declaration and
listed; attributes computed per call are not, and the spec says so (``open_attributes``).

A name has one definition: its instrument, unit, description and buckets (defaults count as
given). Declaring the same name again with the same definition (two decorators sharing one
metric) merges the attributes; with another one it raises ``ConfigError`` naming both places
(``file:line``) where it was declared.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from otelkit._errors import ConfigError
from otelkit.metrics._spec import AttributeSpec, Instrument, MetricSpec, own, stable

if TYPE_CHECKING:
    from otelkit.metrics._business._instruments import Attributes

__all__ = ["INTEGRATION", "Definition", "call_site", "declare", "declared", "forget"]

INTEGRATION = "business"

_ERROR_TYPE = stable(ERROR_TYPE, description="The exception's type, on calls that raised.")


@dataclass(frozen=True)
class Definition:
    """What every declaration of one name must agree on."""

    instrument: Instrument
    unit: str
    description: str
    buckets: tuple[float, ...] | None = None

    def differences(self, other: Definition) -> list[str]:
        """How ``other`` differs from this one, in words (empty when they agree)."""
        found = []
        for field in ("instrument", "unit", "description", "buckets"):
            mine, theirs = getattr(self, field), getattr(other, field)
            if mine != theirs:
                found.append(f"{field} {theirs!r} instead of {mine!r}")
        return found


@dataclass
class _Entry:
    definition: Definition
    site: str
    spec: MetricSpec


_lock = threading.Lock()
_declared: dict[str, _Entry] = {}


def call_site(depth: int) -> str:
    """``file:line`` of the frame ``depth`` levels above the caller ("" if there is none)."""
    try:
        frame = sys._getframe(depth + 1)
    except ValueError:
        return ""
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def declare(
    name: str,
    definition: Definition,
    *,
    what: str,
    site: str,
    attributes: Attributes = None,
    errors: bool = False,
    open_attributes: bool = False,
    catalog_description: str = "",
) -> bool:
    """Declare the business metric ``name`` (``what``: the API, for the error message);
    True if it is new. ``errors``: calls that raise carry ``error.type``; ``open_attributes``:
    the attribute keys are chosen per call. Raises ``ConfigError`` naming both declarations
    when ``name`` is already declared with another definition."""
    listed: list[AttributeSpec] = []
    if isinstance(attributes, Mapping):
        listed.extend(own(str(key)) for key in attributes)
    if errors:
        listed.append(_ERROR_TYPE)
    open_attributes = open_attributes or callable(attributes)
    with _lock:
        known = _declared.get(name)
        if known is not None:
            differences = known.definition.differences(definition)
            if differences:
                raise ConfigError(
                    f"{what}({name!r}) at {site or 'an unknown place'} is refused: {name!r} is "
                    f"already declared at {known.site or 'an unknown place'} as a "
                    f"{known.definition.instrument}, and this declaration has "
                    f"{'; '.join(differences)}. Use one definition per name (instrument, unit, "
                    "description and buckets), or another name."
                )
            names = known.spec.attribute_names()
            listed = [*known.spec.attributes, *(a for a in listed if a.name not in names)]
            open_attributes = open_attributes or known.spec.open_attributes
            catalog_description = known.spec.description
            site = known.site
        spec = MetricSpec(
            name,
            definition.instrument,
            definition.unit,
            definition.description or catalog_description,
            tuple(sorted(listed, key=lambda a: a.name)),
            INTEGRATION,
            open_attributes=open_attributes,
        )
        _declared[name] = _Entry(definition, site, spec)
        return known is None


def forget(name: str) -> None:
    """Withdraw a declaration whose instrument could not be created after ``declare()``."""
    with _lock:
        _declared.pop(name, None)


def declared() -> tuple[MetricSpec, ...]:
    """Every business metric declared in this process so far, by name."""
    with _lock:
        return tuple(entry.spec for _, entry in sorted(_declared.items()))
