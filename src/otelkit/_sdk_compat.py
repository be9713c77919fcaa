"""Every private OpenTelemetry SDK attribute otelkit touches, in one place, probed at start-up.

The SDK's public API cannot feed pre-aggregated data into a reader, reset its aggregates in a
forked child or hand a span to the provider's processors without building an SDK span. otelkit
does these through private attributes (the seams below). A seam is probed once, at
``init_telemetry()``: when an SDK release renamed or reshaped it, the feature that needs it
switches to the plain public SDK path (slower, never wrong) and one WARNING names the SDK version
and the feature. Nothing outside this module reads a private SDK attribute.

Each seam is declared with ``Seam(name, feature, fallback, probe)``; ``probe_all()`` runs the
probes and ``usable(name)`` tells a feature whether its seam passed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from opentelemetry.sdk.version import __version__ as SDK_VERSION

logger = logging.getLogger("otelkit")


@dataclass(frozen=True)
class Seam:
    """One private SDK attribute (or a group used together) and what depends on it."""

    name: str
    feature: str
    """What uses it, as the WARNING names it."""
    fallback: str
    """What happens instead when the probe fails."""
    probe: Callable[[], bool]
    """True when the seam has the shape otelkit relies on; must not raise (a raise is a fail)."""


SEAMS: dict[str, Seam] = {}
_usable: dict[str, bool] = {}


def seam(name: str, *, feature: str, fallback: str) -> Callable[[Callable[[], bool]], Seam]:
    """Declare a seam; the decorated function is its probe."""

    def declare(probe: Callable[[], bool]) -> Seam:
        declared = Seam(name, feature, fallback, probe)
        SEAMS[name] = declared
        return declared

    return declare


def probe_all() -> dict[str, bool]:
    """Probe every seam (at ``init_telemetry()``); one WARNING per seam that fails."""
    results: dict[str, bool] = {}
    for declared in SEAMS.values():
        try:
            ok = bool(declared.probe())
        except Exception:
            ok = False
        results[declared.name] = ok
        if not ok and _usable.get(declared.name, True):
            logger.warning(
                "otelkit: opentelemetry-sdk %s changed an internal that %s relies on (%s); %s",
                SDK_VERSION,
                declared.feature,
                declared.name,
                declared.fallback,
            )
    _usable.clear()
    _usable.update(results)
    return results


def usable(name: str) -> bool:
    """Whether the seam passed its last probe (probed on first ask before ``probe_all()``)."""
    ok = _usable.get(name)
    if ok is None:
        declared = SEAMS[name]
        try:
            ok = bool(declared.probe())
        except Exception:
            ok = False
        _usable[name] = ok
    return ok
