"""Fixtures: ``ingestion``, a loopback Application Insights endpoint (see ``_ingestion``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from _ingestion import Ingestion, serve

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def ingestion() -> Iterator[Ingestion]:
    with serve() as state:
        yield state
