"""HTTP server instrumentation: ``instrument_app`` and automatic patching (``_app``), the lean
ASGI and WSGI middlewares and Django's, the per-request recording they share (``_common``),
what of a request's URL is safe to record, for them and contrib's (``_url``),
where otelkit's own endpoints are mounted in a Starlette app (``_mounts``), and contrib's
middlewares as an alternative (``contrib``)."""
