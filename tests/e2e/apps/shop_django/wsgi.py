"""WSGI entry point: gunicorn calls ``create_app()`` in its worker, after the fork."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import otelkit

if TYPE_CHECKING:
    from django.core.handlers.wsgi import WSGIHandler


def create_app() -> WSGIHandler:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shop_django.settings")
    otelkit.init_telemetry()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()
