"""HTTP server instrumentation: ``instrument_app`` and automatic patching (``_app``), the lean
ASGI and WSGI middlewares and Django's, the per-request recording they share (``_common``), and
contrib's middlewares as an alternative (``contrib``)."""
