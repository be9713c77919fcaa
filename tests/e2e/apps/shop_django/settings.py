"""Settings of the shop project: otelkit's middleware first, as its documentation says."""

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
SECRET_KEY = "e2e-tests-only"
ROOT_URLCONF = "shop_django.urls"
MIDDLEWARE = ["otelkit.instrumentation.http.django.Middleware"]
INSTALLED_APPS: list[str] = []
DATABASES: dict[str, object] = {}
USE_TZ = True
