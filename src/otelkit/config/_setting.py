"""``Setting``: one declared value, and how a value is resolved from it.

Every setting is declared once as a ``Setting`` (keyword, env var, parser, default, accepted
values, doc line). ``parse_setting`` reads keyword > environment > default, validates the value
and raises ``ConfigError`` naming the variable, the value and what is accepted. The tables of
declarations live elsewhere (``_core``, ``_alerting``, the exporter plugins); this module is
the machinery they share, so it imports none of them.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from otelkit._errors import ConfigError
from otelkit.config import _parse, _redact

__all__ = [
    "Default",
    "Setting",
    "check_keywords",
    "did_you_mean",
    "parse_setting",
    "parse_table",
    "source_name",
]

T = TypeVar("T")

Default = Callable[[Mapping[str, Any]], object]


@dataclass(frozen=True, kw_only=True)
class Setting(Generic[T]):
    """One variable (and keyword) otelkit or a plugin reads; every field is given by name.

    ``key`` is the name in the parsed options; ``env`` the environment variable; ``parse`` turns
    the raw value (an environment string or a keyword's value) into the typed one or raises
    ``InvalidValue`` (anything else it raises is reported the same way); ``default`` is used
    when neither is given (a value, or a function of the options parsed before it);
    ``accepted`` and ``doc`` are the error message's and the docs' words; ``keyword`` is the
    ``init_telemetry()`` keyword (default: ``key``); ``secret`` values are masked in errors and
    reprs; a ``required`` setting has no default and must be given.
    """

    key: str
    env: str | None = None
    parse: Callable[[object], T]
    default: object = None
    accepted: str
    doc: str
    keyword: str | None = None
    secret: bool = False
    default_doc: str | None = None
    required: bool = False
    merge: bool = False
    """For mappings: the keyword's entries are merged over the variable's instead of replacing."""

    @property
    def kwarg(self) -> str:
        return self.keyword if self.keyword is not None else self.key

    def default_value(self, parsed: Mapping[str, Any]) -> object:
        return self.default(parsed) if callable(self.default) else self.default

    def describe_default(self) -> str:
        if self.default_doc is not None:
            return self.default_doc
        if self.required:
            return "required"
        return "—" if self.default is None else f"`{_render(self.default)}`"


def _render(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(_render(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def did_you_mean(word: str, candidates: Sequence[str], cutoff: float = 0.6) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""


def source_name(setting: Setting[Any], from_keyword: bool) -> str:
    """How an error names a setting: its keyword if one was given, else its variable."""
    if from_keyword or not setting.env:
        return f"init_telemetry({setting.kwarg}=...)"
    return setting.env


def _shown(setting: Setting[Any], raw: object) -> str:
    if setting.secret:
        return "'***'"
    shown = _redact.redact_text(repr(raw))
    return shown if len(shown) <= 80 else shown[:77] + "…"


def parse_setting(
    setting: Setting[T],
    keywords: Mapping[str, object],
    environ: Mapping[str, str],
    parsed: Mapping[str, Any],
    owner: str | None = None,
) -> T:
    """Resolve one setting: keyword > environment > default, validated.

    ``owner`` names the exporter plugin that declared the setting, for the error messages.
    """
    in_environment = setting.env is not None and environ.get(setting.env, "").strip()
    if setting.merge and in_environment and keywords.get(setting.kwarg) is not None:
        base: Any = parse_setting(setting, {}, environ, parsed, owner)
        override: Any = parse_setting(setting, keywords, {}, parsed, owner)
        merged: Any = MappingProxyType({**base, **override})
        return merged  # type: ignore[no-any-return]
    if setting.kwarg in keywords and keywords[setting.kwarg] is not None:
        raw: object = keywords[setting.kwarg]
        from_keyword = True
    elif in_environment:
        raw = environ[setting.env]  # type: ignore[index]
        from_keyword = False
    elif setting.required:
        needed_by = f"the {owner!r} exporter" if owner else "otelkit"
        raise ConfigError(
            f"{setting.env or setting.kwarg} is not set, and {needed_by} needs it "
            f"(or init_telemetry({setting.kwarg}=...)). Accepted: {setting.accepted}."
        )
    else:
        return setting.default_value(parsed)  # type: ignore[return-value]
    try:
        return setting.parse(raw)
    except _parse.Invalid as exc:
        raise ConfigError(
            f"{source_name(setting, from_keyword)}={_shown(setting, raw)} is not valid: "
            f"{_redact.reason_of(exc.reason, setting.secret)}. Accepted: {setting.accepted}."
        ) from None


def parse_table(
    table: Sequence[Setting[Any]],
    keywords: Mapping[str, object],
    environ: Mapping[str, str],
    owner: str | None = None,
) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for setting in table:
        parsed[setting.key] = parse_setting(setting, keywords, environ, parsed, owner)
    return parsed


def check_keywords(keywords: Mapping[str, object], known: Sequence[str]) -> None:
    for name in keywords:
        if name not in known:
            raise ConfigError(
                f"init_telemetry() got an unknown keyword argument {name!r}"
                f"{did_you_mean(name, known)}. Accepted: {', '.join(sorted(known))}."
            )
