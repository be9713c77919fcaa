"""Around each call: the wrapper every decorator of the business API shares.

A ``CallObserver`` says what to do before a call (``begin``) and after it, error or not
(``end``, given the call's result when it returned one: a function's return value, a
generator's ``return`` value, None for an async generator or a ``with`` block); ``decorate``
wraps a sync or async function, generator or async generator, keeping its signature, and
reports an exception by its class name (``error.type``) before re-raising it unchanged.
``ContextManagerMixin`` adds ``with``/``async with``, with fresh state per use (also across
threads and tasks).
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from otelkit import _errors

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Generator
    from contextvars import ContextVar

__all__ = ["CallObserver", "ContextManagerMixin", "error_name"]

P = ParamSpec("P")
R = TypeVar("R")

_NO_ERROR = None
_FAILED: Any = object()  # the state of a call whose ``begin`` failed: nothing to end


def error_name(exc: BaseException) -> str:
    return type(exc).__qualname__


def _failed(observer: CallObserver, exc: Exception) -> Any:
    """Count a failure of our own around a call that did not raise (re-raised in our suite)."""
    if _errors._raise:
        raise exc
    _errors.record_internal_error(type(observer).__name__, exc)
    return _FAILED


def _end(observer: CallObserver, state: Any, result: Any = None) -> None:
    if state is not _FAILED:
        try:
            observer.end(state, _NO_ERROR, result)
        except Exception as exc:
            _failed(observer, exc)


def _end_quietly(observer: CallObserver, state: Any, error: BaseException | None) -> None:
    """End a call that raised: never raises, so the caller's own exception passes unchanged."""
    if state is _FAILED:
        return
    try:
        observer.end(state, error_name(error) if error is not None else _NO_ERROR)
    except Exception as exc:
        _errors.record_internal_error(type(observer).__name__, exc)


class CallObserver:
    """What a decorator does around one call: ``begin`` before, ``end`` after (error or not)."""

    def begin(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def end(self, state: Any, error: str | None, result: Any = None) -> None:
        raise NotImplementedError

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        return self.decorate(fn)

    def decorate(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Wrap a sync or async function, generator or async generator, keeping its signature."""
        observer = self
        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def agen_wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                try:
                    state = observer.begin(args, kwargs)
                except Exception as exc:
                    state = _failed(observer, exc)
                try:
                    async for item in fn(*args, **kwargs):
                        yield item
                except BaseException as exc:
                    _end_quietly(observer, state, exc)
                    raise
                _end(observer, state)

            return agen_wrapper  # type: ignore[return-value]
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
                try:
                    state = observer.begin(args, kwargs)
                except Exception as exc:
                    state = _failed(observer, exc)
                try:
                    result = yield from fn(*args, **kwargs)
                except BaseException as exc:
                    _end_quietly(observer, state, exc)
                    raise
                _end(observer, state, result)
                return result

            return gen_wrapper  # type: ignore[return-value]
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    state = observer.begin(args, kwargs)
                except Exception as exc:
                    state = _failed(observer, exc)
                try:
                    result = await fn(*args, **kwargs)
                except BaseException as exc:
                    _end_quietly(observer, state, exc)
                    raise
                _end(observer, state, result)
                return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                state = observer.begin(args, kwargs)
            except Exception as exc:
                state = _failed(observer, exc)
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                _end_quietly(observer, state, exc)
                raise
            if state is not _FAILED:
                try:
                    observer.end(state, _NO_ERROR, result)
                except Exception as exc:
                    _failed(observer, exc)
            return result

        return wrapper


class ContextManagerMixin(CallObserver):
    """``with``/``async with`` support, with fresh state per use (also across threads/tasks)."""

    _states: ContextVar[tuple[Any, ...]]

    def __enter__(self) -> None:
        try:
            state = self.begin((), {})
        except Exception as exc:
            state = _failed(self, exc)
        self._states.set((*self._states.get(()), state))

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        *rest, state = self._states.get()
        self._states.set(tuple(rest))
        if exc is None:
            _end(self, state)
        else:
            _end_quietly(self, state, exc)

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        self.__exit__(kind, exc, tb)
