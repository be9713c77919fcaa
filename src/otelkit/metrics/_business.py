"""Business metrics on the user's own functions: ``@timed``, ``@counted``, ``@traced``,
``@track_inprogress``, and the ad-hoc ``record()`` / ``gauge()``.

Decorators validate their arguments when they are applied (at import), create their instrument
in otelkit's fast registry at once, and record into it on every call; whatever
``init_telemetry()`` configures later exports it. Nothing here raises into the caller after
decoration: an attribute function that fails is logged once and the call goes on.
"""

from __future__ import annotations

import functools
import inspect
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import StatusCode

from otelkit._errors import ConfigError, record_internal_error
from otelkit._version import __version__
from otelkit.config import _parse
from otelkit.config._settings import SEMCONV_DURATION_BUCKETS
from otelkit.metrics._fastpath import REGISTRY, FastHistogram, FastSum

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider


P = ParamSpec("P")
R = TypeVar("R")

SCOPE = InstrumentationScope("otelkit.business", __version__)
# The OpenTelemetry instrument-name syntax.
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-/]{0,254}")
_NO_ERROR = None

Attributes = Mapping[str, Any] | Callable[..., Mapping[str, Any]] | None


def _check_name(name: object, what: str) -> str:
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


def _check_attributes(attributes: object, name: str, what: str) -> Attributes:
    if attributes is None or callable(attributes) or isinstance(attributes, Mapping):
        return attributes
    raise ConfigError(
        f"{what}({name!r}, attributes={attributes!r}) is not valid. Accepted: a mapping, or a "
        "function of the decorated function's arguments that returns one."
    )


def _histogram(name: str, unit: str, description: str, buckets: object, what: str) -> FastHistogram:
    bounds: tuple[float, ...]
    if buckets is None:
        bounds = SEMCONV_DURATION_BUCKETS if unit == "s" else _DEFAULT_BUCKETS
    else:
        bounds = _check_buckets(buckets, name, what)
    try:
        return REGISTRY.histogram(
            name, unit=unit, description=description, scope=SCOPE, boundaries=bounds
        )
    except ValueError:
        raise ConfigError(
            f"{what}({name!r}): an instrument of that name already exists with another type, "
            "unit or buckets. Use one definition per name."
        ) from None


def _sum(name: str, unit: str, description: str, monotonic: bool, what: str) -> FastSum:
    try:
        return REGISTRY.sum(
            name, unit=unit, description=description, scope=SCOPE, monotonic=monotonic
        )
    except ValueError:
        raise ConfigError(
            f"{what}({name!r}): an instrument of that name already exists with another type. "
            "Use one definition per name."
        ) from None


# The OpenTelemetry SDK's default explicit boundaries, for histograms of other units.
_DEFAULT_BUCKETS = (
    0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0,
    7500.0, 10000.0,
)  # fmt: skip


