"""Value parsers of the alerting settings and rules, in the style of ``otelkit.config._parse``.

Each takes a raw value (an environment string, a keyword's value or a YAML scalar) and returns
the typed value or raises ``otelkit.config._parse.Invalid`` with a short reason. A reason never
repeats a secret value (the webhook URL, the SMTP password).
"""

from __future__ import annotations

import math
import re
from urllib.parse import urlsplit

from otelkit.config import _parse
from otelkit.config._parse import Invalid, Secret, text

__all__ = [
    "DURATION_ACCEPTED",
    "duration",
    "email_list",
    "finite_number",
    "host",
    "optional_email",
    "optional_email_list",
    "positive_duration",
    "ratio",
    "webhook_url",
]

_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_EMAIL = re.compile(r"[^@\s,<>\"]+@[^@\s,<>\"]+\.?[^@\s,<>\"]*")
_HOST = re.compile(r"[A-Za-z0-9._:\-\[\]]+")

DURATION_ACCEPTED = "seconds as a number, or a duration such as `500ms`, `15s`, `5m`, `1h30m`"


def finite_number(value: object) -> float:
    if isinstance(value, bool):
        raise Invalid("expected a number, got a boolean")
    if isinstance(value, (int, float)):
        number = float(value)
    else:
        raw = text(value)
        if not _NUMBER.fullmatch(raw):
            raise Invalid("not a number")
        number = float(raw)
    if not math.isfinite(number):
        raise Invalid("not a finite number")
    return number


duration = _parse.duration("s", positive=False)
"""Seconds, >= 0: a number (seconds) or a duration string (``500ms``, ``5m``, ``1h30m``)."""
positive_duration = _parse.duration("s", positive=True)
"""Like ``duration``, greater than 0."""


def ratio(value: object) -> float:
    """A share in [0, 1]: ``0.8``, or a percentage written with its sign, ``80%``."""
    if isinstance(value, str) and value.strip().endswith("%"):
        number = finite_number(value.strip()[:-1]) / 100.0
    else:
        number = finite_number(value)
        if 1.0 < number <= 100.0:
            raise Invalid(f"{number:g} is outside [0, 1] (write {number / 100:g} or {number:g}%)")
    if not 0.0 <= number <= 1.0:
        raise Invalid(f"{number:g} is outside [0, 1]")
    return number


def webhook_url(value: object) -> Secret | None:
    """An http(s) URL, kept as a ``Secret``: webhook URLs carry their credentials in the path."""
    raw = text(value)
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise Invalid("not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("expected an http:// or https:// URL with a host")
    if any(c.isspace() for c in raw):
        raise Invalid("must not contain spaces")
    return Secret(raw)


def host(value: object) -> str | None:
    raw = text(value)
    if not raw:
        return None
    if not _HOST.fullmatch(raw):
        raise Invalid("not a host name or address")
    return raw


def optional_email(value: object) -> str | None:
    raw = text(value)
    if not raw:
        return None
    if not _EMAIL.fullmatch(raw):
        raise Invalid(f"{raw!r} is not an e-mail address")
    return raw


def email_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        items: list[object] = list(value.split(","))
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        raise Invalid(f"expected a comma-separated string or a list, got {type(value).__name__}")
    addresses: list[str] = []
    for item in items:
        address = text(item)
        if not address:
            continue
        if not _EMAIL.fullmatch(address):
            raise Invalid(f"{address!r} is not an e-mail address")
        if address not in addresses:
            addresses.append(address)
    return tuple(addresses)


def optional_email_list(value: object) -> tuple[str, ...] | None:
    """Like ``email_list``; None when not given, ``()`` for ``none`` (no e-mail at all)."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() == "none":
        return ()
    return email_list(value)
