"""The effective configuration with the source of every value, as ``init_telemetry()`` sees it.

The settings are loaded by the runtime's own loader (``load_settings``), so the command line can
never disagree with the application; this module only adds where each value came from. On the
command line no keyword exists, so a value comes from its variable or from its default. Values
are rendered masked: a secret setting (a header value too) shows ``***`` (``_output.MASK``),
URLs and other text go through ``config._redact`` (credentials become ``REDACTED``).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from otelkit.cli._output import MASK
from otelkit.config import _parse
from otelkit.config._redact import redact_text, redact_url
from otelkit.config._settings import CORE_SETTINGS
from otelkit.runtime._load import Loaded, instantiate, load_settings
from otelkit.runtime._resource import RESOURCE_DETECTORS

if TYPE_CHECKING:
    from otelkit.config._setting import Setting
    from otelkit.exporters._plugin import ExporterPlugin

__all__ = [
    "SCRIPT_NAME",
    "EffectiveValue",
    "effective_values",
    "load",
    "service_name_given",
    "shown",
]

VARIABLE, DEFAULT = "variable", "default"
SERVICE_NAME_VARIABLE = "OTEL_SERVICE_NAME"
SCRIPT_NAME = "(the script name of each process)"


@dataclass(frozen=True)
class EffectiveValue:
    """One setting: its variable, the value in effect (masked), and where it came from."""

    name: str
    value: object
    source: str
    owner: str
    """``otelkit`` for the core table, else the exporter plugin that declares the setting."""
    secret: bool

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "source": self.source, "owner": self.owner}


def service_name_given(loaded: Loaded, environ: Mapping[str, str]) -> bool:
    """Whether the service name is configured; else each process takes its script's name
    (here it would be ``otelkit``, the command's own: not what the application will use)."""
    settings = loaded.settings
    return "service_name" in settings.given_keywords or bool(
        environ.get(SERVICE_NAME_VARIABLE, "").strip()
        or settings.resource_attributes.get("service.name")
    )


def load(environ: Mapping[str, str]) -> tuple[Loaded, dict[str, ExporterPlugin]]:
    """Exactly the loading and validation of ``init_telemetry()`` without keywords: the
    settings, then the chosen plugins (their ``validate()`` checks several values together).
    Nothing is started: a plugin binds its port or opens its connection only when the runtime
    asks it for a reader or an exporter."""
    loaded = load_settings({}, environ)
    return loaded, ({} if loaded.settings.sdk_disabled else instantiate(loaded))


def effective_values(loaded: Loaded, environ: Mapping[str, str]) -> list[EffectiveValue]:
    """Every core setting, the resource detectors, and each chosen plugin's settings."""
    settings = loaded.settings
    rows = [
        _row(setting, getattr(settings, setting.key), environ, "otelkit")
        for setting in CORE_SETTINGS
    ]
    if not service_name_given(loaded, environ):
        at = next(i for i, row in enumerate(rows) if row.name == SERVICE_NAME_VARIABLE)
        rows[at] = dataclasses.replace(rows[at], value=SCRIPT_NAME)
    detectors = tuple(
        getattr(detector, "name", type(detector).__name__) for detector in loaded.resource_detectors
    )
    given = environ.get(RESOURCE_DETECTORS.env or "", "").strip()
    rows.append(_row(RESOURCE_DETECTORS, _parse.name_list(given) if given else detectors, environ))
    for owner, options in settings.exporter_options.items():
        plugin = loaded.plugins[owner]
        rows.extend(_row(s, options.get(s.key), environ, owner) for s in plugin.settings)
    return rows


def _row(
    setting: Setting[Any], value: object, environ: Mapping[str, str], owner: str = "otelkit"
) -> EffectiveValue:
    name = setting.env or setting.kwarg
    source = VARIABLE if setting.env and environ.get(setting.env, "").strip() else DEFAULT
    return EffectiveValue(name, shown(value, setting.secret), source, owner, setting.secret)


def shown(value: object, secret: bool = False) -> object:
    """A JSON-ready value with every credential masked (``None`` stays ``None``: unset)."""
    if value is None:
        return None
    if secret and not isinstance(value, Mapping):
        return MASK
    if isinstance(value, _parse.Secret):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): shown(v, secret) for k, v in value.items()}
    if isinstance(value, (tuple, list, frozenset, set)):
        return [shown(v, secret) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return int(value) if value.is_integer() else value
    if isinstance(value, int):
        return value
    text = str(value)
    return redact_url(text) if "://" in text and " " not in text else redact_text(text)


def rendered(value: object) -> str:
    """How a table cell shows a value from ``shown()``."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return ",".join(f"{k}={rendered(v)}" for k, v in value.items()) or "—"
    if isinstance(value, list):
        return ",".join(rendered(v) for v in value) or "—"
    return str(value)
