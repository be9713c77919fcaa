"""``HealthCheck``: one registered readiness check, and the validation of its registration.

A check is a sync or async callable without arguments. It passes when it returns (anything but
``False``) and fails when it raises or returns ``False``. Its name, callable and timeout are
validated when it is registered, so a mistake raises ``ConfigError`` at start-up rather than
failing every probe.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from otelkit._errors import ConfigError

__all__ = ["CheckFunction", "HealthCheck", "checked_name", "checked_timeout"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:/\-]{0,127}")

CheckFunction = Callable[[], Any]
"""A check: a sync or async callable without arguments. It passes when it returns (anything
but ``False``) and fails when it raises or returns ``False``."""


@dataclass(frozen=True)
class HealthCheck:
    """One registered readiness check, as ``add_health_check()`` returns it."""

    name: str
    fn: CheckFunction = field(repr=False)
    critical: bool = True
    """A failing critical check makes readiness fail (503); a failing non-critical one only
    degrades the reported status."""
    timeout: float = 2.0
    """Seconds; a check still running after this counts as failed with ``error`` ``timeout``."""

    @property
    def is_async(self) -> bool:
        """Whether ``fn`` is a coroutine function (or a partial or callable object of one)."""
        fn = self.fn
        return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - a callable object's async __call__
        )


def checked_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"add_health_check({name!r}) is not a valid check name. Accepted: 1 to 128 letters, "
            "digits, '_', '.', ':', '/' or '-', starting with a letter or digit."
        )
    return name


def checked_timeout(timeout: object, name: str) -> float:
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        raise ConfigError(
            f"add_health_check({name!r}, timeout={timeout!r}) is not valid. "
            "Accepted: a positive number of seconds, such as 2 or 0.5."
        )
    return float(timeout)
