"""Keyword arguments + environment → validated ``Settings`` and the chosen plugin classes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from otelkit._errors import ConfigError
from otelkit.config import _parse
from otelkit.config import _settings as _config
from otelkit.exporters import _plugin as _plugins


@dataclass(frozen=True)
class Loaded:
    settings: _config.Settings
    plugins: Mapping[str, type[_plugins.ExporterPlugin]]


def _installed_plugin_classes() -> dict[str, type[_plugins.ExporterPlugin]]:
    """Every installed plugin that loads; used for keyword and variable names only."""
    classes = {}
    for name, point in _plugins.available().items():
        try:
            classes[name] = _plugins.load(name, point)
        except ConfigError:
            continue  # reported only if the plugin is chosen
    return classes


def _expand_exporters(
    keywords: Mapping[str, object], classes: Mapping[str, type[_plugins.ExporterPlugin]]
) -> dict[str, object]:
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
    except _parse.Invalid as exc:
        raise ConfigError(
            f"init_telemetry(exporters={given!r}) is not valid: {exc.reason}."
        ) from None
    for name in names:
        if name not in classes:
            raise ConfigError(
                f"init_telemetry(exporters={given!r}) is not valid: no exporter plugin named "
                f"{name!r} is installed{_config.did_you_mean(name, list(classes))}. "
                f"Accepted: {', '.join(sorted(classes))}."
            )
    for signal in _config.SIGNALS:
        supporting = [n for n in names if signal in classes[n].signals]
        expanded[f"{signal}_exporters"] = supporting or ["none"]
    return expanded


def load_settings(keywords: Mapping[str, object], environ: Mapping[str, str]) -> Loaded:
    """Parse and validate everything; raise ``ConfigError`` before anything is started."""
    installed = _plugins.available()
    plugin_classes = _installed_plugin_classes()
    keywords = _expand_exporters(keywords, plugin_classes)
    plugin_settings = [s for cls in plugin_classes.values() for s in cls.settings]

    _config.check_keywords(
        keywords, [*_config.core_keywords(), *(s.kwarg for s in plugin_settings if s.kwarg)]
    )
    _config.warn_unknown_variables(
        environ,
        [
            *(s.env for s in _config.CORE_SETTINGS if s.env),
            *(s.env for s in plugin_settings if s.env),
            *_config.OTHER_KNOWN_VARIABLES,
        ],
    )

    core = _config.load_core(keywords, environ)
    _config.validate_exporter_names(core, keywords, list(installed))
    chosen_names = [
        n for signal in _config.SIGNALS for n in core[f"{signal}_exporters"] if n != "none"
    ]
    chosen: dict[str, type[_plugins.ExporterPlugin]] = {}
    for name in dict.fromkeys(chosen_names):
        chosen[name] = plugin_classes.get(name) or _plugins.load(name, installed[name])
    for signal in _config.SIGNALS:
        for name in core[f"{signal}_exporters"]:
            if name != "none" and signal not in chosen[name].signals:
                supported = ", ".join(sorted(chosen[name].signals))
                raise ConfigError(
                    f"OTEL_{signal.upper()}_EXPORTER names {name!r}, which does not export "
                    f"{signal}. The {name!r} plugin supports: {supported}."
                )

    options = {
        name: MappingProxyType(_config.parse_table(cls.settings, keywords, environ, name))
        for name, cls in chosen.items()
    }
    settings = _config.Settings(
        **core,
        exporter_options=MappingProxyType(options),
        given_keywords=frozenset(k for k, v in keywords.items() if v is not None),
    )
    return Loaded(settings, MappingProxyType(chosen))


def instantiate(loaded: Loaded) -> dict[str, _plugins.ExporterPlugin]:
    """Create the chosen plugins; their ``validate()`` may still raise ``ConfigError``."""
    return {
        name: cls(loaded.settings.exporter_options[name], loaded.settings)
        for name, cls in loaded.plugins.items()
    }
