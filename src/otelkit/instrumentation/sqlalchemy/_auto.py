"""Automatic instrumentation: every engine created while it is installed instruments itself.

Why ``Engine.__init__`` is wrapped: it catches ``create_engine()`` and ``create_async_engine()``
however they were imported. A class-level ``engine_connect`` listener would also find older
engines, but it marks every engine in the process as having events, which puts every query of
every engine on SQLAlchemy's slower event-dispatching path.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from otelkit._errors import ConfigError, guarded
from otelkit.instrumentation.sqlalchemy._engine import CURRENT, LOCK
from otelkit.instrumentation.sqlalchemy._instrument import instrument
from otelkit.instrumentation.sqlalchemy._library import sqlalchemy
from otelkit.instrumentation.sqlalchemy._recorder import COMPONENT

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Engine

__all__ = ["install_auto", "uninstall_auto"]

logger = logging.getLogger("otelkit")

_auto: tuple[Any, Callable[..., None], Callable[..., None]] | None = None
"""While installed: (Engine, its original ``__init__``, our replacement)."""


@guarded(COMPONENT)
def _instrument_new_engine(engine: Engine) -> None:
    instrument(engine, None)


def install_auto() -> bool:
    """Instrument every engine created from now on; False when SQLAlchemy is not installed.

    ``Engine.__init__`` is wrapped, the way ``init_telemetry()`` wraps the web frameworks'
    constructors: it catches ``create_engine()`` and ``create_async_engine()`` however they were
    imported. Engines created earlier need ``instrument_sqlalchemy(engine)``. (A class-level
    SQLAlchemy listener would find those too, but any class-level connection event puts every
    query of every engine on SQLAlchemy's slower event-dispatching path.) Engines already
    instrumented report their pools to the active configuration from this call on.
    """
    global _auto
    try:
        sqlalchemy()
    except ConfigError as exc:
        logger.debug("otelkit: SQLAlchemy not instrumented: %s", exc)
        return False
    from sqlalchemy.engine import Engine

    with LOCK:
        if _auto is None:
            original = Engine.__init__

            def __init__(self: Engine, *args: Any, **kwargs: Any) -> None:  # noqa: N807
                original(self, *args, **kwargs)
                if _auto is not None:
                    _instrument_new_engine(self)

            __init__.__wrapped__ = original  # type: ignore[attr-defined]
            Engine.__init__ = __init__  # type: ignore[method-assign]
            _auto = (Engine, original, __init__)
    CURRENT.get()
    return True


def uninstall_auto() -> None:
    """Stop instrumenting new engines (those already instrumented stay so)."""
    global _auto
    with LOCK:
        if _auto is None:
            return
        cls, original, replacement = _auto
        _auto = None
        if cls.__init__ is replacement:  # else someone wrapped it after us: ours stays, inert
            cls.__init__ = original
