"""Around each call: the wrapper every decorator of the business API shares.

A ``CallObserver`` says what to do before a call (``begin``) and after it, error or not
(``end``); ``decorate`` wraps a sync or async function, generator or async generator, keeping
its signature, and reports an exception by its class name (``error.type``) before re-raising
it unchanged. ``ContextManagerMixin`` adds ``with``/``async with``, with fresh state per use
(also across threads and tasks).
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Generator
    from contextvars import ContextVar

__all__ = ["CallObserver", "ContextManagerMixin", "error_name"]

P = ParamSpec("P")
R = TypeVar("R")

_NO_ERROR = None


def error_name(exc: BaseException) -> str:
    return type(exc).__qualname__


class CallObserver:
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
                    observer.end(state, error_name(exc))
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
                    observer.end(state, error_name(exc))
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
                    observer.end(state, error_name(exc))
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
                observer.end(state, error_name(exc))
                raise
            observer.end(state, _NO_ERROR)
            return result

        return wrapper


class ContextManagerMixin(CallObserver):
    """``with``/``async with`` support, with fresh state per use (also across threads/tasks)."""

    _states: ContextVar[tuple[Any, ...]]

    def __enter__(self) -> None:
        self._states.set((*self._states.get(()), self.begin((), {})))

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        *rest, state = self._states.get()
        self._states.set(tuple(rest))
        self.end(state, error_name(exc) if exc is not None else None)

    async def __aenter__(self) -> None:
        self.__enter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: Any
    ) -> None:
        self.__exit__(kind, exc, tb)
