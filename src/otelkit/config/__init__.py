"""Configuration: the settings table, its value parsers, and the errors they raise.

``_settings`` declares every ``OTEL_*``/``OTELKIT_*`` variable otelkit reads (``Setting``) and
builds the validated ``Settings``; ``_alerting`` declares the ``OTELKIT_ALERT*`` ones; ``_parse``
and ``_alerting_parsers`` turn strings into typed values. This is the bottom layer: it imports
nothing else of otelkit.
"""
