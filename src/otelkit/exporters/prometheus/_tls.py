"""Optional TLS for the ``/metrics`` listener: the two settings and the server context.

``OTELKIT_PROMETHEUS_TLS_CERT`` (a PEM certificate chain) and ``OTELKIT_PROMETHEUS_TLS_KEY``
(its PEM private key) turn the listener into an https one; both or neither. The files are read
once, at ``init_telemetry()``: a missing file, a key that does not match the certificate or an
unreadable PEM is a ``ConfigError`` naming the variable. TLS 1.2 is the floor.
"""

from __future__ import annotations

import ssl
from typing import Any

from otelkit._errors import ConfigError
from otelkit.config import _parse
from otelkit.config._settings import Setting

__all__ = ["SETTINGS", "server_context"]

SETTINGS: tuple[Setting[Any], ...] = (
    Setting(
        key="tls_cert",
        env="OTELKIT_PROMETHEUS_TLS_CERT",
        parse=_parse.optional_text,
        default=None,
        accepted="the path of a PEM certificate (chain)",
        doc="With `OTELKIT_PROMETHEUS_TLS_KEY`: the `/metrics` listener serves https.",
        keyword="prometheus_tls_cert",
    ),
    Setting(
        key="tls_key",
        env="OTELKIT_PROMETHEUS_TLS_KEY",
        parse=_parse.optional_text,
        default=None,
        accepted="the path of the PEM private key of `OTELKIT_PROMETHEUS_TLS_CERT`",
        doc="The private key of the listener's certificate.",
        keyword="prometheus_tls_key",
    ),
)


def server_context(
    cert: str | None, key: str | None, sources: tuple[str, str]
) -> ssl.SSLContext | None:
    """The listener's TLS context, or None for plain http; ``sources`` name the two settings."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        given, missing = (sources[0], sources[1]) if cert else (sources[1], sources[0])
        raise ConfigError(
            f"{given} is set but {missing} is not. Accepted: both (a PEM certificate and its "
            "private key) for https, or neither for http."
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except FileNotFoundError as exc:
        which = sources[0] if exc.filename in (None, cert) else sources[1]
        raise ConfigError(f"{which}: no such file ({exc.filename or cert!r}).") from None
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(
            f"{sources[0]}={cert!r} and {sources[1]}={key!r} are not valid: {exc}. Accepted: "
            "a PEM certificate and the PEM private key that matches it."
        ) from None
    return context
