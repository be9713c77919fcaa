"""The command line's secrets, registered with ``config._redact`` as ``init_telemetry()`` does.

Every verb prints through ``redact_text``/``redact_url``; these find a registered secret
wherever it appears, so the configuration's secrets are registered before anything can print
them: first from the raw environment (a ``ConfigError`` comes before any settings exist), then
from the loaded settings. What is registered: the value of every variable otelkit or an
installed plugin declares ``secret`` (header values, tokens, passwords, webhook URLs, in the
shapes a message may quote them), and the userinfo and sensitive query values of any URL in an
``OTEL_*``/``OTELKIT_*`` variable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otelkit._errors import ConfigError
from otelkit.config import _redact
from otelkit.config._settings import CORE_SETTINGS
from otelkit.exporters import _plugin as _plugins

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["error_text", "register_environment", "register_settings", "secret_variables"]

_PREFIXES = ("OTEL_", "OTELKIT_")


def secret_variables() -> set[str]:
    """The variables declared ``secret`` by otelkit and by every installed plugin."""
    names = {s.env for s in CORE_SETTINGS if s.secret and s.env}
    for name, point in _plugins.available().items():
        try:
            plugin = _plugins.load(name, point)
        except ConfigError:
            continue
        names.update(s.env for s in plugin.settings if s.secret and s.env)
    return names


def _secrets_of(environ: Mapping[str, str]) -> Iterator[str]:
    declared = secret_variables()
    for name, value in environ.items():
        if not name.startswith(_PREFIXES) or not value.strip():
            continue
        if name in declared:
            yield from _redact.secret_forms(value.strip())
        elif "@" in value or "?" in value:
            yield from _redact.secrets_of_url(value.strip())


def register_environment(environ: Mapping[str, str], *extra: str | None) -> None:
    """Register the secrets of ``environ`` (and ``extra`` ones: a ``--token``), and put the
    redacting filter on the loggers a verb may cause to write (an alert channel's)."""
    _redact.register([*_secrets_of(environ), *(value for value in extra if value)])
    _redact.protect()


def register_settings(settings: object) -> None:
    """Register the secrets of the loaded settings too (parsed: percent-decoded header values)."""
    _redact.register(_redact.secrets_in(settings))


def error_text(exc: BaseException) -> str:
    """An exception's text as a verb prints it: every secret shape and registered value masked."""
    return _redact.redact_text(str(exc))