class _Attributes:
    """Static attributes, or a function of the call's arguments; keyed for the fast series."""

    __slots__ = ("_component", "_function", "_key", "_static")

    def __init__(self, attributes: Attributes, component: str) -> None:
        self._component = component
        self._function = attributes if callable(attributes) else None
        self._static = dict(attributes) if isinstance(attributes, Mapping) else {}
        self._key = tuple(sorted(self._static.items()))

    def resolve(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if self._function is None:
            return self._key, self._static
        try:
            computed = dict(self._function(*args, **kwargs))
            return tuple(sorted(computed.items())), computed
        except Exception as exc:
            record_internal_error(self._component, exc)
            return self._key, self._static

    @staticmethod
    def with_error(
        key: tuple[Any, ...], attributes: dict[str, Any], error: str | None
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        if error is None:
            return key, attributes
        return (*key, (ERROR_TYPE, error)), {**attributes, ERROR_TYPE: error}


def _error_name(exc: BaseException) -> str:
    return type(exc).__qualname__


class _CallObserver:
    """What a decorator does around one call: ``begin`` before, ``end`` after (error or not)."""

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def end(self, state: Any, error: str | None) -> None:
        raise NotImplementedError

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        return self.decorate(fn)

    def decorate(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Wrap a sync or async function, generator or async generator, keeping its signature."""
        observer = self
        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                state = observer.begin(args, kwargs)
                try:
                    async for item in fn(*args, **kwargs):
                        yield item
                except BaseException as exc:
                    observer.end(state, _error_name(exc))
                    raise
                observer.end(state, _NO_ERROR)

            return agen_wrapper  # type: ignore[return-value]
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
                state = observer.begin(args, kwargs)
                try:
                    result = yield from fn(*args, **kwargs)
                except BaseException as exc:
                    observer.end(state, _error_name(exc))
                    raise
                observer.end(state, _NO_ERROR)
                return result

            return gen_wrapper  # type: ignore[return-value]
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                state = observer.begin(args, kwargs)
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    observer.end(state, _error_name(exc))
                    raise
                observer.end(state, _NO_ERROR)
                return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            state = observer.begin(args, kwargs)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                observer.end(state, _error_name(exc))
                raise
            observer.end(state, _NO_ERROR)
            return result

        return wrapper


class _ContextManagerMixin(_CallObserver):
    """``with``/``async with`` support, with fresh state per use (also across threads/tasks)."""

    _states: ContextVar[tuple[Any, ...]]

    def __enter__(self) -> None:
        self._states.set((*self._states.get(()), self.begin((), {})))

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        *rest, state = self._states.get()
        self._states.set(tuple(rest))
        self.end(state, _error_name(exc) if exc is not None else None)

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        self.__exit__(kind, exc, tb)


class timed(_ContextManagerMixin):  # noqa: N801 - used as a decorator, named like one
    """Record how long each call takes, in a histogram (seconds by default).

    ``@timed("orders.checkout", attributes={"channel": "web"})`` on a function, async function,
    generator or method; ``buckets=[...]`` for explicit boundaries; also ``with timed(...):``.
    A call that raises is recorded with ``error.type`` and the exception propagates unchanged.
    """

    def __init__(
        self,
        name: str,
        *,
        unit: str = "s",
        description: str = "",
        attributes: Attributes = None,
        buckets: list[float] | tuple[float, ...] | None = None,
    ) -> None:
        _check_name(name, "timed")
        self._histogram = _histogram(name, unit, description, buckets, "timed")
        self._attributes = _Attributes(_check_attributes(attributes, name, "timed"), "timed")
        self._scale = _TIME_UNITS.get(unit, 1.0)
        self._states = ContextVar(f"otelkit.timed.{name}")

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return time.perf_counter(), self._attributes.resolve(args, kwargs)

    def end(self, state: Any, error: str | None) -> None:
        started, (key, attributes) = state
        elapsed = (time.perf_counter() - started) * self._scale
        if error is not None:
            key, attributes = _Attributes.with_error(key, attributes, error)
        self._histogram.record(key, attributes, elapsed)


_TIME_UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


class counted(_CallObserver):  # noqa: N801
    """Count calls; calls that raise are counted with ``error.type``."""

    def __init__(
        self,
        name: str,
        *,
        unit: str = "{call}",
        description: str = "",
        attributes: Attributes = None,
    ) -> None:
        _check_name(name, "counted")
        self._counter = _sum(name, unit, description, True, "counted")
        self._attributes = _Attributes(_check_attributes(attributes, name, "counted"), "counted")

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._attributes.resolve(args, kwargs)

    def end(self, state: Any, error: str | None) -> None:
        key, attributes = state
        key, attributes = _Attributes.with_error(key, attributes, error)
        self._counter.add(key, attributes, 1)


class track_inprogress(_ContextManagerMixin):  # noqa: N801
    """How many calls are running right now (an up-down counter); also ``with``."""

    def __init__(
        self,
        name: str,
        *,
        unit: str = "{call}",
        description: str = "",
        attributes: Attributes = None,
    ) -> None:
        _check_name(name, "track_inprogress")
        self._counter = _sum(name, unit, description, False, "track_inprogress")
        self._attributes = _Attributes(
            _check_attributes(attributes, name, "track_inprogress"), "track_inprogress"
        )
        self._states = ContextVar(f"otelkit.inprogress.{name}")

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        series = self._counter.series(*self._attributes.resolve(args, kwargs))
        series.add(1)
        return series

    def end(self, state: Any, error: str | None) -> None:
        state.add(-1)


class traced(_CallObserver):  # noqa: N801
    """Run each call in a span named ``name`` (default: the function's qualified name)."""

    def __init__(self, name: str | None = None, *, attributes: Attributes = None) -> None:
        self._name = name
        self._attributes = _Attributes(
            _check_attributes(attributes, name or "", "traced"), "traced"
        )

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

    def end(self, state: Any, error: str | None) -> None:
        if state is None:
            return
        from opentelemetry import context

        span, token = state
        if error is not None:
            span.set_attribute(ERROR_TYPE, error)
            span.set_status(StatusCode.ERROR)
        span.end()
        context.detach(token)


def record(name: str, value: float, **attributes: Any) -> None:
    """Record ``value`` in the histogram ``name`` (created on first use; seconds buckets if the
    name ends in ``.duration``, else the SDK's defaults). Never raises: a bad name or a name
    already used by another kind of instrument is logged once and the value dropped."""
    try:
        histogram = _ad_hoc.get(name)
        if histogram is None:
            _check_name(name, "record")
            unit = "s" if name.endswith(".duration") else ""
            histogram = _ad_hoc.setdefault(name, _histogram(name, unit, "", None, "record"))
        histogram.record(tuple(sorted(attributes.items())), attributes, value)
    except Exception as exc:
        record_internal_error("record", exc)


_ad_hoc: dict[str, FastHistogram] = {}


def gauge(
    name: str, callback: Callable[[], float | Mapping[tuple[tuple[str, Any], ...], float]]
) -> None:
    """Report ``callback()`` as the gauge ``name`` at every collection.

    The callback returns a number, or a mapping from attribute tuples
    (``(("queue", "high"),)``) to numbers. It is registered on the active configuration and on
    every later one; a callback that raises is logged once and skipped for that collection.
    """
    _check_name(name, "gauge")
    if not callable(callback):
        raise ConfigError(f"gauge({name!r}, callback={callback!r}): the callback must be callable.")
    if name in _gauges or REGISTRY.has(name):
        raise ConfigError(
            f"gauge({name!r}): an instrument of that name already exists. Use one name per metric."
        )
    _gauges[name] = callback
    from otelkit import _active

    active = _active.current()
    if active is not None and active._pipeline is not None:
        register_gauges(active._pipeline.meter_provider, {name: callback})


_gauges: dict[str, Callable[[], Any]] = {}


def register_gauges(
    provider: MeterProvider, gauges: Mapping[str, Callable[[], Any]] | None = None
) -> None:
    """Create the observable gauges on ``provider`` (all registered ones by default)."""
    meter = provider.get_meter(SCOPE.name, SCOPE.version)
    for name, callback in (gauges if gauges is not None else _gauges).items():
        meter.create_observable_gauge(name, callbacks=[_observe(name, callback)])


def _observe(
    name: str, callback: Callable[[], Any]
) -> Callable[[CallbackOptions], list[Observation]]:
    def observe(options: CallbackOptions) -> list[Observation]:
        try:
            value = callback()
            if isinstance(value, Mapping):
                return [Observation(v, dict(k)) for k, v in value.items()]
            return [Observation(value)]
        except Exception as exc:
            record_internal_error(f"gauge {name}", exc)
            return []

    return observe
