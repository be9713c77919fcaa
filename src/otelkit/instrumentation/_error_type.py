"""The ``error.type`` value of an exception, spelled the same way by every instrumentation.

HTTP requests, Celery tasks and database queries all name a failure by the exception's class, so
that one ``error.type`` groups the same failure across signals and instrumentations.
"""

from __future__ import annotations

__all__ = ["error_type"]


def error_type(exc: BaseException) -> str:
    """The exception's class name, module-qualified unless it is a builtin."""
    cls = type(exc)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"
