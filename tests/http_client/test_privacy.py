"""No query string and no userinfo ever reaches an attribute, a metric's or a span's."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import otelkit
from otelkit.testing import points, spans
from tests.http_client._clients import get

if TYPE_CHECKING:
    from tests.http_client.conftest import Loopback

# Distinctive values (a prefix no host, path or attribute of the test has), so that finding
# one anywhere is a leak, never a coincidence.
SECRET = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=6, max_size=16).map(
    lambda s: "zq" + s
)


def _everything_recorded(telemetry: otelkit.Telemetry) -> str:
    values = [
        str(value)
        for point in points(telemetry, "http.client.request.duration")
        for value in dict(point.attributes).values()
    ]
    for span in spans(telemetry):
        values.append(span.name)
        values.extend(str(value) for value in dict(span.attributes or {}).values())
    return "\n".join(values)


@pytest.mark.parametrize("library", ["httpx", "requests", "aiohttp"])
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    user=SECRET,
    password=SECRET,
    key=SECRET,
    value=SECRET,
    path=st.sampled_from(["/status/200", "/status/404", "/status/500"]),
)
def test_credentials_and_query_never_recorded(
    loopback: Loopback, library: str, user: str, password: str, key: str, value: str, path: str
) -> None:
    """A URL with ``user:password@`` and a query: the call goes out with both (the server sees
    the query), the path is recorded in ``url.full``, and none of the four values is anywhere
    in what otelkit recorded."""
    telemetry = otelkit.init_telemetry(
        "client-privacy", exporters="memory", instrument=library, http_client=True
    )
    try:
        url = f"http://{quote(user)}:{quote(password)}@127.0.0.1:{loopback.port}{path}"
        get(library, f"{url}?{key}={value}&token={value}")
        recorded = _everything_recorded(telemetry)
    finally:
        telemetry.shutdown()
    assert loopback.targets[-1] == f"{path}?{key}={value}&token={value}"  # it went out
    assert f"127.0.0.1:{loopback.port}{path}" in recorded  # what is recorded, is
    for secret in (user, password, key, value):
        assert secret not in recorded
