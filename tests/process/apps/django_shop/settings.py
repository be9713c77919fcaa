"""Settings that configure otelkit, as a project's settings module may."""

import logging

import otelkit

logging.basicConfig(level=logging.INFO)
otelkit.init_telemetry(service_name="shop")

SECRET_KEY = "process-model-tests"  # a test project
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "django_shop.urls"
INSTALLED_APPS: list[str] = []
MIDDLEWARE = ["otelkit.instrumentation.http.django.Middleware"]
DATABASES: dict[str, object] = {}
USE_TZ = True
