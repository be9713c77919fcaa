"""Whether instrumentation is suppressed in the current context.

The SDK's exporters (and OpenTelemetry's convention for code that must not be measured, such
as a test's own traffic) set the API's suppress-instrumentation key around their work. The API
keeps it under a private name; without it (a future API), nothing is suppressed, which only
costs those calls being measured.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as context_api

__all__ = ["suppressed"]

_SUPPRESS: Any = getattr(context_api, "_SUPPRESS_INSTRUMENTATION_KEY", None)


def suppressed() -> bool:
    """True inside a context that asked not to be instrumented."""
    return _SUPPRESS is not None and bool(context_api.get_value(_SUPPRESS))
