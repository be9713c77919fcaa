"""Secrets kept out of text: URL userinfo, sensitive query values, configured credentials.

Credentials reach otelkit in its configuration (an OTLP endpoint with ``user:password@`` or a
``?token=``, ``OTEL_EXPORTER_OTLP_HEADERS`` values) and leave it, unasked, in text: the DEBUG
line that shows the configuration, a ``ConfigError`` quoting a rejected value, and the
OpenTelemetry exporters' own warnings, which quote the endpoint (gRPC) or the request URL
(urllib3's error messages). Their text is not ours to change, so ``protect()`` puts a
``logging.Filter`` on the loggers that write it; the filter rewrites a record only when its text
holds a secret. Three layers, each enough for what it covers:

* the values registered from the configuration (``Secret`` values such as header values and
  webhook URLs, endpoint userinfo and sensitive query values), replaced wherever they appear,
  percent-encoded or not;
* any URL userinfo (``scheme://user:password@`` and gRPC's ``user:password@host``);
* the value of any query parameter whose key is sensitive: the keys the semantic conventions
  list for ``url.query`` (case-sensitive), and common credential names (any case).

Everything here is total: a value it cannot parse is returned as it is, nothing raises.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit

from otelkit.config._parse import Secret
from otelkit.config._parse import url as parse_url

__all__ = [
    "REDACTED",
    "RedactingFilter",
    "SecretUrl",
    "is_sensitive_key",
    "protect",
    "reason_of",
    "redact_query",
    "redact_text",
    "redact_url",
    "register",
    "secret_forms",
    "secret_url",
    "secrets_in",
    "secrets_of_url",
]

REDACTED = "REDACTED"

SEMCONV_SENSITIVE_KEYS = frozenset(
    {
        "X-Amz-Signature",
        "X-Amz-Credential",
        "X-Amz-Security-Token",
        "sig",
        "X-Goog-Signature",
        "AWSAccessKeyId",
        "Signature",
    }
)
"""The ``url.query`` keys the semantic conventions name (and two of contrib's), matched as
written: the conventions ask for case-sensitive matching."""

CREDENTIAL_KEYS = frozenset(
    {
        "access_token", "api-key", "api_key", "apikey", "auth", "authorization", "client_secret",
        "code", "credential", "credentials", "id_token", "key", "passwd", "password", "pwd",
        "refresh_token", "secret", "session", "sessionid", "signature", "token", "x-api-key",
    }
)  # fmt: skip
"""Common credential parameter names, matched in any case, beyond the conventions' list."""

_MIN_REGISTERED = 4
"""Shorter configured values are not registered: replacing every ``ab`` in a log line would
ruin it; userinfo and sensitive query values of any length are still caught by their shape."""
_MAX_REGISTERED = 256

# Each pattern starts only where a token can start (a look-behind), and no repetition can
# scan past the token it started in: the cost stays linear in the text, whatever it holds.
_USERINFO = re.compile(
    r"(?<![A-Za-z0-9+.\-])(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/?#\s]*)@"
)
_BARE_USERINFO = re.compile(
    r"(?<![^\s'\"(\[,=])[^\s/?#@'\"()\[\],=:]+:[^\s/?#'\"()\[\],=]*@(?=[\w\[])"
)
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_QUERY_PAIR = re.compile(r"(?P<lead>[?&;](?P<key>[^=&#\s;'\"?]+)=)(?P<value>[^&#\s;'\")]*)")

_lock = threading.Lock()
_registered: dict[str, None] = {}  # insertion-ordered: the oldest goes first
_pattern: re.Pattern[str] | None = None


def is_sensitive_key(key: str) -> bool:
    """Whether a query parameter's value is a credential (the key as decoded)."""
    return key in SEMCONV_SENSITIVE_KEYS or key.lower() in CREDENTIAL_KEYS


def redact_query(query: str) -> str:
    """A raw query string with each sensitive value replaced by ``REDACTED``, keys kept.

    The rest of the query is kept byte for byte (no re-encoding), so ``q=a%20b&sig=x`` becomes
    ``q=a%20b&sig=REDACTED``.
    """
    if not query:
        return query
    pairs = query.split("&")
    changed = False
    for index, pair in enumerate(pairs):
        key, sep, _value = pair.partition("=")
        if sep and is_sensitive_key(unquote_plus(key)):
            pairs[index] = f"{key}={REDACTED}"
            changed = True
    return "&".join(pairs) if changed else query


def redact_url(url: str) -> str:
    """A URL with its userinfo as ``REDACTED:REDACTED@`` and sensitive query values redacted."""
    text = _USERINFO.sub(_userinfo_replacement, url)
    head, mark, rest = text.partition("?")
    if not mark:
        return text
    query, hash_mark, fragment = rest.partition("#")
    return head + mark + redact_query(query) + hash_mark + fragment


def _userinfo_replacement(match: re.Match[str]) -> str:
    userinfo = match.group("userinfo")
    if not userinfo.replace(REDACTED, "").strip("*:"):
        return match.group()  # already masked (``***@``, ``REDACTED:REDACTED@``)
    user_only = ":" not in userinfo
    return match.group("scheme") + (f"{REDACTED}@" if user_only else f"{REDACTED}:{REDACTED}@")


def _query_replacement(match: re.Match[str]) -> str:
    if is_sensitive_key(unquote_plus(match.group("key"))):
        return match.group("lead") + REDACTED
    return match.group()


def redact_text(text: str) -> str:
    """Free text (a log message, an error, a repr) with every secret shape and value masked."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    text = _USERINFO.sub(_userinfo_replacement, text)
    text = _BARE_USERINFO.sub(f"{REDACTED}:{REDACTED}@", text)
    return _QUERY_PAIR.sub(_query_replacement, text)


def reason_of(reason: str, secret: bool) -> str:
    """Why a value was rejected, for an error message. A parser's reason may quote the value
    (``entry 1 ('Authorization abc') is not key=value``): for a secret setting every quoted
    part of 4 characters or more becomes ``'***'`` (a shorter one names punctuation the value
    must not contain, such as ``'='``); any other reason still loses its URL credentials."""
    if secret:
        return _QUOTED.sub(_masked_quote, reason)
    return redact_text(reason)


def _masked_quote(match: re.Match[str]) -> str:
    quoted = match.group(0)
    return quoted if len(quoted) - 2 < _MIN_REGISTERED else "'***'"


def register(values: Iterable[str], *, replace: bool = False) -> None:
    """Remember secrets so that ``redact_text`` masks them wherever they appear.

    ``replace``: forget the previous ones (a new configuration's secrets are the ones its
    exporters can log). At most ``_MAX_REGISTERED`` forms are kept, the newest.
    """
    global _pattern
    fresh = [
        form
        for value in values
        for form in (value, unquote(value), unquote_plus(value))
        if len(form) >= _MIN_REGISTERED
    ]
    with _lock:
        if replace:
            _registered.clear()
        for form in fresh:
            _registered.pop(form, None)
            _registered[form] = None  # newest last
        while len(_registered) > _MAX_REGISTERED:
            del _registered[next(iter(_registered))]
        ordered = sorted(_registered, key=len, reverse=True)  # the longest form wins
        _pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None


def secrets_of_url(url: str) -> list[str]:
    """The parts of a configured URL that are credentials: its userinfo and the values of its
    sensitive query keys (``is_sensitive_key``). Other query values (``format=json``) are not:
    registered, they would be masked in every line that happens to contain them."""
    try:
        parts = urlsplit(url)
        found = [parts.username or "", parts.password or ""]
    except ValueError:
        return []
    userinfo = parts.netloc.rpartition("@")[0]
    found.extend(userinfo.split(":", 1))
    for pair in parts.query.split("&"):
        key, sep, value = pair.partition("=")
        if sep and is_sensitive_key(unquote_plus(key)):
            found.append(value)
    return [value for value in found if value]


def secret_forms(value: str) -> list[str]:
    """A configured secret and the shapes in which a message may quote it: as given, without
    its scheme (``hooks.example/T0/B1/xyz``), its path and query alone, and each value of a
    ``key=value,key=value`` list (a raw ``OTEL_EXPORTER_OTLP_HEADERS``)."""
    forms = [value]
    scheme, sep, rest = value.partition("://")
    if sep and scheme.isalpha():
        forms.append(rest)
        slash = rest.find("/")
        if slash > 0 and len(rest) - slash > 1:
            forms.append(rest[slash:])
    if "=" in value:
        forms.extend(item.partition("=")[2].strip() for item in value.split(","))
    return [form for form in forms if form]


def secrets_in(value: object, depth: int = 0) -> Iterable[str]:
    """Every credential in a settings value: ``Secret`` values (in the shapes of
    ``secret_forms``), and the userinfo and sensitive query values of configured URLs."""
    if depth > 4:
        return
    if isinstance(value, Secret):
        yield from secret_forms(value.value)
    elif isinstance(value, str):
        if "@" in value or "?" in value:
            yield from secrets_of_url(value)
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from secrets_in(item, depth + 1)
    elif isinstance(value, (tuple, list, frozenset, set)):
        for item in value:
            yield from secrets_in(item, depth + 1)
    elif hasattr(value, "__dataclass_fields__"):
        for name in value.__dataclass_fields__:
            yield from secrets_in(getattr(value, name, None), depth + 1)


class SecretUrl(str):
    """A configured URL that is itself (``str``) everywhere but in a repr: there it is redacted,
    so a settings object shown in a log line or a traceback never holds its credentials."""

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(redact_url(str(self)))


def secret_url(value: object) -> SecretUrl:
    """The ``url`` parser, for a URL that may carry credentials (an OTLP endpoint)."""
    return SecretUrl(parse_url(value))


# --- logging ---------------------------------------------------------------------------------

PROTECTED_LOGGERS = (
    "otelkit",
    "opentelemetry.exporter.otlp.common.http",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.metric_exporter",
    "opentelemetry.exporter.otlp.proto.http._log_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "opentelemetry.exporter.otlp.proto.grpc.metric_exporter",
    "opentelemetry.exporter.otlp.proto.grpc._log_exporter",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.trace.export",
    "opentelemetry.sdk.metrics._internal.export",
    "opentelemetry.sdk._logs._internal.export",
    "urllib3.connectionpool",
    "urllib3.connection",
    "urllib3.util.retry",
    "grpc._channel",
    "grpc._common",
)
"""Loggers whose records can quote an endpoint or a request URL (a logger's filters see only
its own records, not its children's, hence the full names); loggers that already exist under
these prefixes at ``protect()`` time get the filter too."""
_PREFIXES = ("otelkit", "opentelemetry.exporter", "opentelemetry.sdk", "urllib3", "grpc")
BAGGAGE_LOGGER = "opentelemetry.baggage.propagation"
"""The W3C baggage propagator quotes a rejected header or entry: a client's content."""


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message and traceback; never drops a record, never raises."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
            clean = redact_text(message)
            if clean != message:
                record.msg, record.args = clean, None
            if record.exc_info and record.exc_info[1] is not None:
                text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
                clean = redact_text(text)
                if clean != text:  # handlers format exc_info themselves: give them text only
                    record.exc_info, record.exc_text = None, clean
            elif record.exc_text:
                record.exc_text = redact_text(record.exc_text)
        except Exception:  # a filter that raises loses the record
            pass
        return True


class WithheldContentFilter(logging.Filter):
    """Replaces every text argument of a record by its length: the content is a client's."""

    def filter(self, record: logging.LogRecord) -> bool:
        args: Any = record.args
        if isinstance(args, tuple) and any(isinstance(a, str) for a in args):
            record.args = tuple(
                f"<{len(a)} characters withheld>" if isinstance(a, str) else a for a in args
            )
        return True


def _ensure(name: str, kind: type[logging.Filter]) -> None:
    target = logging.getLogger(name)
    if not any(isinstance(f, kind) for f in target.filters):
        target.addFilter(kind())


def protect(settings: object = None) -> None:
    """Register the configuration's secrets and put the filters on the loggers (idempotent)."""
    if settings is not None:
        register(secrets_in(settings), replace=True)
    names = set(PROTECTED_LOGGERS)
    names.update(
        name
        for name in list(logging.Logger.manager.loggerDict)
        if name.startswith(_PREFIXES) and name != BAGGAGE_LOGGER
    )
    for name in sorted(names):
        _ensure(name, RedactingFilter)
    _ensure(BAGGAGE_LOGGER, WithheldContentFilter)
