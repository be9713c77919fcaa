"""The whole shop as ``otelkit dashboard --app shop_site:app`` sees it: the web app, which
publishes to the Celery tasks. Importing it loads FastAPI, SQLAlchemy and Celery, and declares
the business metrics of both."""

from __future__ import annotations

import shop_tasks  # noqa: F401  (the tasks the site publishes)
from ops_shop import app

__all__ = ["app"]
