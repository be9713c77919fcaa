"""Misspelt variables, as findings: the runtime's own detector (``misspelt_variables``), so
doctor flags exactly the names ``init_telemetry()`` warns about, and the loader's other warnings.

The known names are every variable otelkit and its installed plugins read (the detector adds
the OpenTelemetry API's and SDK's). A misspelt name with a suggestion is a problem (the value
it holds is not read); an ``OTELKIT_*`` name close to nothing is a warning. Values are never
shown (a misspelt header variable still holds a credential).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit._errors import ConfigError
from otelkit.cli._doctor_checks import PROBLEM, WARNING, Finding
from otelkit.config._environ import misspelt_variables
from otelkit.config._settings import CORE_SETTINGS, OTHER_KNOWN_VARIABLES
from otelkit.exporters import _plugin as _plugins
from otelkit.runtime._resource import RESOURCE_DETECTORS

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

__all__ = ["check_variables", "known_variables"]


def known_variables() -> set[str]:
    """The variables otelkit reads: its settings and those of every installed plugin."""
    known = {s.env for s in CORE_SETTINGS if s.env}
    known.update(OTHER_KNOWN_VARIABLES)
    known.add(RESOURCE_DETECTORS.env or "")
    for name, point in _plugins.available().items():
        try:
            plugin = _plugins.load(name, point)
        except ConfigError:
            continue
        known.update(s.env for s in plugin.settings if s.env)
    known.discard("")
    return known


def check_variables(environ: Mapping[str, str], warned: Sequence[str]) -> list[Finding]:
    """One finding per variable nobody reads, then the loader's other warnings (``warned``
    holds none about variables: ``_config.load_with_warnings`` leaves those out)."""
    findings: list[Finding] = []
    for name, suggestion in misspelt_variables(environ, known_variables()):
        if suggestion is None:
            findings.append(
                Finding(
                    f"variable {name}",
                    WARNING,
                    f"{name} is not a variable otelkit or its plugins read; it is ignored",
                    "remove it, or install the plugin that reads it",
                )
            )
            continue
        findings.append(
            Finding(
                f"variable {name}",
                PROBLEM,
                f"{name} is not a variable OpenTelemetry or otelkit reads; it is ignored",
                f"rename it to {suggestion}",
            )
        )
    findings.extend(
        Finding("configuration warning", WARNING, message.removeprefix("otelkit: "))
        for message in warned
    )
    return findings
