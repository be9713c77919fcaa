"""aiohttp's client: every request a ``ClientSession`` makes, through aiohttp's own tracing.

aiohttp announces each request to the ``TraceConfig`` objects of its session (start, end,
exception), with the request's headers still open for the trace context. Installing adds
otelkit's ``TraceConfig`` to every session created from then on (``ClientSession.__init__``
is wrapped); a session created before ``init_telemetry()`` is not measured. A request is one
call however many redirects aiohttp follows for it, and it ends when the final response's
headers are in. After ``uninstall()`` the sessions that still hold the ``TraceConfig`` record
nothing.
"""

from __future__ import annotations

from typing import Any

from otelkit.instrumentation.http_client._patch import Patch
from otelkit.instrumentation.http_client._record import Call, begin

__all__ = ["available", "install", "uninstall"]

_PATCHES: list[Patch] = []
_state: dict[str, Any] = {"config": None, "on": False}


def available() -> bool:
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return False
    return True


async def _on_start(session: Any, context: Any, params: Any) -> None:
    if not _state["on"]:
        return
    url = params.url
    call = begin(params.method, url.scheme, url.raw_host or "", url.explicit_port, url.path)
    if call is not None:
        call.inject(params.headers)
    context.otelkit_call = call


async def _on_end(session: Any, context: Any, params: Any) -> None:
    call: Call | None = getattr(context, "otelkit_call", None)
    if call is not None:
        call.end(params.response.status, None)


async def _on_exception(session: Any, context: Any, params: Any) -> None:
    call: Call | None = getattr(context, "otelkit_call", None)
    if call is not None:
        call.end(0, params.exception)


def _trace_config() -> Any:
    config = _state["config"]
    if config is None:
        import aiohttp

        config = aiohttp.TraceConfig()
        config.on_request_start.append(_on_start)
        config.on_request_end.append(_on_end)
        config.on_request_exception.append(_on_exception)
        _state["config"] = config
    return config


def _wrap(original: Any) -> Any:
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
        if _state["on"]:
            ours = _trace_config()
            given = list(kwargs.get("trace_configs") or ())
            if ours not in given:
                kwargs["trace_configs"] = [*given, ours]
        original(self, *args, **kwargs)

    return __init__


def install() -> bool:
    """Add otelkit's tracing to new sessions; False when aiohttp is not installed."""
    if not available():
        return False
    import aiohttp

    if not _PATCHES:
        _PATCHES.append(Patch(aiohttp.ClientSession, "__init__", _wrap))
    for patch in _PATCHES:
        patch.install()
    _state["on"] = True
    return True


def uninstall() -> None:
    _state["on"] = False
    for patch in _PATCHES:
        patch.uninstall()
