"""The output of the servers a test talked to is shown with its failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Generator


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Add a section per server (any fixture value with ``report_section()``) to a failure."""
    report = yield
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            section = getattr(value, "report_section", None)
            if callable(section):
                report.sections.append(section())
    return report
