"""Configuration: the settings table, its value parsers, and the errors they raise.

``_setting`` defines the declaration (``Setting``) and how one value is resolved; ``_core``
declares the general ``OTEL_*``/``OTELKIT_*`` variables otelkit reads and ``_alerting`` the
``OTELKIT_ALERT*`` ones; ``_settings`` composes both tables and builds the validated
``Settings``; ``_parse`` and ``_alerting_parsers`` turn strings into typed values (one duration
syntax for every duration); ``_environ`` warns about the environment as a whole (unknown
``OTELKIT_*`` and misspelt ``OTEL_*`` names, an OTLP timeout that was meant in seconds). Imports
run one way (``_settings`` → ``_core``/``_alerting``/``_environ`` → ``_setting`` → ``_parse``).
This is the bottom layer: it imports nothing else of otelkit.
"""
