"""The pytest plugin, as a user's suite meets it: run in a pytester sandbox, no conftest.

Each test writes a small application and a test module beside it, runs pytest on them in a
subprocess (the plugin comes from otelkit's ``pytest11`` entry point, as in a user's project)
and reads the outcome: the assertions users write pass when the telemetry is right and fail
with a message that shows what was recorded.
"""

from __future__ import annotations

import importlib.util

import pytest

pytest_plugins = ["pytester"]

# A FastAPI shop. ``{init}`` is what the module does about telemetry at import.
SHOP = """
import logging

from fastapi import FastAPI

import otelkit

{init}
app = FastAPI()
otelkit.instrument_app(app)
log = logging.getLogger("shop")


@otelkit.traced("checkout")
def checkout(tier: str, card: str) -> None:
    otelkit.count("orders.placed", tier=tier)
    log.warning("order placed for tier %s", tier)


@app.get("/items/{{item_id}}")
def item(item_id: int) -> dict[str, int]:
    return {{"item_id": item_id}}


@app.post("/checkout")
def post_checkout(tier: str = "gold") -> dict[str, str]:
    checkout(tier, card="4111-1111-1111-1111")
    return {{"status": "ok"}}
"""
INITS = {
    "init at import": 'otelkit.init_telemetry("shop", prometheus_port=0)',
    "no init": "",
}

USER_TESTS = """
from fastapi.testclient import TestClient

from shop import app


def test_orders_and_requests(telemetry):
    client = TestClient(app)
    for _ in range(3):
        client.post("/checkout", params={"tier": "gold"})
    client.post("/checkout", params={"tier": "silver"})
    client.get("/items/1")
    client.get("/items/2")

    assert telemetry.counter("orders.placed").value(tier="gold") == 3
    assert telemetry.counter("orders.placed").value() == 4
    duration = telemetry.histogram("http.server.request.duration")
    assert duration.count(http_route="/items/{item_id}") == 2
    assert duration.count(http_route="/checkout", http_request_method="POST") == 4
    assert 0 < duration.sum(http_route="/items/{item_id}") < 5
    assert len(telemetry.spans(name="checkout")) == 4
    assert len(telemetry.logs("order placed", level="WARNING")) == 4
    telemetry.assert_no_secret("4111-1111-1111-1111")


def test_each_test_starts_from_zero(telemetry):
    assert telemetry.counter("orders.placed").value() == 0
    assert telemetry.spans() == []
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """pytest in a subprocess, as the user runs it (entry-point plugins, a clean process)."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


@pytest.mark.parametrize("init", INITS.values(), ids=INITS.keys())
def test_a_users_suite_passes(pytester: pytest.Pytester, init: str) -> None:
    """With or without init_telemetry() at import, the users' own assertions pass."""
    pytester.makepyfile(shop=SHOP.format(init=init), test_shop=USER_TESTS)
    result = run(pytester)
    result.assert_outcomes(passed=2)


FAILING_TESTS = """
from fastapi.testclient import TestClient

from shop import app


def test_wrong_count(telemetry):
    TestClient(app).post("/checkout", params={"tier": "gold"})
    assert telemetry.counter("orders.placed").value(tier="gold") == 5


def test_wrong_kind(telemetry):
    TestClient(app).get("/items/1")
    telemetry.counter("http.server.request.duration")


def test_misspelt_metric(telemetry):
    TestClient(app).get("/items/1")
    assert telemetry.counter("order.placed").value() == 1


def test_secret_in_a_log(telemetry):
    import logging
    logging.getLogger("shop").warning("password is s3cr3t")
    telemetry.assert_no_secret("s3cr3t")
"""


def test_failures_show_what_was_recorded(pytester: pytest.Pytester) -> None:
    """A failing assertion shows the recorded series, the metric's real kind, the metrics that
    exist, and where a secret was found, without printing the secret."""
    pytester.makepyfile(shop=SHOP.format(init=""), test_shop=FAILING_TESTS)
    result = run(pytester)
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "*assert 1 == 5*",
            "*<counter 'orders.placed': {tier='gold'}: 1>*",
            "*'http.server.request.duration' is a histogram, not a counter: "
            "read it with telemetry.histogram('http.server.request.duration')*",
            "*<counter 'order.placed': nothing recorded (metrics recorded: *http.server.request"
            ".duration*)>*",
            "*the secret (6 characters) was recorded in:*",
            "*log record 1 (WARNING) body*",
        ]
    )
    message = [
        line
        for line in result.outlines
        if line.startswith("E ") and ("recorded in" in line or "log record" in line)
    ]
    assert message
    assert not any("s3cr3t" in line for line in message)


