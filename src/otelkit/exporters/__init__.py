"""Exporter plugins: the public API for writing one (docs/exporters.md, "Writing a plugin").

A plugin is an ``ExporterPlugin`` subclass registered in the ``otelkit.exporters`` entry-point
group under the name users put in ``OTEL_METRICS_EXPORTER`` / ``OTEL_TRACES_EXPORTER`` /
``OTEL_LOGS_EXPORTER``. ``Setting`` declares a variable the plugin reads (fields by keyword);
its parser is one of the ``parse_*`` functions below or the plugin's own, which rejects a value
by raising ``InvalidValue`` with a short reason. ``ConfigError`` is what ``validate()`` and the
factories raise. Everything here is stable; the modules behind it are not.
"""

from otelkit._errors import ConfigError
from otelkit.config import _alerting_parsers, _parse
from otelkit.config._parse import InvalidValue, Secret
from otelkit.exporters._plugin import ExporterPlugin, Setting

__all__ = [
    "ConfigError",
    "ExporterPlugin",
    "InvalidValue",
    "Secret",
    "Setting",
    "parse_boolean",
    "parse_choice",
    "parse_duration",
    "parse_host",
    "parse_integer",
    "parse_key_value_list",
    "parse_name_list",
    "parse_non_empty",
    "parse_number_list",
    "parse_optional_text",
    "parse_port",
    "parse_positive_duration",
    "parse_positive_number",
    "parse_ratio",
    "parse_secret",
    "parse_text",
    "parse_url",
]

# Each parser takes the raw value (an environment string, or a keyword's value) and returns the
# typed value or raises InvalidValue; none raises anything else, whatever the input.
parse_text = _parse.text
"""Any string, stripped."""
parse_non_empty = _parse.non_empty
"""A non-empty string without control characters."""
parse_optional_text = _parse.optional_text
"""A string, or None when empty."""
parse_boolean = _parse.boolean
"""``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off`` (or a bool)."""
parse_integer = _parse.integer
"""``parse_integer(low, high)`` is a parser of integers in ``[low, high]``."""
parse_port = _parse.integer(1, 65535)
"""A TCP port, 1 to 65535."""
parse_host = _alerting_parsers.host
"""A host name or an IP address, or None when empty."""
parse_positive_number = _parse.positive_number
"""A finite number greater than 0 (a count, or a duration in a unit the setting names)."""
parse_duration = _alerting_parsers.duration
"""Seconds (float, >= 0): a number, or ``500ms``, ``15s``, ``5m``, ``1h30m``, ``1d``."""
parse_positive_duration = _alerting_parsers.positive_duration
"""Like ``parse_duration``, greater than 0."""
parse_ratio = _alerting_parsers.ratio
"""A share in [0, 1]: ``0.8`` or ``80%``."""
parse_choice = _parse.choice
"""``parse_choice("a", "b")`` is a parser of one of those names (case-insensitive)."""
parse_name_list = _parse.name_list
"""A comma list (or a list of strings): lower-cased names, blanks and repeats dropped."""
parse_number_list = _parse.number_list
"""A comma list of non-negative, strictly increasing numbers."""
parse_key_value_list = _parse.key_value_list
"""``k=v,k2=v2`` with percent-encoded values (headers, attributes), or a mapping."""
parse_url = _parse.url
"""An http:// or https:// URL with a host."""
parse_secret = _parse.secret
"""A ``Secret`` (never shown in a repr, a log or an error), or None when empty."""
