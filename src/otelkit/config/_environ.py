"""Warnings about the environment as a whole: variables nobody reads, and suspicious values.

A typo in a variable name is silent in most tools: the variable is simply not read. otelkit
warns about ``OTELKIT_*`` names it does not know and about ``OTEL_*`` names that are a near
miss of a variable of the OpenTelemetry specification (the SDK's own constants, plus the few
it does not declare). An ``OTEL_*`` name with no close match is left alone: it may belong to
another tool, or to a newer specification. Also here: an OTLP timeout so small it was surely
meant in seconds (the variables count milliseconds).
"""

from __future__ import annotations

import sys
import warnings
from difflib import get_close_matches
from functools import cache
from typing import TYPE_CHECKING

from opentelemetry import environment_variables as _api_variables
from opentelemetry.sdk import environment_variables as _sdk_variables

from otelkit.config import _parse

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "OTLP_TIMEOUT_VARIABLES",
    "SPEC_VARIABLES",
    "UnknownVariableWarning",
    "misspelt_variables",
    "standard_variables",
    "warn_small_otlp_timeout",
    "warn_unknown_variables",
]

# Specification variables the SDK does not declare as constants (but tools read them).
SPEC_VARIABLES = (
    "OTEL_RESOURCE_DETECTORS",
    "OTEL_SEMCONV_STABILITY_OPT_IN",
    "OTEL_EXPERIMENTAL_CONFIG_FILE",
    "OTEL_ENTITIES",
)
# Language and instrumentation namespaces: their variables are other tools' business.
_FOREIGN_PREFIXES = tuple(
    f"OTEL_{name}_"
    for name in (
        "PYTHON",
        "INSTRUMENTATION",
        "SEMCONV",
        "NODE",
        "JAVA",
        "JAVAAGENT",
        "DOTNET",
        "GO",
        "RUBY",
        "PHP",
        "RUST",
        "CPP",
        "ERLANG",
        "SWIFT",
    )
)
# A near miss: a swapped pair of letters or one letter more or less in a long name.
_NEAR_MISS = 0.85

OTLP_TIMEOUT_VARIABLES = (
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
)
_SMALLEST_LIKELY_MS = 100.0


@cache
def standard_variables() -> frozenset[str]:
    """Every ``OTEL_*`` variable the OpenTelemetry API and SDK declare, and ``SPEC_VARIABLES``."""
    names = set(SPEC_VARIABLES)
    for module in (_api_variables, _sdk_variables):
        for constant, value in vars(module).items():
            if constant.startswith("OTEL_") and isinstance(value, str):
                names.add(value)
    return frozenset(names)


def _stacklevel() -> int:
    """The stack level of the first caller outside otelkit: the warning points at user code."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("otelkit"):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


class UnknownVariableWarning(UserWarning):
    """A variable nobody reads (``misspelt_variables``): ``otelkit doctor`` reports these
    itself, as findings, and tells them from the loader's other warnings by this class."""


def misspelt_variables(
    environ: Iterable[str], known: Iterable[str]
) -> list[tuple[str, str | None]]:
    """The variables of ``environ`` nobody reads, each with the known name it is closest to.

    ``known``: the variables otelkit and its plugins read (the standard ones are added here).
    An ``OTELKIT_*`` name not known is listed, with a suggestion or ``None``; an ``OTEL_*`` name
    only when it is a near miss of a known one (else it may be another tool's), and never in a
    language or instrumentation namespace (``OTEL_PYTHON_*``, ``OTEL_INSTRUMENTATION_*``...).
    This is the one detector: ``init_telemetry()`` warns with it, ``otelkit doctor`` reports it.
    """
    ours = set(known)
    standard = standard_variables()
    candidates = sorted({*standard, *(k for k in ours if k.startswith("OTEL_"))})
    found: list[tuple[str, str | None]] = []
    for name in sorted(set(environ)):
        if name.startswith("OTELKIT_") and name not in ours:
            close = get_close_matches(name, sorted(ours), n=1)
            found.append((name, close[0] if close else None))
        elif (
            name.startswith("OTEL_")
            and name not in standard
            and name not in ours
            and not name.startswith(_FOREIGN_PREFIXES)
        ):
            close = get_close_matches(name, candidates, n=1, cutoff=_NEAR_MISS)
            if close:
                found.append((name, close[0]))
    return found


def warn_unknown_variables(environ: Mapping[str, str], known: Sequence[str]) -> None:
    """Warn about ``OTELKIT_*`` variables nobody reads and misspelt standard ``OTEL_*`` ones."""
    for name, suggestion in misspelt_variables(environ, known):
        hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
        if name.startswith("OTELKIT_"):
            message = f"otelkit: unknown environment variable {name}{hint}; it is ignored."
        else:
            message = f"otelkit: {name} is not an OpenTelemetry variable{hint}; it is ignored."
        warnings.warn(message, UnknownVariableWarning, stacklevel=_stacklevel())


def warn_small_otlp_timeout(environ: Mapping[str, str], keywords: Mapping[str, object]) -> None:
    """An OTLP timeout under 100 was almost certainly meant in seconds: say so."""
    for variable in OTLP_TIMEOUT_VARIABLES:
        keyword = variable.removeprefix("OTEL_EXPORTER_").lower()
        given = keywords.get(keyword)
        source, raw = (
            (f"init_telemetry({keyword}=...)", given)
            if given is not None
            else (variable, environ.get(variable, ""))
        )
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            continue
        try:
            milliseconds = _parse.positive_number(raw)
        except _parse.InvalidValue:
            continue  # not a plain number (a duration such as "5s", or invalid: reported later)
        if milliseconds < _SMALLEST_LIKELY_MS:
            warnings.warn(
                f"otelkit: {source}={raw!r} is in milliseconds ({milliseconds:g} ms). "
                f"If you meant seconds, write {milliseconds * 1000:g} or {milliseconds:g}s.",
                UserWarning,
                stacklevel=_stacklevel(),
            )
