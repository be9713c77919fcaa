"""Fixtures: a moto server on loopback (CloudWatch Logs), AWS test credentials, EMF checks."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import pytest

import otelkit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

REGION = "eu-west-1"
SCHEMA = json.loads((Path(__file__).parent / "emf_schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _InternalErrors(logging.Handler):
    """The WARNING otelkit logs when it swallows an error of its own (once per kind)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("otelkit: internal error"):
            self.messages.append(message)


@pytest.fixture(autouse=True)
def _no_internal_errors() -> Iterator[None]:
    """A test fails if otelkit swallowed an internal error meanwhile (the plugin tests use
    otelkit as an application does: such errors are logged on the ``otelkit`` logger)."""
    handler = _InternalErrors()
    logger = logging.getLogger("otelkit")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
    assert handler.messages == []


@pytest.fixture
def init() -> Iterator[Callable[..., otelkit.Telemetry]]:
    """``otelkit.init_telemetry``, keeping every handle the test starts: each is shut down at
    the end of the test, passed or failed (a configuration left running would be the one the
    next test's ``init_telemetry()`` returns)."""
    handles: list[otelkit.Telemetry] = []

    def start(*args: Any, **kwargs: Any) -> otelkit.Telemetry:
        handle = otelkit.init_telemetry(*args, **kwargs)
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        handle.shutdown(timeout=5)


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Test credentials only: never the developer's profile or an instance role."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_ROLE_ARN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDTESTTESTTEST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("OTELKIT_SYSTEM_METRICS", "off")
    monkeypatch.setenv("OTELKIT_INSTRUMENT", "none")
    monkeypatch.setenv("OTELKIT_ALERTS", "off")
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "600000")  # exports come from flushes


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """A moto server in this process; MOTO_TEST_URL points at an external one instead.

    (The external form checks the plugin against an older botocore than moto itself needs.)
    """
    external = os.environ.get("MOTO_TEST_URL")
    if external:
        yield external
        return
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def logs_client(moto_url: str, aws_env: None) -> Any:
    import botocore.session

    client = botocore.session.get_session().create_client(
        "logs", region_name=REGION, endpoint_url=moto_url
    )
    yield client
    client.close()


def read_events(client: Any, group: str, stream: str | None = None) -> list[dict[str, Any]]:
    """Every event of a log group (all streams), oldest first."""
    if stream:
        streams = [stream]
    else:
        described = client.describe_log_streams(logGroupName=group)["logStreams"]
        streams = [s["logStreamName"] for s in described]
    events: list[dict[str, Any]] = []
    for name in streams:
        token = None
        while True:
            kwargs: dict[str, Any] = {
                "logGroupName": group,
                "logStreamName": name,
                "startFromHead": True,
            }
            if token:
                kwargs["nextToken"] = token
            page = client.get_log_events(**kwargs)
            events.extend(page["events"])
            if not page["events"] or page.get("nextForwardToken") == token:
                break
            token = page["nextForwardToken"]
    return events


def check_emf(record: dict[str, Any]) -> None:
    """Schema-valid, and every name the metadata references is a member of the root node.

    The schema covers the structure; the specification's remaining rules are checked here:
    dimension members are strings, metric members are numbers, arrays of at most 100 numbers, or
    a Values/Counts or statistic-set object.
    """
    VALIDATOR.validate(record)
    for directive in record["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                assert isinstance(record.get(name), str), f"dimension {name!r} is not a string"
        for metric in directive["Metrics"]:
            value = record.get(metric["Name"])
            assert value is not None, f"metric {metric['Name']!r} has no value member"
            if isinstance(value, list):
                assert 0 < len(value) <= 100
                assert all(isinstance(v, (int, float)) for v in value)
            elif isinstance(value, dict):
                assert {"Max", "Min", "Count", "Sum"} <= set(value)
                if "Values" in value:
                    assert len(value["Values"]) == len(value["Counts"]) <= 100
                    assert sum(value["Counts"]) == value["Count"]
            else:
                assert isinstance(value, (int, float))
                assert not isinstance(value, bool)
