"""How otelkit's own endpoints tell the HTTP instrumentation "this request is not app traffic".

Two marks, because they are known at different times (``instrumentation.http._mounts`` says
how the middlewares use each):

- ``ENDPOINT_KEY``: every endpoint app otelkit hands out (the metrics apps, the health apps,
  router and blueprint) sets it in the ASGI scope or WSGI environ of a request it answers.
  It works wherever the endpoint is, but is known only after the app ran.
- ``ENDPOINT_ATTRIBUTE``: carried by the endpoint apps that answer every path below where they
  are mounted (not by one that wraps an app of the user's) and by the health router's
  handlers, so that a middleware finds them in a Starlette routing table before a request runs.

The HTTP middlewares leave such requests out of the RED metrics and traces, wherever the
endpoint is mounted, without the user listing the path in ``OTELKIT_HTTP_EXCLUDED_URLS``. Here,
below both the exporters and the instrumentation, so that neither imports the other. The
health paths are read here too.
"""

from __future__ import annotations

from otelkit import _active

__all__ = ["ENDPOINT_ATTRIBUTE", "ENDPOINT_KEY", "LIVENESS", "READINESS", "health_paths"]

ENDPOINT_KEY = "otelkit.endpoint"
"""Scope / environ key: set (to the endpoint's kind) by an otelkit endpoint that answered."""
ENDPOINT_ATTRIBUTE = "_otelkit_endpoint"
"""Attribute of an otelkit endpoint app or route handler (its kind: ``"metrics"`` or
``"health"``)."""

LIVENESS = "/healthz"
READINESS = "/readyz"


def health_paths() -> tuple[str, str]:
    """The liveness and readiness paths of the running configuration (else the defaults)."""
    running = _active.current()
    if running is None:
        return LIVENESS, READINESS
    settings = running.settings
    return settings.health_liveness_path, settings.health_readiness_path
