"""The pytest plugin: the ``telemetry`` fixture and the ``otelkit`` marker.

Registered under the ``pytest11`` entry point, so every suite where otelkit is installed has the
fixture without a conftest. It costs nothing until a test asks for it: this module imports only
pytest, and the SDK is loaded when the fixture first runs. Each process of a pytest-xdist run
has its own configurations, so it needs nothing more there.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from otelkit.testing._capture import CapturedTelemetry

SERVICE_NAME = "pytest"
DEFAULTS: dict[str, Any] = {
    "exporters": "memory",
    "instrument": "none",
    "system_metrics": False,
    "alerts": False,
    "sdk_disabled": False,
    "traces_sampler": "always_on",
}
"""Every signal in memory, every span sampled, and nothing started that the test did not ask
for: no automatic instrumentation (the application instruments itself, as in production), no
system metrics, no alerting thread."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "otelkit(**options): init_telemetry() keywords for the telemetry fixture of this test",
    )


@pytest.fixture
def telemetry(request: pytest.FixtureRequest) -> Iterator[CapturedTelemetry]:
    """Fresh in-memory telemetry for this test, read with ``telemetry.counter(name)``,
    ``.histogram(name)``, ``.spans()``, ``.logs()`` and ``.assert_no_secret()``.

    A configuration the application started (``init_telemetry()`` at import) is set aside for
    the test and put back afterwards. ``@pytest.mark.otelkit(**options)`` passes more
    ``init_telemetry()`` keywords (``service_name``, ``http_buckets``, ...).
    """
    from otelkit import init_telemetry
    from otelkit.testing._capture import CapturedTelemetry
    from otelkit.testing._swap import SetAside

    options: dict[str, Any] = {"service_name": SERVICE_NAME, **DEFAULTS}
    for marker in reversed(list(request.node.iter_markers("otelkit"))):
        options.update(marker.kwargs)
    aside = SetAside()
    quiet = _OnceGlobal()
    logging.getLogger("otelkit").addFilter(quiet)
    try:
        handle = init_telemetry(**options)
    except BaseException:
        aside.restore()
        raise
    finally:
        logging.getLogger("otelkit").removeFilter(quiet)
    try:
        yield CapturedTelemetry(handle)
    finally:
        handle.shutdown(timeout=5)
        aside.restore()


class _OnceGlobal(logging.Filter):
    """Drops the warning that the OpenTelemetry globals stay on the first configuration: true
    for every test after the first, and said once in the fixture's documentation instead."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "global providers can be set once" not in record.getMessage()