SECRETS_TESTS = """
import logging

import otelkit


def test_every_place_is_searched(telemetry):
    secret = {"user.password": "hunter2"}
    with telemetry.tracer.start_as_current_span("login", attributes=secret) as span:
        span.add_event("retry", {"token": "xx-hunter2-xx"})
    otelkit.count("logins", method="hunter2")
    logging.getLogger("app").warning("ok", extra={"detail": "fine"})
    telemetry.assert_no_secret("hunter2")


@otelkit_marker
def test_the_resource_is_searched(telemetry):
    telemetry.assert_no_secret("hunter2")


def test_a_clean_run_passes(telemetry):
    otelkit.count("logins", method="password")
    telemetry.assert_no_secret("hunter2")
"""


def test_assert_no_secret_searches_spans_metrics_logs_and_resources(
    pytester: pytest.Pytester,
) -> None:
    """Span attributes and events, metric attributes and the resource are searched."""
    marker = '@__import__("pytest").mark.otelkit(resource_attributes={"team": "hunter2"})'
    pytester.makepyfile(test_secrets=SECRETS_TESTS.replace("@otelkit_marker", marker))
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*span 'login' attribute 'user.password'*",
            "*span 'login' event 'retry' attribute 'token'*",
            "*metric 'logins' attribute 'method'*",
            "*resource attribute 'team'*",
        ]
    )


RESTORE_TESTS = """
import otelkit
from otelkit import _active, testing

from shop import app, telemetry as app_telemetry
from fastapi.testclient import TestClient


def test_1_with_the_fixture(telemetry):
    assert _active.current() is telemetry.handle
    TestClient(app).post("/checkout")
    assert telemetry.counter("orders.placed").value() == 1


def test_2_the_app_configuration_is_back():
    assert _active.current() is app_telemetry
    TestClient(app).post("/checkout")
    TestClient(app).post("/checkout")
    [point] = testing.points(app_telemetry, "orders.placed")
    assert point.value == 2  # recorded into the application's configuration again


def test_3_and_again(telemetry):
    assert telemetry.counter("orders.placed").value() == 0
"""


def test_the_applications_configuration_is_put_back(pytester: pytest.Pytester) -> None:
    """An application's own configuration is set aside during a test and records again after."""
    init = 'telemetry = otelkit.init_telemetry("shop", exporters="memory", instrument="none")'
    pytester.makepyfile(shop=SHOP.format(init=init), test_shop=RESTORE_TESTS)
    result = run(pytester, "-p", "no:randomly")
    result.assert_outcomes(passed=3)


UNUSED_TESTS = """
import sys


def test_nothing_heavy_is_loaded():
    loaded = [m for m in ("opentelemetry.sdk", "otelkit.runtime", "fastapi") if m in sys.modules]
    assert loaded == []
"""


def test_a_suite_without_the_fixture_loads_nothing(pytester: pytest.Pytester) -> None:
    """The plugin is active (its marker is known) but imports no SDK until a test asks."""
    pytester.makepyfile(test_plain=UNUSED_TESTS)
    result = run(pytester, "--strict-markers", "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.otelkit(**options)*"])
    run(pytester).assert_outcomes(passed=1)


XDIST_TESTS = """
import pytest
from fastapi.testclient import TestClient

from shop import app


@pytest.mark.parametrize("n", range(8))
def test_counts_are_per_test(telemetry, n):
    for _ in range(n):
        TestClient(app).post("/checkout", params={"tier": "gold"})
    assert telemetry.counter("orders.placed").value(tier="gold") == n
    assert len(telemetry.spans(name="checkout")) == n
"""


@pytest.mark.skipif(importlib.util.find_spec("xdist") is None, reason="pytest-xdist is missing")
@pytest.mark.parametrize("init", INITS.values(), ids=INITS.keys())
def test_under_xdist(pytester: pytest.Pytester, init: str) -> None:
    """Under pytest-xdist (two workers), every test still sees only its own telemetry."""
    pytester.makepyfile(shop=SHOP.format(init=init), test_shop=XDIST_TESTS)
    result = run(pytester, "-p", "xdist", "-n", "2")
    result.assert_outcomes(passed=8)
    result.stdout.fnmatch_lines(["*2 workers*"])
