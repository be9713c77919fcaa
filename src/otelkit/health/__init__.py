"""Health: the registry of readiness checks and its runner (``_registry``), the ``/healthz``
and ``/readyz`` endpoints (``_http``), and ready-made checks (``checks``)."""
