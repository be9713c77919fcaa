"""Keyword arguments + environment → validated ``Settings`` and the chosen plugin classes.

Only the exporters named for a signal are imported: otelkit plugins (``otelkit.exporters``
entry points) first, else the exporters of the SDK's auto-configuration groups
(``opentelemetry_<signal>_exporter``). The other installed plugins are imported only to
recognise a keyword or an ``OTELKIT_*`` variable that neither the core nor a chosen plugin
reads (theirs, or a typo).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from otelkit._errors import ConfigError
from otelkit.config import _parse
from otelkit.config import _settings as _config
from otelkit.config._environ import misspelt_variables
from otelkit.exporters import _plugin as _plugins
from otelkit.runtime import _resource

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from importlib.metadata import EntryPoint

    from opentelemetry.sdk.resources import ResourceDetector

PluginClass = type[_plugins.ExporterPlugin]
# Keywords that are not settings of the core table or of a plugin.
OTHER_KEYWORDS = ("exporters", _resource.RESOURCE_DETECTORS.kwarg)


@dataclass(frozen=True)
class Loaded:
    settings: _config.Settings
    plugins: Mapping[str, PluginClass]
    resource_detectors: tuple[ResourceDetector, ...] = ()


class _Exporters:
    """The installed exporters by name, each imported on first use."""

    def __init__(self) -> None:
        self.plugins: dict[str, EntryPoint] = _plugins.available()
        self.standard = _plugins.standard_exporters()
        self.names = sorted({*self.plugins, *self.standard})
        self._classes: dict[str, PluginClass] = {}

    def __getitem__(self, name: str) -> PluginClass:
        if name not in self._classes:
            if name in self.plugins:
                self._classes[name] = _plugins.load(name, self.plugins[name])
            else:
                self._classes[name] = _plugins.StandardExporter.named(name, self.standard[name])
        return self._classes[name]

    def signals(self, name: str) -> frozenset[str]:
        """The signals an exporter supports (none if it fails to load), to word errors."""
        try:
            return self[name].signals
        except ConfigError:
            return frozenset()

    def others(self, chosen: Iterable[str]) -> list[PluginClass]:
        """The installed otelkit plugins not chosen that load (failures are not reported)."""
        classes = []
        for name in self.plugins:
            if name not in chosen:
                try:
                    classes.append(self[name])
                except ConfigError:
                    continue
        return classes


def _expand_exporters(keywords: Mapping[str, object], exporters: _Exporters) -> dict[str, object]:
    """``exporters=`` is shorthand for the three ``<signal>_exporters`` keywords.

    A mapping names the exporters per signal; a name or list sends every signal its plugins
    support there (``exporters="otlp"``: all three; ``"prometheus"``: metrics only).
    """
    expanded = {k: v for k, v in keywords.items() if k != "exporters"}
    given = keywords.get("exporters")
    if given is None:
        return expanded
    if isinstance(given, Mapping):
        for signal, names in given.items():
            if signal not in _config.SIGNALS:
                raise ConfigError(
                    f"init_telemetry(exporters=...) has an unknown signal {signal!r}. "
                    f"Accepted keys: {', '.join(_config.SIGNALS)}."
                )
            expanded[f"{signal}_exporters"] = names
        return expanded
    try:
        names = _parse.name_list(given)
    except _parse.InvalidValue as exc:
        raise ConfigError(
            f"init_telemetry(exporters={given!r}) is not valid: {exc.reason}."
        ) from None
    for name in names:
        if name not in exporters.names:
            raise ConfigError(
                f"init_telemetry(exporters={given!r}) is not valid: no exporter named "
                f"{name!r} is installed{_config.did_you_mean(name, exporters.names)}. "
                f"Accepted: {', '.join(exporters.names)}."
            )
    for signal in _config.SIGNALS:
        supporting = [n for n in names if signal in exporters[n].signals]
        expanded[f"{signal}_exporters"] = supporting or ["none"]
    return expanded


def guarded(setting: _config.Setting[Any]) -> _config.Setting[Any]:
    """The setting with a parser whose every failure is ``InvalidValue``: a plugin's parser
    that raises something else (a KeyError) still yields a ConfigError naming the variable."""
    parse: Callable[[object], Any] = setting.parse

    def parse_guarded(value: object) -> Any:
        try:
            return parse(value)
        except _parse.InvalidValue:
            raise
        except Exception as exc:
            detail = "" if setting.secret else f": {str(exc)[:200]}"
            raise _parse.InvalidValue(f"the parser failed ({type(exc).__name__}{detail})") from exc

    return dataclasses.replace(setting, parse=parse_guarded)


def _check_keywords(
    keywords: Mapping[str, object], chosen: Sequence[PluginClass], exporters: _Exporters
) -> None:
    known = [*_config.core_keywords(), *OTHER_KEYWORDS]
    known += [s.kwarg for cls in chosen for s in cls.settings]
    if any(k not in known for k in keywords):
        known += [s.kwarg for cls in exporters.others(c.name for c in chosen) for s in cls.settings]
    _config.check_keywords(keywords, known)


def _warn_unknown_variables(
    environ: Mapping[str, str], chosen: Sequence[PluginClass], exporters: _Exporters
) -> None:
    known = [
        *(s.env for s in _config.CORE_SETTINGS if s.env),
        *_config.OTHER_KNOWN_VARIABLES,
        *(s.env for cls in chosen for s in cls.settings if s.env),
    ]
    if misspelt_variables(environ, known):  # another installed plugin's variables, perhaps
        others = exporters.others(c.name for c in chosen)
        known += [s.env for cls in others for s in cls.settings if s.env]
    _config.warn_unknown_variables(environ, known)


def load_settings(keywords: Mapping[str, object], environ: Mapping[str, str]) -> Loaded:
    """Parse and validate everything; raise ``ConfigError`` before anything is started."""
    exporters = _Exporters()
    keywords = _expand_exporters(keywords, exporters)
    core = _config.load_core(keywords, environ)
    _config.validate_exporter_names(core, keywords, exporters.names, exporters.signals)
    chosen_names = [
        n for signal in _config.SIGNALS for n in core[f"{signal}_exporters"] if n != "none"
    ]
    chosen = {name: exporters[name] for name in dict.fromkeys(chosen_names)}
    _check_keywords(keywords, list(chosen.values()), exporters)
    _warn_unknown_variables(environ, list(chosen.values()), exporters)
    for signal in _config.SIGNALS:
        for name in core[f"{signal}_exporters"]:
            if name != "none" and signal not in chosen[name].signals:
                supported = ", ".join(sorted(chosen[name].signals))
                raise ConfigError(
                    f"OTEL_{signal.upper()}_EXPORTER names {name!r}, which does not export "
                    f"{signal}. The {name!r} exporter supports: {supported}."
                )

    options = {
        name: MappingProxyType(
            _config.parse_table([guarded(s) for s in cls.settings], keywords, environ, name)
        )
        for name, cls in chosen.items()
    }
    detectors_setting = _resource.RESOURCE_DETECTORS
    detector_names = _config.parse_setting(detectors_setting, keywords, environ, core)
    from_keyword = keywords.get(detectors_setting.kwarg) is not None
    detectors = _resource.load_detectors(
        detector_names, _config.source_name(detectors_setting, from_keyword)
    )
    settings = _config.Settings(
        **core,
        exporter_options=MappingProxyType(options),
        given_keywords=frozenset(k for k, v in keywords.items() if v is not None),
    )
    return Loaded(settings, MappingProxyType(chosen), detectors)


def instantiate(loaded: Loaded) -> dict[str, _plugins.ExporterPlugin]:
    """Create the chosen plugins; their ``validate()`` may still raise ``ConfigError``."""
    return {
        name: cls(loaded.settings.exporter_options[name], loaded.settings)
        for name, cls in loaded.plugins.items()
    }
