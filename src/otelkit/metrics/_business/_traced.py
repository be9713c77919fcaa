"""``@traced``: run each call of the user's function in a span.

The span is started on the running configuration's tracer (``otelkit._active``) when tracing
is on, and not at all otherwise, so a decorated function costs next to nothing before
``init_telemetry()`` or with tracing off. A call that raises ends its span with status ERROR
and ``error.type``; ``attributes_from_result=`` adds attributes from the value a call returned
(the rule of ``_decorators``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import StatusCode

from otelkit.metrics._business._attributes import CallAttributes, ResultAttributes
from otelkit.metrics._business._instruments import (
    Attributes,
    ResultAttributesFn,
    check_attributes,
    check_result_function,
)
from otelkit.metrics._business._observer import CallObserver

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["traced"]

P = ParamSpec("P")
R = TypeVar("R")


class traced(CallObserver):  # noqa: N801
    """Run each call in a span named ``name`` (default: the function's qualified name)."""

    def __init__(
        self,
        name: str | None = None,
        *,
        attributes: Attributes = None,
        attributes_from_result: ResultAttributesFn = None,
    ) -> None:
        self._name = name
        self._attributes = CallAttributes(
            check_attributes(attributes, name or "", "traced"), "traced"
        )
        from_result = check_result_function(attributes_from_result, name or "", "traced")
        self._from_result = None if from_result is None else ResultAttributes(from_result, "traced")

    @overload
    def __call__(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]: ...
    @overload
    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]: ...
    def __call__(self, fn: Callable[P, Any]) -> Callable[P, Any]:
        if self._name is None:
            self._name = f"{fn.__module__}.{fn.__qualname__}"
        return self.decorate(fn)

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        from opentelemetry import context, trace

        from otelkit import _active

        active = _active.current()
        if active is None or not active.tracing:
            return None
        _, attributes = self._attributes.resolve(args, kwargs)
        span = active.tracer.start_span(self._name or "call", attributes=attributes)
        return span, context.attach(trace.set_span_in_context(span))

    def end(self, state: Any, error: str | None, result: Any = None) -> None:
        if state is None:
            return
        from opentelemetry import context

        span, token = state
        if error is not None:
            span.set_attribute(ERROR_TYPE, error)
            span.set_status(StatusCode.ERROR)
        elif self._from_result is not None:
            _, attributes = self._from_result.merge((), {}, result)
            span.set_attributes(attributes)
        span.end()
        context.detach(token)
