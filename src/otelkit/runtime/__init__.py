"""The runtime: ``init_telemetry()``, the ``Telemetry`` handle, and what they assemble.

``_load`` reads the settings and finds the exporter plugins; ``_resource`` builds the resource;
``_pipeline`` the SDK providers, readers and processors; ``_integrations`` switches the
instrumentations on; ``_shutdown`` flushes at exit and on SIGTERM; ``_fork`` restarts a forked
child from zero. This is the top layer: it may import every feature, none imports it.
"""
