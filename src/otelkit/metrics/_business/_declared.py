"""The business metrics declared so far in this process, for the metric catalog.

Each decorator adds its metric here when it is applied (at import of the user's module), and
``record()`` and ``gauge()`` when they first create theirs, so that importing an application is
enough for ``otelkit metrics --app`` (and the rules and dashboards generated from the catalog)
to know its metrics. Static attributes are known at declaration and listed; attributes computed
per call are not, and the spec says so (``open_attributes``). Declaring the same name again (two
decorators sharing one metric) merges the attributes: the fast registry has already refused a
second declaration of another kind.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE

from otelkit.metrics._spec import AttributeSpec, Instrument, MetricSpec, own, stable

if TYPE_CHECKING:
    from otelkit.metrics._business._instruments import Attributes

__all__ = ["INTEGRATION", "declare", "declared"]

INTEGRATION = "business"

_lock = threading.Lock()
_declared: dict[str, MetricSpec] = {}

_ERROR_TYPE = stable(ERROR_TYPE, description="The exception's type, on calls that raised.")


def declare(
    name: str,
    instrument: Instrument,
    unit: str,
    description: str,
    attributes: Attributes = None,
    *,
    errors: bool = False,
    open_attributes: bool = False,
) -> None:
    """Add (or merge) the business metric ``name``; ``errors``: calls that raise carry
    ``error.type``; ``open_attributes``: the attribute keys are chosen per call."""
    listed: list[AttributeSpec] = []
    if isinstance(attributes, Mapping):
        listed.extend(own(str(key)) for key in attributes)
    if errors:
        listed.append(_ERROR_TYPE)
    open_attributes = open_attributes or callable(attributes)
    with _lock:
        known = _declared.get(name)
        if known is not None:
            names = known.attribute_names()
            listed = [*known.attributes, *(a for a in listed if a.name not in names)]
            description = known.description or description
            open_attributes = open_attributes or known.open_attributes
        _declared[name] = MetricSpec(
            name,
            instrument,
            unit,
            description,
            tuple(sorted(listed, key=lambda a: a.name)),
            INTEGRATION,
            open_attributes=open_attributes,
        )


def declared() -> tuple[MetricSpec, ...]:
    """Every business metric declared in this process so far, by name."""
    with _lock:
        return tuple(spec for _, spec in sorted(_declared.items()))
