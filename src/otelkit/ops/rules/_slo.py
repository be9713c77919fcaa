"""SLOs as code: the ``SLO`` value, the registry an application fills, the ``--slo`` syntax.

An application declares its objectives beside its code, at import::

    from otelkit.ops.rules import SLO, register_slo

    register_slo(
        SLO("checkout-availability", objective=99.9, route="/checkout"),
        SLO("checkout-latency", objective=99, latency=0.5, route="/checkout"),
        SLO("payment", objective=99.5, function="shop.payment.duration"),
    )

``otelkit rules --app shop.main:app`` imports the module, so the registry holds them; the same
objectives can be given as flags (``parse_slo_flag``). Objectives are percentages, as in
sloth and pyrra.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from otelkit._errors import ConfigError
from otelkit.config import _alerting_parsers as parsers
from otelkit.config import _parse

__all__ = ["SLO", "clear_slos", "parse_slo_flag", "register_slo", "registered_slos"]

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_LABEL_VALUE = re.compile(r'[^"\\\n]+')
_PERIOD = re.compile(r"[1-9][0-9]*[dhw]")
_FLAG_KEYS = ("name", "route", "function", "availability", "latency", "period")


@dataclass(frozen=True)
class SLO:
    """One objective: the share of good events over ``period`` that must stay above it.

    ``latency=None`` makes it an availability objective (good: not a 5xx, or for a function:
    no exception); with ``latency`` (seconds) good means faster than that. ``route`` narrows
    it to one HTTP route, ``function`` makes it about a decorated business function (the name
    of its ``@timed``/``@counted`` metric); neither: the whole HTTP service.
    """

    name: str
    objective: float
    latency: float | None = None
    route: str | None = None
    function: str | None = None
    period: str = "30d"

    def __post_init__(self) -> None:
        where = f"SLO {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ConfigError(
                f"SLO name {self.name!r} is not valid. Accepted: lower-case letters, digits, "
                "'-', '_' and '.', starting with a letter or digit, at most 63 characters."
            )
        objective = self.objective
        if isinstance(objective, bool) or not isinstance(objective, (int, float)):
            raise ConfigError(f"{where}: objective={objective!r} is not a number.")
        if not 50 <= objective < 100:
            raise ConfigError(
                f"{where}: objective={objective!r} is not valid. Accepted: a percentage from "
                "50 to less than 100, such as 99.9."
            )
        if self.latency is not None and (
            isinstance(self.latency, bool)
            or not isinstance(self.latency, (int, float))
            or not self.latency > 0
        ):
            raise ConfigError(
                f"{where}: latency={self.latency!r} is not valid. Accepted: seconds, above 0."
            )
        if self.route is not None and not _LABEL_VALUE.fullmatch(self.route):
            raise ConfigError(
                f"{where}: route={self.route!r} is not valid. Accepted: a route template as "
                "the HTTP metrics record it (http.route), such as /orders/{order_id}."
            )
        if self.route is not None and self.function is not None:
            raise ConfigError(f"{where}: give route= or function=, not both.")
        if not _PERIOD.fullmatch(self.period):
            raise ConfigError(
                f"{where}: period={self.period!r} is not valid. Accepted: days, hours or weeks "
                "such as 30d, 28d, 4w."
            )

    @property
    def kind(self) -> str:
        return "availability" if self.latency is None else "latency"

    @property
    def error_budget(self) -> float:
        """The share of bad events allowed: ``1 - objective``."""
        return round(1 - self.objective / 100, 12)


_registry: dict[str, SLO] = {}
_lock = threading.Lock()


def register_slo(*slos: SLO) -> None:
    """Declare objectives (at import of the application); a name declared again is replaced."""
    for slo in slos:
        if not isinstance(slo, SLO):
            raise ConfigError(f"register_slo() takes SLO values, not {type(slo).__name__}.")
    with _lock:
        for slo in slos:
            _registry[slo.name] = slo


def registered_slos() -> tuple[SLO, ...]:
    with _lock:
        return tuple(_registry.values())


def clear_slos() -> None:
    """Forget every registered objective (tests, or an application re-imported)."""
    with _lock:
        _registry.clear()


def parse_slo_flag(text: str) -> list[SLO]:
    """One ``--slo`` value: ``availability=99.9``, ``latency=0.5s@99``, with an optional
    ``route=/checkout`` or ``function=shop.payment.duration``, ``name=`` and ``period=``,
    comma-separated. Availability and latency together give two SLOs."""
    fields: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in _FLAG_KEYS:
            raise ConfigError(
                f"--slo {text!r}: {part!r} is not understood. Accepted: comma-separated "
                f"{', '.join(k + '=' for k in _FLAG_KEYS)} such as "
                "'route=/checkout,availability=99.9' or 'latency=0.5s@99'."
            )
        if key in fields:
            raise ConfigError(f"--slo {text!r}: {key}= is given twice.")
        fields[key] = value.strip()
    if "availability" not in fields and "latency" not in fields:
        raise ConfigError(
            f"--slo {text!r}: give availability=<percent> or latency=<time>@<percent>."
        )
    scope = _scope_name(fields.get("route"), fields.get("function"))
    route = fields.get("route") or None
    function = fields.get("function") or None
    period = fields.get("period", "30d")
    slos = []
    if "availability" in fields:
        name = fields.get("name") or f"{scope}-availability"
        objective = _percent(text, fields["availability"])
        slos.append(SLO(name, objective, route=route, function=function, period=period))
    if "latency" in fields:
        limit, at, percent = fields["latency"].partition("@")
        if not at:
            raise ConfigError(
                f"--slo {text!r}: latency={fields['latency']!r} is not valid. Accepted: "
                "<time>@<percent> such as 0.5s@99 (99 % of requests faster than 0.5 s)."
            )
        try:
            seconds = parsers.positive_duration(limit)
        except _parse.Invalid as exc:
            raise ConfigError(
                f"--slo {text!r}: latency {limit!r} is not valid: {exc.reason}. Accepted: "
                f"{parsers.DURATION_ACCEPTED}, greater than 0."
            ) from None
        base = fields.get("name")
        latency_name = f"{base}-latency" if base and "availability" in fields else base
        slos.append(
            SLO(
                latency_name or f"{scope}-latency",
                _percent(text, percent),
                seconds,
                route=route,
                function=function,
                period=period,
            )
        )
    return slos


def _percent(text: str, raw: str) -> float:
    try:
        return float(raw.strip().removesuffix("%"))
    except ValueError:
        raise ConfigError(
            f"--slo {text!r}: {raw!r} is not a percentage. Accepted: a number such as 99.9."
        ) from None


def _scope_name(route: str | None, function: str | None) -> str:
    if function:
        return re.sub(r"[^a-z0-9_.-]+", "-", function.lower()).strip("-.") or "function"
    if route:
        return re.sub(r"[^a-z0-9_.-]+", "-", route.lower()).strip("-.") or "root"
    return "service"
