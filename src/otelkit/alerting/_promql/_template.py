"""The annotations' templates, for the few forms generated rules use.

``{{ $labels.name }}``, ``{{ $value }}`` and the filters ``humanize``, ``humanizePercentage``
and ``humanizeDuration``; anything else in braces is left as written (Prometheus' full Go
templates are not reimplemented).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["expand"]

_FIELD = re.compile(r"\{\{\s*\$(labels\.([A-Za-z_][A-Za-z0-9_]*)|value)\s*(?:\|\s*(\w+)\s*)?\}\}")


def _number(value: float) -> str:
    return f"{value:.4g}"


def _humanize(value: float, how: str | None) -> str:
    if math.isnan(value):
        return "NaN"
    if how == "humanizePercentage":
        return f"{value * 100:.4g}%"
    if how == "humanizeDuration":
        return f"{value:.4g}s"
    return _number(value)


def expand(template: str, labels: Mapping[str, str], value: float | None) -> str:
    def replace(match: re.Match[str]) -> str:
        label = match.group(2)
        if label is not None:
            return labels.get(label, "")
        if value is None:
            return "no data"
        return _humanize(value, match.group(3))

    return _FIELD.sub(replace, template)
