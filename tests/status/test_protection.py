"""The status page is as protected as ``/metrics``: loopback, the bearer token, no secrets.

A real listener in this process (``init_telemetry`` with a free port and a token), the
mountable ASGI and WSGI apps, and the page in headless Chromium asking for the token.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import httpx
import pytest
import requests

import otelkit
from otelkit.status import _document
from tests.fixtures.servers import call_wsgi, free_port, wait_until

pytestmark = pytest.mark.integration

TOKEN = "s3cret-Token_42"


@pytest.fixture
def listener() -> str:
    """The metrics listener of a configuration with a token; its base URL."""
    port = free_port()
    otelkit.init_telemetry("guarded-shop", prometheus_port=port, prometheus_token=TOKEN)
    return f"http://127.0.0.1:{port}"


def test_the_figures_need_the_token(listener: str) -> None:
    missing = requests.get(f"{listener}/status.json", timeout=10)
    wrong = requests.get(
        f"{listener}/status.json", headers={"Authorization": "Bearer nope"}, timeout=10
    )
    in_query = requests.get(f"{listener}/status.json?token={TOKEN}", timeout=10)
    for refused in (missing, wrong, in_query):
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    granted = requests.get(
        f"{listener}/status.json", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    )
    assert granted.status_code == 200
    assert granted.json()["version"] == 1
    assert granted.json()["service"]["name"] == "guarded-shop"


def test_the_page_holds_no_data_and_no_secret(listener: str) -> None:
    page = requests.get(f"{listener}/status?probe=leaky-value", timeout=10)
    assert page.status_code == 200  # the shell: it asks for the token itself
    assert page.headers["Content-Type"].startswith("text/html")
    assert "guarded-shop" not in page.text
    figures = requests.get(
        f"{listener}/status.json?probe=leaky-value",
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    for body in (page.text, figures.text):
        assert TOKEN not in body
        assert "leaky-value" not in body
        assert "http://" not in body.replace('"http://www.w3.org', "")


def test_the_listener_binds_loopback_by_default(listener: str) -> None:
    """From another local address (this host's outward one) the port is closed."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))  # no packet sent: only picks the outward address
        outward = probe.getsockname()[0]
    if outward.startswith("127."):
        pytest.skip("this host has no address but loopback")
    port = int(listener.rsplit(":", 1)[1])
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{outward}:{port}/status.json", timeout=5)


def asgi_get(app: Any, path: str, token: str | None = None) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.get(path, headers=headers)

    return asyncio.run(run())


def test_the_mounted_apps_follow_the_same_rules(listener: str) -> None:
    from fastapi import FastAPI

    app = FastAPI()
    app.mount("/ops", otelkit.status_app())
    otelkit.instrument_app(app)
    page = asgi_get(app, "/ops")
    assert page.status_code == 200
    assert 'content="/ops/status.json"' in page.text
    assert asgi_get(app, "/ops/status.json").status_code == 401
    figures = asgi_get(app, "/ops/status.json", TOKEN)
    assert figures.status_code == 200
    assert figures.json()["version"] == 1
    assert asgi_get(app, "/ops/elsewhere").status_code == 404
    time.sleep(_document.CACHE_SECONDS + 0.1)  # a document built after those requests
    later = asgi_get(app, "/ops/status.json", TOKEN).json()
    assert later["routes"] == []  # the page's own requests are not application traffic

    wrapped = otelkit.status_wsgi(lambda environ, start: [b"the app"], path="/health/status")
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        captured["status"] = status

    environ = {"PATH_INFO": "/health/status.json", "REQUEST_METHOD": "GET"}
    body = call_wsgi(wrapped, {**environ, "HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}, start_response)
    assert captured["status"] == "200 OK"
    assert json.loads(body)["version"] == 1
    call_wsgi(wrapped, environ, start_response)
    assert captured["status"] == "401 Unauthorized"
    assert call_wsgi(wrapped, {**environ, "PATH_INFO": "/orders"}, start_response) == b"the app"


def test_before_init_the_mounted_figures_answer_503() -> None:
    response = asgi_get(otelkit.status_app(), "/status.json")
    assert response.status_code == 503


def test_the_page_asks_for_the_token_then_shows_the_figures(listener: str, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{listener}/status")
    form = browser.find_element(By.ID, "login")
    wait_until(form.is_displayed, timeout=15, what="the page to ask for the token")
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.CSS_SELECTOR, "#login button").click()
    wait_until(
        lambda: browser.execute_script("return window.otelkitStatus.refreshes") >= 1,
        timeout=15,
        what="the page to show the figures",
    )
    assert not form.is_displayed()
    assert browser.find_element(By.ID, "service").text == "guarded-shop"
    # The 401 before the token is the only console error (Chromium logs refused fetches).
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert all("401" in e["message"] for e in errors)
