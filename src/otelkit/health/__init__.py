"""Health: the readiness checks and the endpoints that report them.

- ``_check``: ``HealthCheck``, one registered check, and the validation of its registration;
- ``_registry``: the process-wide registry, its status sources and its 1 s cache;
- ``_runner``: the concurrent runner with per-check timeouts;
- ``_loop``: which event loop runs an async check;
- ``_report``: ``CheckResult`` and ``HealthReport``, what a run reports;
- ``_gauge``: the health metrics (each check's status and latency, the overall status);
- ``_http``: the ``/healthz`` and ``/readyz`` endpoints (their paths are settings);
- ``_mark``: how otelkit's endpoints mark their requests so the HTTP metrics leave them out;
- ``checks``: ready-made checks.
"""
