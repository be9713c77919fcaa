"""Health with only the core dependencies: the ASGI/WSGI apps work, helpers name what to install."""

from __future__ import annotations

import asyncio
import io
import json
import sys
from typing import Any

import pytest

from otelkit import ConfigError
from otelkit.health import checks as health_checks
from otelkit.health._http import health_app, health_blueprint, health_router, health_wsgi
from otelkit.health._registry import HEALTH, add_health_check

pytestmark = pytest.mark.core_only


def test_the_asgi_and_wsgi_apps_need_no_framework() -> None:
    async def cache() -> None:
        await asyncio.sleep(0)

    HEALTH.clear()
    add_health_check("cache", cache)
    try:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "GET", "path": "/readyz", "headers": []}
        asyncio.run(health_app()(scope, receive, send))
        assert sent[0]["status"] == 200
        assert json.loads(sent[1]["body"])["checks"]["cache"]["status"] == "pass"

        statuses: list[str] = []
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/healthz", "wsgi.input": io.BytesIO()}
        body = b"".join(health_wsgi()(environ, lambda status, headers: statuses.append(status)))
        assert (statuses, json.loads(body)) == (["200 OK"], {"status": "alive"})
    finally:
        HEALTH.clear()


@pytest.mark.parametrize(
    ("helper", "hint"),
    [
        (health_router, "pip install fastapi"),
        (health_blueprint, "pip install flask"),
        (lambda: health_checks.sqlalchemy(object()), r"pip install 'otelkit\[sqlalchemy\]'"),
        (lambda: health_checks.redis("redis://localhost"), "pip install redis"),
    ],
)
def test_helpers_name_the_package_they_need(helper: Any, hint: str) -> None:
    assert "fastapi" not in sys.modules
    with pytest.raises(ConfigError, match=hint):
        helper()
