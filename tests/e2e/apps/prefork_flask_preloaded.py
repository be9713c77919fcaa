"""prefork_flask built at import: under ``gunicorn --preload``, in the master before it forks.

``init_telemetry()`` runs once, in the master; the workers inherit the configuration.
"""

from __future__ import annotations

from prefork_flask import create_app

app = create_app()
